"""The check-in API over HTTP: lists, scans and their answers, undo, door devices (what they may and may not do,
revocation), status, search, the offline copy's ETag, the live stream, and one admission under 50 racing
requests."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import segno
from sqlalchemy import select

from boxoffice.checkin.models import CheckinList
from boxoffice.notifications.codes import ticket_code
from tests.checkin.conftest import sell, set_code_version
from tests.web.api.conftest import Api
from tests.web.api.test_api import codes, event_body, new_event, new_ticket, problem


class Door:
    """An event (created through the API), a ticket type, a confirmed order of ``n`` tickets, the default list."""

    def __init__(self, api: Api, event_id: str, ticket_type: dict[str, Any], tickets: list[str], list_id: str):
        self.api, self.event_id, self.ticket_type, self.tickets, self.list_id = (
            api,
            event_id,
            ticket_type,
            tickets,
            list_id,
        )

    def code(self, i: int = 0, version: int = 0) -> str:
        return ticket_code(self.tickets[i], version, self.api.srv.box.settings.secret_bytes)

    async def scan(self, body: dict[str, Any] | None = None, *, key: str | None = None, **kw: Any) -> httpx.Response:
        list_id = kw.pop("list_id", self.list_id)
        payload = body if body is not None else {"code": self.code(kw.pop("i", 0)), **kw}
        return await self.api.srv.client.post(
            f"/api/v1/checkin-lists/{list_id}/scans", json=payload, headers=self.api.auth(key)
        )


async def door(api: Api, n: int = 3, name: str = "Mary Jackson") -> Door:
    event_id = await new_event(api)
    tt = await new_ticket(api, event_id, quantity=max(n, 10))
    _, tickets = await sell(api.srv.box.db, event_id, tt["id"], n, name=name)
    r = await api.srv.client.get(f"/api/v1/events/{event_id}/checkin-lists", headers=api.auth())
    assert r.status_code == 200, r.text
    (default,) = r.json()
    assert (default["name"], default["is_default"], default["all_ticket_types"]) == ("Entrance", True, True)
    return Door(api, event_id, tt, [t.id for t in tickets], default["id"])


async def pair(api: Api, event_id: str, **body: Any) -> dict[str, Any]:
    r = await api.srv.client.post(
        f"/api/v1/events/{event_id}/devices", json={"label": "Door 1", **body}, headers=api.auth()
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def test_an_event_created_through_the_api_has_its_default_list(api: Api) -> None:
    c = api.srv.client
    r = await c.post("/api/v1/events", json=event_body(), headers=api.auth())
    async with api.srv.box.db.read() as session:
        lists = (await session.scalars(select(CheckinList).where(CheckinList.event_id == r.json()["id"]))).all()
    assert [(lst.name, lst.default_for_event) for lst in lists] == [("Entrance", r.json()["id"])]


async def test_list_crud_validation_and_other_organizers(api: Api) -> None:
    c, d = api.srv.client, await door(api)
    vip = await new_ticket(api, d.event_id, title="VIP")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    r = await c.post(
        f"/api/v1/events/{d.event_id}/checkin-lists",
        json={"name": "VIP door", "ticket_type_ids": [vip["id"]], "starts_at": start.isoformat()},
        headers=api.auth(),
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["all_ticket_types"], created["ticket_type_ids"], created["is_default"]) == (
        False,
        [vip["id"]],
        False,
    )
    assert datetime.fromisoformat(created["starts_at"]) == start
    url = f"/api/v1/checkin-lists/{created['id']}"
    assert (await c.get(url, headers=api.auth())).json() == created
    r = await c.patch(url, json={"ticket_type_ids": None, "starts_at": None, "name": "Side door"}, headers=api.auth())
    assert (r.json()["all_ticket_types"], r.json()["starts_at"], r.json()["name"]) == (True, None, "Side door")
    bad = problem(
        await c.post(
            f"/api/v1/events/{d.event_id}/checkin-lists",
            json={"name": "x", "ticket_type_ids": ["tt_nope"]},
            headers=api.auth(),
        ),
        422,
    )
    assert codes(bad) == {"ticket_type_ids[0]": "not_found"}
    bad = problem(await c.patch(url, json={"name": None}, headers=api.auth()), 422)
    assert "name" in codes(bad)
    problem(await c.post(f"/api/v1/events/{d.event_id}/checkin-lists", json={"name": " "}, headers=api.auth()), 422)
    # another organizer sees none of it
    problem(await c.get(url, headers=api.auth(api.other_key)), 404)
    problem(await c.get(f"/api/v1/events/{d.event_id}/checkin-lists", headers=api.auth(api.other_key)), 404)
    problem(await d.scan(key=api.other_key), 404)
    problem(await c.delete(url, headers=api.auth(api.other_key)), 404)
    assert (await c.delete(url, headers=api.auth())).status_code == 204
    problem(await c.get(url, headers=api.auth()), 404)
    problem(await c.delete(url, headers=api.auth()), 404)
    problem(await c.post(f"/api/v1/checkin-lists/{d.list_id}/scans", json={"code": d.code()}), 401)


async def test_scan_answers(api: Api) -> None:
    d = await door(api, name="Mary Jackson")
    r = await d.scan(device="North gate", nonce="n-1")
    assert r.status_code == 201, r.text
    ok = r.json()
    assert ok["result"] == "ok" and ok["device"] == "North gate" and not ok["replayed"]
    assert ok["ticket"] == {
        "id": d.tickets[0],
        "ticket_type_id": d.ticket_type["id"],
        "ticket_type": "GA",
        "holder_name": "Mary Jackson",
        "order_id": ok["ticket"]["order_id"],
    }
    replay = await d.scan(device="North gate", nonce="n-1")
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() | {"replayed": False} == ok
    refused = problem(await d.scan(device="South gate"), 409)
    assert (refused["result"], refused["errors"][0]["code"], refused["errors"][0]["field"]) == (
        "already_checked_in",
        "already_checked_in",
        "code",
    )
    assert refused["first_checkin"] == {
        "id": ok["checkin_id"],
        "checked_in_at": ok["checked_in_at"],
        "device": "North gate",
    }
    assert refused["ticket"]["holder_name"] == "Mary Jackson" and not refused["duplicate"]
    genuine = d.code(0)
    tampered = genuine[:-1] + ("B" if genuine.endswith("A") else "A")  # its last character changed, whatever it was
    invalid = problem(await d.scan({"code": tampered}), 422)
    assert (invalid["result"], codes(invalid)) == ("invalid", {"code": "invalid"})
    other = await door(api)
    invalid = problem(await d.scan({"code": other.code()}), 422)
    assert invalid["result"] == "invalid" and "ticket" not in invalid
    await set_code_version(api.srv.box.db, d.tickets[2], 1)  # handed to someone else: a new code
    replaced = problem(await d.scan({"code": d.code(2)}), 409)
    assert (replaced["result"], codes(replaced)) == ("replaced", {"code": "replaced"})
    assert (await d.scan({"code": d.code(2, version=1)})).status_code == 201
    # an offline upload of a ticket admitted meanwhile: recorded as a duplicate entry, and said so
    earlier = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    dup = problem(await d.scan(scanned_at=earlier, nonce="offline-b-1", device="Phone B"), 409)
    assert (dup["result"], dup["duplicate"], dup["first_checkin"]["id"]) == (
        "already_checked_in",
        True,
        ok["checkin_id"],
    )
    assert dup["checkin_id"] and dup["checkin_id"] != ok["checkin_id"]
    # by hand, by ticket id
    r = await d.scan({"ticket_id": d.tickets[1]})
    assert r.status_code == 201 and r.json()["ticket"]["id"] == d.tickets[1]
    assert codes(problem(await d.scan({"code": d.code(2), "ticket_id": d.tickets[2]}), 422)) == {
        "ticket_id": "conflict_with"
    }
    problem(await d.scan({}), 422)
    problem(await d.scan({"code": d.code(2), "scanned_at": "2027-01-01T19:00:00"}), 422)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert codes(problem(await d.scan({"code": d.code(2), "scanned_at": future}), 422)) == {
        "scanned_at": "above_maximum"
    }
    assert codes(problem(await d.scan({"code": d.code(2), "nonce": "n-1"}), 422)) == {"nonce": "key_reused"}
    status = (await api.srv.client.get(f"/api/v1/checkin-lists/{d.list_id}/status", headers=api.auth())).json()
    assert status == {
        "list_id": d.list_id,
        "checked_in": 3,
        "duplicates": 1,
        "total": 3,
        "ticket_types": [{"id": d.ticket_type["id"], "title": "GA", "checked_in": 3, "duplicates": 1, "total": 3}],
    }
    records = (
        await api.srv.client.get(f"/api/v1/checkin-lists/{d.list_id}/checkins?duplicate=true", headers=api.auth())
    ).json()
    assert [(r["id"], r["device"], r["duplicate"]) for r in records] == [(dup["checkin_id"], "Phone B", True)]


async def test_undo_through_the_api(api: Api) -> None:
    c, d = api.srv.client, await door(api)
    ok = (await d.scan()).json()
    problem(await c.delete(f"/api/v1/checkins/{ok['checkin_id']}", headers=api.auth(api.other_key)), 404)
    r = await c.delete(f"/api/v1/checkins/{ok['checkin_id']}", headers=api.auth())
    assert r.status_code == 200 and r.json()["id"] == ok["checkin_id"]
    problem(await c.delete(f"/api/v1/checkins/{ok['checkin_id']}", headers=api.auth()), 409)
    problem(await c.delete("/api/v1/checkins/ci_missing", headers=api.auth()), 404)
    assert (await d.scan()).status_code == 201


async def test_a_door_device_scans_its_list_and_nothing_else(api: Api) -> None:
    c, d = api.srv.client, await door(api)
    side = (
        await c.post(f"/api/v1/events/{d.event_id}/checkin-lists", json={"name": "Side"}, headers=api.auth())
    ).json()
    device = await pair(api, d.event_id, label="  Door   1 ")
    assert (device["label"], device["checkin_list_id"], device["revoked_at"]) == ("Door 1", d.list_id, None)
    token = device["token"]
    assert device["pairing_url"] == f"{api.srv.url}/door/#list={d.list_id}&token={token}"
    expected_qr = segno.make(device["pairing_url"], error="m", micro=False).svg_inline(
        scale=4, light="#fff", omitsize=True
    )
    assert device["pairing_qr_svg"] == expected_qr
    listed = (await c.get(f"/api/v1/events/{d.event_id}/devices", headers=api.auth())).json()
    assert [x["id"] for x in listed] == [device["id"]] and "token" not in listed[0]
    assert listed[0]["last_used_at"] is None and listed[0]["expires_at"] is None  # works until revoked

    r = await d.scan(key=token, device="ignored")
    assert r.status_code == 201 and r.json()["device"] == "Door 1"
    assert (await c.get(f"/api/v1/checkin-lists/{d.list_id}/status", headers=api.auth(token))).status_code == 200
    found = await c.get(f"/api/v1/checkin-lists/{d.list_id}/attendees?q=mary", headers=api.auth(token))
    assert [a["ticket_id"] for a in found.json()] == d.tickets
    assert (await c.get(f"/api/v1/checkin-lists/{d.list_id}/offline", headers=api.auth(token))).status_code == 200
    # not another list, not the organizer's business, not orders or refunds
    problem(await d.scan(key=token, list_id=side["id"]), 404)
    problem(await c.get(f"/api/v1/checkin-lists/{d.list_id}", headers=api.auth(token)), 403)
    problem(await c.get(f"/api/v1/checkin-lists/{d.list_id}/checkins", headers=api.auth(token)), 403)
    problem(await c.get(f"/api/v1/events/{d.event_id}/checkin-lists", headers=api.auth(token)), 403)
    problem(
        await c.post(f"/api/v1/events/{d.event_id}/checkin-lists", json={"name": "x"}, headers=api.auth(token)), 403
    )
    problem(await c.post(f"/api/v1/events/{d.event_id}/devices", json={"label": "x"}, headers=api.auth(token)), 403)
    problem(await c.delete(f"/api/v1/devices/{device['id']}", headers=api.auth(token)), 403)
    problem(await c.delete(f"/api/v1/checkins/{r.json()['checkin_id']}", headers=api.auth(token)), 403)
    problem(await c.get(f"/api/v1/events/{d.event_id}/orders", headers=api.auth(token)), 401)
    problem(await c.get(f"/api/v1/events/{d.event_id}", headers=api.auth(token)), 401)
    problem(
        await c.post(f"/api/v1/orders/{r.json()['ticket']['order_id']}/refunds", json={}, headers=api.auth(token)), 401
    )
    # revoked: refused at once
    problem(await c.delete(f"/api/v1/devices/{device['id']}", headers=api.auth(api.other_key)), 404)
    assert (await c.delete(f"/api/v1/devices/{device['id']}", headers=api.auth())).status_code == 204
    problem(await d.scan(key=token, i=1), 401)
    problem(await c.get(f"/api/v1/checkin-lists/{d.list_id}/offline", headers=api.auth(token)), 401)
    listed = (await c.get(f"/api/v1/events/{d.event_id}/devices", headers=api.auth())).json()
    assert listed[0]["revoked_at"] is not None and listed[0]["last_used_at"] is not None
    # a device for another list of the event; a list of another event is refused
    tablet = await pair(api, d.event_id, label="Tablet", checkin_list_id=side["id"])
    assert (await d.scan(key=tablet["token"], list_id=side["id"])).status_code == 201
    other = await door(api)
    bad = problem(
        await c.post(
            f"/api/v1/events/{d.event_id}/devices",
            json={"label": "x", "checkin_list_id": other.list_id},
            headers=api.auth(),
        ),
        422,
    )
    assert codes(bad) == {"checkin_list_id": "not_found"}


async def test_the_offline_copy_answers_304_until_something_changes(api: Api) -> None:
    c, d = api.srv.client, await door(api)
    url = f"/api/v1/checkin-lists/{d.list_id}/offline"
    r = await c.get(url, headers=api.auth())
    assert r.status_code == 200 and r.headers["etag"] == f'"{r.json()["version"]}"'
    copy = r.json()
    assert copy["list"]["id"] == d.list_id and copy["event"]["id"] == d.event_id and copy["device"] is None
    assert {t["id"] for t in copy["tickets"]} == set(d.tickets)
    assert not any(d.code(i) in r.text for i in range(3))
    etag = r.headers["etag"]
    same = await c.get(url, headers={**api.auth(), "If-None-Match": etag})
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etag)
    assert (await d.scan()).status_code == 201
    changed = await c.get(url, headers={**api.auth(), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    admitted = [t for t in changed.json()["tickets"] if t["checked_in_at"]]
    assert [t["id"] for t in admitted] == [d.tickets[0]]


async def test_the_live_stream_sends_counts_then_check_ins(api: Api) -> None:
    c, d = api.srv.client, await door(api)
    device = await pair(api, d.event_id)
    problem(await c.get(f"/api/v1/checkin-lists/{d.list_id}/stream"), 401)
    async with c.stream("GET", f"/api/v1/checkin-lists/{d.list_id}/stream", headers=api.auth(device["token"])) as s:
        assert s.headers["content-type"].startswith("text/event-stream")
        lines = s.aiter_lines()

        async def next_data() -> dict[str, Any]:
            async for line in lines:
                if line.startswith("data: "):
                    data: dict[str, Any] = json.loads(line[6:])
                    return data
            raise AssertionError("stream ended")

        snapshot = await asyncio.wait_for(next_data(), 10)
        assert (snapshot["type"], snapshot["checked_in"], snapshot["total"]) == ("checkin.status", 0, 3)
        ok = (await d.scan(device="Gate 9")).json()
        created = await asyncio.wait_for(next_data(), 10)
        assert (created["type"], created["checkin_id"], created["ticket_type_id"], created["device"]) == (
            "checkin.created",
            ok["checkin_id"],
            d.ticket_type["id"],
            "Gate 9",
        )
        counts = await asyncio.wait_for(next_data(), 10)  # the counts again, once check-ins have come in
        assert (counts["type"], counts["checked_in"], counts["total"]) == ("checkin.status", 1, 3)
        await c.delete(f"/api/v1/checkins/{ok['checkin_id']}", headers=api.auth())
        undone = await asyncio.wait_for(next_data(), 10)
        assert (undone["type"], undone["checkin_id"]) == ("checkin.undone", ok["checkin_id"])
        counts = await asyncio.wait_for(next_data(), 10)
        assert (counts["type"], counts["checked_in"]) == ("checkin.status", 0)


async def test_50_racing_requests_admit_once(api: Api) -> None:
    d = await door(api, n=1)
    answers = await asyncio.gather(*(d.scan(device=f"gate-{i}") for i in range(50)))
    assert Counter(r.status_code for r in answers) == {201: 1, 409: 49}
    (winner,) = [r.json() for r in answers if r.status_code == 201]
    assert {r.json()["first_checkin"]["id"] for r in answers if r.status_code == 409} == {winner["checkin_id"]}
