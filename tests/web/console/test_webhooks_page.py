"""The console's webhook endpoints page against a live Boxoffice whose worker delivers to a real receiver: add an
endpoint (errors in words; the secret shown once and the deliveries signed with it), the delivery log and a
redelivery, rolling the secret, disabling (redelivery refused) and enabling, deleting; and the refusals: a door
member, another organizer, a form without its CSRF token. A manager may do all of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from boxoffice.accounts.roles import Role
from boxoffice.integrations import endpoints
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from tests.accounts.support import make_member, sign_in
from tests.helpers import eventually, make_event, make_ticket, unique_email
from tests.integrations.conftest import Hooks, running_hooks
from tests.integrations.receiver import Receiver
from tests.integrations.support import deliveries_of

SECRET_FIELD = 'id="new-secret" class="mono key" value="'


@pytest.fixture
async def hooks(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Hooks]:
    async with running_hooks(sqlite_url, tmp_path) as running:
        yield running


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = await Receiver().start()
    try:
        yield hook
    finally:
        hook.release.set()
        await hook.stop()


def shown_secret(page: httpx.Response) -> str:
    return page.text.split(SECRET_FIELD)[1].split('"')[0]


async def hits(receiver: Receiver, count: int) -> None:
    async def arrived() -> bool:
        return len(receiver.hits) >= count

    await eventually(arrived)


async def test_an_endpoint_is_added_delivered_to_redelivered_rolled_disabled_and_deleted(
    receiver: Receiver, hooks: Hooks
) -> None:
    srv = hooks.srv
    manager = await make_member(srv.box.db, srv.box.settings.secret_bytes, role=Role.MANAGER)
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as browser:
        csrf = await sign_in(browser, manager.email)
        empty = await browser.get("/manage/webhooks")
        assert empty.status_code == 200 and "No webhook endpoints yet" in empty.text
        assert 'href="/manage/webhooks"' in empty.text  # in a manager's navigation

        bad = await browser.post("/manage/webhooks", data={"csrf_token": csrf, "url": "ftp://example.com/x"})
        assert bad.status_code == 422
        assert "Please enter a full web address" in bad.text and "Please choose at least one event" in bad.text
        assert 'value="ftp://example.com/x"' in bad.text
        private = await browser.post(
            "/manage/webhooks", data={"csrf_token": csrf, "url": "http://10.1.2.3/hooks", "event_types": "*"}
        )
        assert private.status_code == 422 and "Please enter an address on the public internet" in private.text
        unknown = await browser.post(
            "/manage/webhooks", data={"csrf_token": csrf, "url": receiver.url, "event_types": "order.exploded"}
        )
        assert unknown.status_code == 422 and "Please choose among the events offered" in unknown.text
        assert await endpoints.list_endpoints(srv.box.db, manager.organizer_id) == []

        paused = await browser.post(
            "/manage/webhooks",
            data={"csrf_token": csrf, "url": receiver.url, "event_types": "*", "enabled": "no"},
        )
        assert paused.status_code == 201
        [off_endpoint] = await endpoints.list_endpoints(srv.box.db, manager.organizer_id)
        assert not off_endpoint.enabled and off_endpoint.disabled_reason == "organizer"
        await endpoints.delete_endpoint(srv.box.db, off_endpoint.id, manager.organizer_id)

        added = await browser.post(
            "/manage/webhooks",
            data={"csrf_token": csrf, "url": receiver.url, "description": "CRM", "event_types": "order.confirmed"},
        )
        assert added.status_code == 201
        secret = shown_secret(added)
        [endpoint] = await endpoints.list_endpoints(srv.box.db, manager.organizer_id)
        assert endpoint.secret == secret and endpoint.event_types == ["order.confirmed"]
        listed = await browser.get("/manage/webhooks")
        assert receiver.url in listed.text and secret not in listed.text  # shown once only
        page = await browser.get(f"/manage/webhooks/{endpoint.id}")
        assert secret not in page.text and "No deliveries yet" in page.text

        event = await make_event(srv.box.db, organizer=manager.organizer_email)
        tt = await make_ticket(srv.box.db, event.id, base_price_cents=0)
        placed = await srv.box.payments.place_order(
            OrderRequest(event_id=event.id, email=unique_email(), lines=[LineRequest(tt.id, 1)])
        )
        await hits(receiver, 1)
        sent = receiver.hits[0].verified(secret)
        assert sent["type"] == "order.confirmed" and sent["data"]["object"]["id"] == placed.order.id

        async def delivered() -> bool:
            return 'data-status="delivered"' in (await browser.get(f"/manage/webhooks/{endpoint.id}")).text

        await eventually(delivered)
        log = await browser.get(f"/manage/webhooks/{endpoint.id}")
        delivery_id = log.text.split('data-delivery="')[1].split('"')[0]
        [stored_delivery] = await deliveries_of(srv.box.db, endpoint.id)
        assert stored_delivery.last_attempt_at is not None
        row = log.text.split(f'data-delivery="{delivery_id}"')[1].split("</tr>")[0]
        assert "order.confirmed" in row and "<td>1</td>" in row and "HTTP 200" in row  # type, attempts, answer code
        assert stored_delivery.last_attempt_at.strftime("%Y-%m-%d %H:%M:%S UTC") in row  # and when it was tried
        redeliver = f"/manage/webhooks/{endpoint.id}/deliveries/{delivery_id}/redeliver"
        again = await browser.post(redeliver, data={"csrf_token": csrf})
        assert again.status_code == 303 and again.headers["location"].endswith("done=redelivered")
        await hits(receiver, 2)
        assert receiver.hits[1].verified(secret)["id"] == sent["id"]  # the same event, sent again

        too_long = await browser.post(
            f"/manage/webhooks/{endpoint.id}/roll", data={"csrf_token": csrf, "overlap_hours": "30"}
        )
        assert too_long.status_code == 303 and "problem=bad-overlap" in too_long.headers["location"]
        rolled = await browser.post(
            f"/manage/webhooks/{endpoint.id}/roll", data={"csrf_token": csrf, "overlap_hours": "0"}
        )
        assert rolled.status_code == 200
        new_secret = shown_secret(rolled)
        stored = await endpoints.get_endpoint(srv.box.db, endpoint.id, manager.organizer_id)
        assert new_secret != secret and stored.secret == new_secret and stored.previous_secret is None

        off = await browser.post(f"/manage/webhooks/{endpoint.id}/enabled", data={"csrf_token": csrf, "enabled": "no"})
        assert off.status_code == 303
        assert not (await endpoints.get_endpoint(srv.box.db, endpoint.id, manager.organizer_id)).enabled
        refused = await browser.post(redeliver, data={"csrf_token": csrf})
        assert refused.headers["location"].endswith("problem=disabled")
        assert "enable it first" in (await browser.get(refused.headers["location"])).text
        on = await browser.post(f"/manage/webhooks/{endpoint.id}/enabled", data={"csrf_token": csrf, "enabled": "yes"})
        assert on.status_code == 303
        assert (await endpoints.get_endpoint(srv.box.db, endpoint.id, manager.organizer_id)).enabled

        no_token = await browser.post(f"/manage/webhooks/{endpoint.id}/delete", data={})
        assert no_token.status_code == 403
        assert len(await endpoints.list_endpoints(srv.box.db, manager.organizer_id)) == 1
        deleted = await browser.post(f"/manage/webhooks/{endpoint.id}/delete", data={"csrf_token": csrf})
        assert deleted.status_code == 303 and deleted.headers["location"] == "/manage/webhooks?done=deleted"
        assert await endpoints.list_endpoints(srv.box.db, manager.organizer_id) == []


async def test_door_members_and_other_organizers_are_refused(receiver: Receiver, hooks: Hooks) -> None:
    srv = hooks.srv
    owner = await make_member(srv.box.db, srv.box.settings.secret_bytes)
    created = await endpoints.create_endpoint(
        srv.box.db, owner.organizer_id, url=receiver.url, event_types=["*"], policy=srv.box.webhook_policy
    )
    door = await make_member(srv.box.db, srv.box.settings.secret_bytes, role=Role.DOOR, organizer=owner.organizer_email)
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as browser:
        csrf = await sign_in(browser, door.email)
        assert (await browser.get("/manage/webhooks")).status_code == 403
        for action in ("delete", "roll"):
            answer = await browser.post(f"/manage/webhooks/{created.endpoint.id}/{action}", data={"csrf_token": csrf})
            assert answer.status_code == 403
    stranger = await make_member(srv.box.db, srv.box.settings.secret_bytes)
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as browser:
        csrf = await sign_in(browser, stranger.email)
        assert (await browser.get(f"/manage/webhooks/{created.endpoint.id}")).status_code == 404
        delete = await browser.post(f"/manage/webhooks/{created.endpoint.id}/delete", data={"csrf_token": csrf})
        assert delete.status_code == 404
    stored = await endpoints.get_endpoint(srv.box.db, created.endpoint.id, owner.organizer_id)
    assert stored.secret == created.secret  # nothing changed
