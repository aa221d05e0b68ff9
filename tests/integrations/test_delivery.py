"""Webhooks delivered by the running worker to a real local receiver: signed so that the README's function verifies
them, every event of every order in its order after the receiver was down for a while, each order's events waiting
behind its failing one, redelivery from the log, the secret rolled with both signatures during the overlap, and a
check-in at the door and a waiting-list offer going out as ``checkin.created`` and ``waiting_list.offered``."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from boxoffice.checkin import lists
from boxoffice.checkin.rules import Result, Scanner
from boxoffice.checkin.scan import ScanRequest, scan
from boxoffice.integrations.verify import WebhookSignatureError, verify_webhook
from boxoffice.notifications.codes import ticket_code
from boxoffice.ticketing import orders as lifecycle
from boxoffice.ticketing import waitlist, waitlist_offers
from boxoffice.ticketing.orders import list_tickets
from boxoffice.ticketing.reserve import reserve
from tests.helpers import eventually, make_event, make_ticket, order_request, unique_email
from tests.integrations.conftest import Hooks
from tests.integrations.receiver import Receiver


async def test_an_order_is_delivered_signed_and_verifies(hooks_on_both: Hooks, receiver: Receiver) -> None:
    hooks = hooks_on_both
    db = hooks.srv.box.db
    endpoint = await hooks.register(receiver.url, ["order.created", "order.confirmed"])
    secret = endpoint["secret"]
    assert secret.startswith("whsec_") and endpoint["enabled"] is True
    event = await make_event(db, organizer=hooks.organizer_email)
    free = await make_ticket(db, event.id, base_price_cents=0, title="Free entry")
    order = await reserve(db, order_request(event.id, (free.id, 2), name="Grace Hopper"))
    assert order.status == "confirmed"  # a free order: created and confirmed at once

    await eventually(lambda: _at_least(receiver, 2))
    events = [hit.verified(secret) for hit in receiver.hits]
    assert [e["type"] for e in events] == ["order.created", "order.confirmed"]
    for hit, sent in zip(receiver.hits, events, strict=True):
        assert sent["id"].startswith("evt_") and hit.headers["Boxoffice-Event-Id"] == sent["id"]
        assert hit.headers["Content-Type"] == "application/json"
        assert sent["object"] == "event" and sent["api_version"] == endpoint["api_version"]
        assert isinstance(sent["created"], int)
        assert sent["data"]["object"]["id"] == order.id and sent["data"]["object"]["event_id"] == event.id
    created, confirmed = (e["data"] for e in events)
    assert created["object"]["status"] == "pending" and "previous_status" not in created
    assert confirmed["object"]["status"] == "confirmed" and confirmed["previous_status"] == "pending"
    assert confirmed["object"]["name"] == "Grace Hopper" and confirmed["object"]["total_cents"] == 0
    assert [(line["ticket_type_id"], line["quantity"]) for line in confirmed["object"]["lines"]] == [(free.id, 2)]

    hit = receiver.hits[0]
    with pytest.raises(WebhookSignatureError):
        verify_webhook(hit.body, hit.signature, "whsec_not_the_secret")
    with pytest.raises(WebhookSignatureError):
        verify_webhook(hit.body.replace(b"pending", b"confirmed"), hit.signature, secret)
    with pytest.raises(WebhookSignatureError):
        verify_webhook(hit.body, hit.signature, secret, tolerance=300 - 10**9)  # a header older than the tolerance

    async def recorded() -> list[dict[str, Any]] | None:
        log = await hooks.deliveries(endpoint["id"])
        return log if all(d["status"] != "pending" for d in log) else None

    log = await eventually(recorded)
    assert sorted((d["event_type"], d["status"], d["attempts"], d["last_status_code"]) for d in log) == [
        ("order.confirmed", "delivered", 1, 200),
        ("order.created", "delivered", 1, 200),
    ]
    assert {d["event_id"] for d in log} == {e["id"] for e in events}
    assert all(d["delivered_at"] and d["last_attempt_at"] and d["next_attempt_at"] is None for d in log)


async def _at_least(receiver: Receiver, n: int) -> bool:
    return len(receiver.hits) >= n


async def test_a_receiver_down_for_a_while_gets_every_event_in_order(hooks: Hooks) -> None:
    db = hooks.srv.box.db
    down = Receiver()
    await down.start()
    await down.stop()  # its port is known, nothing listens on it: every attempt is refused
    endpoint = await hooks.register(down.url, ["order.created", "order.confirmed", "order.canceled"])
    event = await make_event(db, organizer=hooks.organizer_email)
    tt = await make_ticket(db, event.id, base_price_cents=2500, quantity=50)
    orders = [await reserve(db, order_request(event.id, (tt.id, 1))) for _ in range(4)]
    for order in orders[:2]:
        assert (await lifecycle.confirm_order(db, order.id)).changed
    for order in orders:
        assert (await lifecycle.cancel_order(db, order.id)).changed
    expected = {
        order.id: ["order.created", "order.confirmed", "order.canceled"]
        if i < 2
        else ["order.created", "order.canceled"]
        for i, order in enumerate(orders)
    }

    async def retried_while_down() -> list[dict[str, Any]] | None:
        log = await hooks.deliveries(endpoint["id"])
        heads = [d for d in log if d["event_type"] == "order.created"]
        if len(log) == 10 and len(heads) == 4 and all(d["attempts"] >= 2 for d in heads):
            return log
        return None

    log = await eventually(retried_while_down)
    for delivery in log:
        assert delivery["status"] == "pending"
        if delivery["event_type"] == "order.created":
            assert delivery["last_status_code"] is None and "ConnectError" in delivery["last_error"]
        else:
            assert delivery["attempts"] == 0  # waits behind its order's failing order.created

    up = Receiver(port=down.port)
    await up.start()
    try:

        async def all_arrived() -> bool:
            return len(up.first_arrivals()) == 10

        await eventually(all_arrived, timeout=30)
        arrivals: dict[str, list[str]] = defaultdict(list)
        for sent in up.first_arrivals():
            arrivals[sent["data"]["object"]["id"]].append(sent["type"])
        assert arrivals == expected
        assert all(hit.verified(endpoint["secret"]) for hit in up.hits)

        async def all_delivered() -> bool:
            return all(d["status"] == "delivered" for d in await hooks.deliveries(endpoint["id"]))

        await eventually(all_delivered)
    finally:
        await up.stop()


async def test_redelivery_sends_the_same_event_again(hooks: Hooks, receiver: Receiver) -> None:
    db = hooks.srv.box.db
    endpoint = await hooks.register(receiver.url, ["order.created"])
    event = await make_event(db, organizer=hooks.organizer_email)
    tt = await make_ticket(db, event.id)
    await reserve(db, order_request(event.id, (tt.id, 1)))
    await eventually(lambda: _at_least(receiver, 1))
    (delivery,) = await hooks.deliveries(endpoint["id"])

    async def delivered() -> bool:
        return bool((await hooks.deliveries(endpoint["id"]))[0]["status"] == "delivered")

    await eventually(delivered)
    url = f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}"
    r = await hooks.srv.client.post(f"{url}/redeliver", headers=hooks.auth)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending" and r.json()["event_id"] == delivery["event_id"]
    await eventually(lambda: _at_least(receiver, 2))
    first, again = receiver.hits
    assert first.body == again.body  # the same event, the same bytes
    assert again.verified(endpoint["secret"])["id"] == delivery["event_id"]
    assert again.headers["Boxoffice-Delivery-Attempt"] == "2"

    async def logged() -> dict[str, Any] | None:
        r = await hooks.srv.client.get(url, headers=hooks.auth)
        detail: dict[str, Any] = r.json()
        return detail if detail["status"] == "delivered" and len(detail["attempts_log"]) == 2 else None

    detail = await eventually(logged)
    assert [(a["attempt"], a["status_code"], a["error"]) for a in detail["attempts_log"]] == [
        (1, 200, None),
        (2, 200, None),
    ]
    assert detail["attempts_log"][0]["response_excerpt"] == "ok"
    assert detail["event"]["id"] == delivery["event_id"] and detail["event"]["type"] == "order.created"

    # a disabled endpoint takes no redelivery; another organizer sees none of it
    r = await hooks.srv.client.patch(
        f"/api/v1/webhook-endpoints/{endpoint['id']}", json={"enabled": False}, headers=hooks.auth
    )
    assert r.status_code == 200 and r.json()["disabled_reason"] == "organizer"
    r = await hooks.srv.client.post(f"{url}/redeliver", headers=hooks.auth)
    assert r.status_code == 409, r.text


async def test_a_rolled_secret_signs_beside_the_new_one_during_the_overlap(hooks: Hooks, receiver: Receiver) -> None:
    db = hooks.srv.box.db
    endpoint = await hooks.register(receiver.url, ["order.created"])
    old = endpoint["secret"]
    r = await hooks.srv.client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/roll-secret", headers=hooks.auth)
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new != old and new.startswith("whsec_") and r.json()["previous_secret_expires_at"]
    got = await hooks.srv.client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=hooks.auth)
    assert "secret" not in got.json()  # shown once, never again

    event = await make_event(db, organizer=hooks.organizer_email)
    tt = await make_ticket(db, event.id)
    await reserve(db, order_request(event.id, (tt.id, 1)))
    await eventually(lambda: _at_least(receiver, 1))
    hit = receiver.hits[0]
    assert hit.signature.count("v1=") == 2
    assert hit.verified(new)["id"] == hit.verified(old)["id"]

    # rolled with no overlap: only the newest signs
    r = await hooks.srv.client.post(
        f"/api/v1/webhook-endpoints/{endpoint['id']}/roll-secret", json={"previous_secret_hours": 0}, headers=hooks.auth
    )
    newest = r.json()["secret"]
    assert r.json()["previous_secret_expires_at"] is None
    await reserve(db, order_request(event.id, (tt.id, 1)))
    await eventually(lambda: _at_least(receiver, 2))
    last = receiver.hits[1]
    assert last.signature.count("v1=") == 1 and last.verified(newest)
    for stale in (old, new):
        with pytest.raises(WebhookSignatureError):
            last.verified(stale)


async def test_a_check_in_and_a_waiting_list_offer_go_out_as_their_webhook_types(
    hooks: Hooks, receiver: Receiver
) -> None:
    db, settings = hooks.srv.box.db, hooks.srv.box.settings
    endpoint = await hooks.register(receiver.url, ["checkin.created", "waiting_list.offered"])
    event = await make_event(db, organizer=hooks.organizer_email)

    free = await make_ticket(db, event.id, title="Free entry", base_price_cents=0, quantity=5)
    order = await reserve(db, order_request(event.id, (free.id, 1)))
    assert order.status == "confirmed"  # free: its order.* events are not subscribed, nothing is sent for them
    [ticket] = await list_tickets(db, order.id)
    organizer = Scanner(organizer_id=event.organizer_id, can_undo=True, can_manage=True)
    [entrance] = await lists.list_lists(db, event.id, organizer)
    code = ticket_code(ticket.id, ticket.code_version, settings.secret_bytes)
    admitted = await scan(db, entrance.id, ScanRequest(code, device="Door 1"), organizer, keys=(settings.secret_bytes,))
    assert admitted.result is Result.OK and admitted.checkin is not None

    paid = await make_ticket(db, event.id, title="Seat", base_price_cents=2500, quantity=1)
    holding = await reserve(db, order_request(event.id, (paid.id, 1)))  # the last seat, held while unpaid
    entry = await waitlist.join(
        db, event.id, email=unique_email("wait"), name="Wai Ting", ticket_type_id=paid.id, quantity=1
    )
    assert (await lifecycle.expire_order(db, holding.id, force=True)).changed  # the seat comes back for the list
    await waitlist_offers.hand_out(db, paid.id)  # (the worker's round may have made the offer already)
    offered = await waitlist.get_entry(db, entry.entry.id)
    assert offered.entry.status == "offered" and offered.entry.voucher_id

    await eventually(lambda: _at_least(receiver, 2))
    by_type = {sent["type"]: sent for sent in (hit.verified(endpoint["secret"]) for hit in receiver.hits)}
    assert set(by_type) == {"checkin.created", "waiting_list.offered"}
    checked_in = by_type["checkin.created"]["data"]["object"]
    assert (checked_in["checkin_id"], checked_in["ticket_id"], checked_in["event_id"]) == (
        admitted.checkin.id,
        ticket.id,
        event.id,
    )
    assert checked_in["list_id"] == entrance.id and checked_in["duplicate"] is False
    sent_bytes = b"".join(hit.body for hit in receiver.hits).decode()
    assert code not in sent_bytes  # no ticket code goes out
    offer = by_type["waiting_list.offered"]["data"]["object"]
    assert (offer["entry_id"], offer["event_id"], offer["email"], offer["voucher_id"]) == (
        entry.entry.id,
        event.id,
        entry.entry.email,
        offered.entry.voucher_id,
    )
    assert offered.code is not None and offered.code not in sent_bytes  # nor the offer's code

    async def recorded() -> list[dict[str, Any]] | None:
        log = await hooks.deliveries(endpoint["id"])
        return log if len(log) == 2 and all(d["status"] == "delivered" for d in log) else None

    log = await eventually(recorded)
    assert sorted(d["event_type"] for d in log) == ["checkin.created", "waiting_list.offered"]


async def test_expiries_and_refunds_go_out_as_order_expired_and_order_refunded(
    hooks: Hooks, receiver: Receiver
) -> None:
    db = hooks.srv.box.db
    endpoint = await hooks.register(receiver.url, ["order.expired", "order.refunded"])
    event = await make_event(db, organizer=hooks.organizer_email)
    tt = await make_ticket(db, event.id, base_price_cents=2000, quantity=10)
    unpaid = await reserve(db, order_request(event.id, (tt.id, 1)))
    assert (await lifecycle.expire_order(db, unpaid.id, force=True)).changed
    paid = await reserve(db, order_request(event.id, (tt.id, 2)))
    assert (await lifecycle.confirm_order(db, paid.id)).changed
    assert (await lifecycle.record_refund(db, paid.id, 1000)).changed  # a partial refund, then the rest
    assert (await lifecycle.record_refund(db, paid.id, 4000)).changed

    await eventually(lambda: _at_least(receiver, 3))
    sent = [hit.verified(endpoint["secret"]) for hit in receiver.hits]
    by_order: dict[str, list[tuple[str, str, int, str]]] = defaultdict(list)
    for e in sent:
        obj = e["data"]["object"]
        by_order[obj["id"]].append((e["type"], obj["status"], obj["refunded_cents"], e["data"]["previous_status"]))
    assert by_order == {
        unpaid.id: [("order.expired", "expired", 0, "pending")],
        paid.id: [  # in the order they happened
            ("order.refunded", "partially_refunded", 1000, "confirmed"),
            ("order.refunded", "refunded", 4000, "partially_refunded"),
        ],
    }
