"""The sender and the outbox handler, driven directly (a fake clock where days pass): an endpoint failing for a day
is disabled and its owner emailed once; a delivery is retried with growing waits and failed after its retry window;
an attempt is bounded in time and in how much of the answer it reads; two senders never send one delivery twice
and keep each order's sequence; the handler writes each event and delivery once, to the subscribed endpoints only."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from boxoffice.accounts.roles import Role
from boxoffice.clock import utcnow
from boxoffice.db import Database, in_index_order
from boxoffice.events import service as events
from boxoffice.ids import new_id
from boxoffice.integrations import endpoints
from boxoffice.integrations import sender as sender_module
from boxoffice.integrations.attempts import Claimed, Outcome, retry_delay
from boxoffice.integrations.deliveries import prune_deliveries
from boxoffice.integrations.fanout import DeliveryQueue
from boxoffice.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from boxoffice.integrations.notices import send_notices
from boxoffice.integrations.sender import HOLD_BEHIND_ATTEMPTS
from boxoffice.integrations.verify import WebhookSignatureError
from boxoffice.notifications.transport import FileTransport
from boxoffice.outbox.dispatcher import Message
from boxoffice.outbox.models import OutboxMessage
from boxoffice.ticketing.reserve import reserve
from tests.accounts.support import make_member
from tests.helpers import eventually, make_event, make_ticket, order_request, rows_read
from tests.integrations.conftest import Org, organizer_on
from tests.integrations.receiver import Receiver
from tests.integrations.support import (
    LOOPBACK_OK,
    MESSAGE_IDS,
    FakeClock,
    add_endpoint,
    attempts_of,
    deliveries_of,
    endpoint_row,
    fan_out,
    make_sender,
)


def order_event(org: Org, order_id: str, status: str = "pending") -> dict[str, str]:
    return {"order_id": order_id, "event_id": org.event_id, "status": status, "email": "buyer@example.com"}


async def claimed_elsewhere(org: Org, payload: dict[str, str]) -> int:
    """An ``order.created`` outbox message that another dispatcher has claimed (none takes it meanwhile): its id."""
    async with org.db.transaction() as session:
        message = OutboxMessage(
            kind="order.created",
            topics=[],
            payload=payload,
            created_at=utcnow(),
            locked_until=utcnow() + timedelta(hours=1),
            attempts=1,
        )
        session.add(message)
        await session.flush()
        return message.id


async def test_an_endpoint_failing_for_a_day_is_disabled_and_its_owner_emailed(
    org: Org, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.status = 500
    created = await add_endpoint(org.db, org.organizer_id, receiver.url)
    await fan_out(org.db, "order.created", order_event(org, "ord_day"))
    clock = FakeClock()
    mail = FileTransport(tmp_path / "mail")
    sender = make_sender(
        org.db, clock=clock, retry_base=600, max_retry_delay=3 * 3600, disable_after=timedelta(hours=24)
    )
    sender.mail, sender.mail_from, sender.public_url = mail, "Boxoffice <hooks@example.com>", "https://box.example"
    try:
        hours = 0.0
        while (await endpoint_row(org.db, created.endpoint.id)).enabled:
            assert await sender.deliver_due() >= 1
            (delivery,) = await deliveries_of(org.db, created.endpoint.id)
            waited = (delivery.next_attempt_at - clock.now).total_seconds()
            clock.now = delivery.next_attempt_at  # the next attempt is due: let that time pass
            hours += waited / 3600
            assert hours < 30, "not disabled after a day of failures"
        endpoint = await endpoint_row(org.db, created.endpoint.id)
        assert endpoint.disabled_reason == "failing" and endpoint.notice_pending
        assert endpoint.disabled_at is not None and endpoint.failing_since is not None
        assert endpoint.disabled_at - endpoint.failing_since >= timedelta(hours=24)
        (delivery,) = await deliveries_of(org.db, created.endpoint.id)
        assert delivery.status == "failed" and "disabled" in (delivery.last_error or "")
        attempts = await attempts_of(org.db, delivery.id)
        assert len(attempts) == delivery.attempts == len(receiver.hits) and len(attempts) > 5
        assert {a.status_code for a in attempts} == {500}

        assert await sender.send_notices() == 1
        assert await sender.send_notices() == 0  # once
        (eml,) = list((tmp_path / "mail").glob("*.eml"))
        notice = message_from_bytes(eml.read_bytes(), policy=default)
        organizer = await events.get_person(org.db, org.organizer_id)
        assert notice["To"] == organizer.email and "disabled" in notice["Subject"]
        text = notice.get_content()
        assert receiver.url in text and "answered with status 500" in text and created.endpoint.id in text

        # disabled: new events queue nothing; nothing more is attempted
        await fan_out(org.db, "order.created", order_event(org, "ord_after"))
        assert len(await deliveries_of(org.db, created.endpoint.id)) == 1
        clock.advance(hours=1)
        before = len(receiver.hits)
        await sender.deliver_due()
        assert len(receiver.hits) == before

        # enabled again, it starts afresh and the log's delivery can be sent again
        again = await endpoints.update_endpoint(
            org.db, created.endpoint.id, org.organizer_id, {"enabled": True}, policy=LOOPBACK_OK
        )
        assert again.enabled and again.failing_since is None and again.disabled_reason is None
    finally:
        await sender.stop()


async def test_the_disabled_endpoint_email_goes_to_the_organizer_and_the_members_who_manage_webhooks(
    org_on_both: Org, tmp_path: Path
) -> None:
    org = org_on_both
    organizer = await events.get_person(org.db, org.organizer_id)
    team = {
        role: await make_member(org.db, b"members-secret", role=role, organizer=organizer.email)
        for role in (Role.OWNER, Role.MANAGER, Role.DOOR)
    }
    elsewhere = await make_member(org.db, b"members-secret")  # an owner of another organizer
    created = await add_endpoint(org.db, org.organizer_id, "http://127.0.0.1:9/down")
    now = utcnow()
    async with org.db.transaction() as session:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == created.endpoint.id)
            .values(
                enabled=False,
                disabled_reason="failing",
                disabled_at=now,
                failing_since=now - timedelta(hours=25),
                notice_pending=True,
            )
        )
    mail = FileTransport(tmp_path / "mail")
    sent = await send_notices(org.db, mail, sender="hooks@example.com", public_url="https://box.example")
    assert sent >= 1
    mine = [
        message_from_bytes(eml.read_bytes(), policy=default)
        for eml in (tmp_path / "mail").glob("*.eml")
        if created.endpoint.id in eml.read_text()
    ]
    assert sorted(str(m["To"]) for m in mine) == sorted(
        [organizer.email, team[Role.OWNER].email, team[Role.MANAGER].email]
    )
    assert len({m["Message-ID"] for m in mine}) == 3  # one message each, none replacing another
    assert not {team[Role.DOOR].email, elsewhere.email} & {str(m["To"]) for m in mine}
    assert not (await endpoint_row(org.db, created.endpoint.id)).notice_pending


async def test_a_delivery_is_retried_with_growing_waits_then_failed_after_its_window(
    org: Org, receiver: Receiver
) -> None:
    receiver.status = 503
    created = await add_endpoint(org.db, org.organizer_id, receiver.url)
    await fan_out(org.db, "order.created", order_event(org, "ord_window"), retry_for=timedelta(hours=72))
    clock = FakeClock()
    # never disabled here: only the delivery's own window ends it
    sender = make_sender(org.db, clock=clock, retry_base=60, max_retry_delay=6 * 3600, disable_after=timedelta(days=30))
    waits: list[float] = []
    try:
        while True:
            assert await sender.deliver_due() >= 1
            (delivery,) = await deliveries_of(org.db, created.endpoint.id)
            if delivery.status == "failed":
                break
            waits.append((delivery.next_attempt_at - clock.now).total_seconds())
            clock.now = delivery.next_attempt_at
        assert delivery.next_attempt_at > delivery.retry_until  # the next wait would have ended past the window
        assert sum(waits) <= 72 * 3600 and sum(waits) > 60 * 3600
        assert all(30 <= w <= 6 * 3600 for w in waits)
        assert waits[3] > waits[0] * 2  # 60 s doubling: 30-60, 60-120, 120-240, 240-480
        assert (await endpoint_row(org.db, created.endpoint.id)).enabled
    finally:
        await sender.stop()


async def test_a_rolled_secret_keeps_signing_beside_the_new_one_for_24_hours_then_stops(
    org: Org, receiver: Receiver
) -> None:
    created = await add_endpoint(org.db, org.organizer_id, receiver.url)
    old = created.secret
    clock = FakeClock()
    rolled = await endpoints.roll_secret(org.db, created.endpoint.id, org.organizer_id, now=clock.now)  # the default
    new = rolled.secret
    assert rolled.endpoint.previous_secret_expires_at == clock.now + timedelta(hours=24)
    sender = make_sender(org.db, clock=clock)
    try:
        clock.advance(hours=23, minutes=59)  # within the overlap: both secrets sign, either verifies
        await fan_out(org.db, "order.created", order_event(org, "ord_roll_1"))
        assert await sender.deliver_due() >= 1
        within = receiver.hits[-1]
        assert within.signature.count("v1=") == 2
        assert within.verified(old)["id"] == within.verified(new)["id"]

        clock.advance(minutes=1, seconds=1)  # 24 hours and a second after the roll: only the new secret signs
        await fan_out(org.db, "order.created", order_event(org, "ord_roll_2"))
        assert await sender.deliver_due() >= 1
        after = receiver.hits[-1]
        assert after.signature.count("v1=") == 1 and after.verified(new)
        with pytest.raises(WebhookSignatureError):
            after.verified(old)

        # rolled twice within an overlap: the oldest secret stops at once (two at most are ever valid)
        second = await endpoints.roll_secret(org.db, created.endpoint.id, org.organizer_id, now=clock.now)
        third = await endpoints.roll_secret(org.db, created.endpoint.id, org.organizer_id, now=clock.now)
        await fan_out(org.db, "order.created", order_event(org, "ord_roll_3"))
        assert await sender.deliver_due() >= 1
        last = receiver.hits[-1]
        assert last.signature.count("v1=") == 2 and last.verified(third.secret) and last.verified(second.secret)
        with pytest.raises(WebhookSignatureError):
            last.verified(new)
    finally:
        await sender.stop()


def test_retry_delays_double_up_to_the_cap_with_jitter() -> None:
    for attempt in range(1, 40):
        full = min(60 * 2 ** (attempt - 1), 21600)
        for _ in range(20):
            assert full / 2 <= retry_delay(attempt, 60, 21600).total_seconds() <= full
    assert len({retry_delay(5, 60, 21600) for _ in range(20)}) > 1  # jitter: not every retry at the same moment


async def test_an_attempt_is_bounded_in_time_and_in_answer_read(org: Org, receiver: Receiver) -> None:
    receiver.body = b"x" * 2_000_000
    created = await add_endpoint(org.db, org.organizer_id, receiver.url)
    await fan_out(org.db, "order.created", order_event(org, "ord_big"))
    sender = make_sender(org.db, max_response_bytes=1024, timeout=0.5, claim_seconds=5)
    try:
        assert await sender.deliver_due() >= 1
        (delivery,) = await deliveries_of(org.db, created.endpoint.id)
        (attempt,) = await attempts_of(org.db, delivery.id)
        assert delivery.status == "delivered" and attempt.status_code == 200
        assert attempt.response_excerpt == "x" * 500  # read up to the cap, kept up to 500 characters

        receiver.hold = True  # the next receiver never answers
        await fan_out(org.db, "order.created", order_event(org, "ord_slow"))
        assert await sender.deliver_due() >= 1
        slow = (await deliveries_of(org.db, created.endpoint.id))[1]
        (timed_out,) = await attempts_of(org.db, slow.id)
        assert slow.status == "pending" and timed_out.status_code is None
        assert (timed_out.error or "").startswith("timeout")
    finally:
        receiver.release.set()
        await sender.stop()


@pytest.mark.postgres
async def test_two_senders_send_each_delivery_once_and_each_order_in_sequence(org: Org, receiver: Receiver) -> None:
    created = await add_endpoint(org.db, org.organizer_id, receiver.url)
    orders = [f"ord_two_{i}" for i in range(12)]
    expected = {o: ["order.created", "order.confirmed", "order.refunded"] for o in orders}
    for step, status in (
        ("order.created", "pending"),
        ("order.confirmed", "confirmed"),
        ("order.refunded", "refunded"),
    ):
        for order_id in orders:
            await fan_out(org.db, step, order_event(org, order_id, status))
    first, second = make_sender(org.db, max_concurrency=4), make_sender(org.db, max_concurrency=4)
    await first.start()
    await second.start()
    try:

        async def done() -> bool:
            return all(d.status == "delivered" for d in await deliveries_of(org.db, created.endpoint.id))

        await eventually(done, timeout=60)
    finally:
        await first.stop()
        await second.stop()
    events = receiver.events()
    assert len(events) == len({e["id"] for e in events}) == 36  # each sent once: no delivery claimed twice
    seen: dict[str, list[str]] = defaultdict(list)
    for sent in events:
        seen[sent["data"]["object"]["id"]].append(sent["type"])
    assert seen == expected
    assert all(d.attempts == 1 for d in await deliveries_of(org.db, created.endpoint.id))


async def test_an_order_s_event_waits_for_an_earlier_one_still_unhandled_in_the_outbox(
    org_on_both: Org, receiver: Receiver
) -> None:
    """Another dispatcher still has the order's first domain event (or its handlers failed and wait for a retry)
    while the next one was handled: the next one's delivery waits until the first one's is written, then goes
    second. Other orders are not held up."""
    org = org_on_both
    created = await add_endpoint(org.db, org.organizer_id, receiver.url)
    order_id, other_id = new_id("ord"), new_id("ord")
    first_payload = order_event(org, order_id)
    first_id = await claimed_elsewhere(org, first_payload)
    sender = make_sender(org.db)
    try:
        await fan_out(org.db, "order.confirmed", order_event(org, order_id, "confirmed"))  # a later outbox id
        await fan_out(org.db, "order.created", order_event(org, other_id))
        for _ in range(3):
            await sender.deliver_due()
        assert [(e["type"], e["data"]["object"]["id"]) for e in receiver.events()] == [("order.created", other_id)]

        # the first message is handled at last: its delivery is written as its message is marked published
        async with org.db.transaction() as session:
            message = Message(first_id, "order.created", (), first_payload, utcnow())
            await DeliveryQueue(retry_for=timedelta(hours=72))(session, [message])
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == first_id)
                .values(published_at=utcnow(), locked_until=None)
            )
        for _ in range(4):
            await sender.deliver_due()
    finally:
        async with org.db.transaction() as session:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == first_id).values(published_at=utcnow())
            )
        await sender.stop()
    sent = [(e["type"], e["data"]["object"]["id"]) for e in receiver.events()]
    assert [t for t, o in sent if o == order_id] == ["order.created", "order.confirmed"]
    assert all(d.status == "delivered" for d in await deliveries_of(org.db, created.endpoint.id))


async def test_a_message_whose_handlers_keep_failing_holds_the_order_s_later_webhooks_only_for_a_while(
    org_on_both: Org, receiver: Receiver
) -> None:
    """The order's first message fails in every dispatcher round (an email template that chokes on the order): the
    next event's delivery waits behind it for its first HOLD_BEHIND_ATTEMPTS tries, then goes out rather than
    waiting for good. A message of a kind that never becomes a webhook holds nothing back at all."""
    org = org_on_both
    await add_endpoint(org.db, org.organizer_id, receiver.url, ["order.confirmed"])
    order_id, other_id = new_id("ord"), new_id("ord")
    async with org.db.transaction() as session:
        failing = OutboxMessage(
            kind="order.created", topics=[], payload=order_event(org, order_id), created_at=utcnow(), attempts=1
        )
        not_a_webhook = OutboxMessage(
            kind="availability", topics=[], payload=order_event(org, other_id), created_at=utcnow(), attempts=0
        )
        session.add_all([failing, not_a_webhook])
        await session.flush()
        ids = [failing.id, not_a_webhook.id]
    sender = make_sender(org.db)
    try:
        await fan_out(org.db, "order.confirmed", order_event(org, order_id, "confirmed"))
        await fan_out(org.db, "order.confirmed", order_event(org, other_id, "confirmed"))
        for _ in range(3):
            await sender.deliver_due()
        assert [e["data"]["object"]["id"] for e in receiver.events()] == [other_id]

        for attempts in range(2, HOLD_BEHIND_ATTEMPTS):
            async with org.db.transaction() as session:
                await session.execute(update(OutboxMessage).where(OutboxMessage.id == ids[0]).values(attempts=attempts))
            await sender.deliver_due()
            assert [e["data"]["object"]["id"] for e in receiver.events()] == [other_id]

        async with org.db.transaction() as session:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == ids[0]).values(attempts=HOLD_BEHIND_ATTEMPTS)
            )
        for _ in range(3):
            await sender.deliver_due()
    finally:
        async with org.db.transaction() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(published_at=utcnow()))
        await sender.stop()
    assert sorted(e["data"]["object"]["id"] for e in receiver.events()) == sorted([order_id, other_id])


async def test_the_handler_writes_each_event_and_delivery_once_for_subscribers_only(org_on_both: Org) -> None:
    org = org_on_both
    everything = await add_endpoint(org.db, org.organizer_id, "http://127.0.0.1:9/all")
    orders_only = await add_endpoint(org.db, org.organizer_id, "http://127.0.0.1:9/orders", ["order.confirmed"])
    transfers = await add_endpoint(org.db, org.organizer_id, "http://127.0.0.1:9/transfers", ["ticket.transferred"])
    off = await add_endpoint(org.db, org.organizer_id, "http://127.0.0.1:9/off")
    await endpoints.update_endpoint(org.db, off.endpoint.id, org.organizer_id, {"enabled": False}, policy=LOOPBACK_OK)
    other = await make_event(org.db)  # another organizer's event: none of these endpoints hears it
    stranger = await add_endpoint(org.db, other.organizer_id, "http://127.0.0.1:9/stranger")

    confirmed = order_event(org, "ord_once", "confirmed")
    message = await fan_out(org.db, "order.confirmed", confirmed)
    # the dispatcher ran the handler again for the same message (a claim that ran out): nothing more is written
    again = Message(message, "order.confirmed", (), confirmed, utcnow())
    async with org.db.transaction() as session:
        await DeliveryQueue(retry_for=timedelta(hours=1))(session, [again])
    transferred = {
        "event_id": org.event_id,
        "ticket_id": "tkt_moved",
        "from_email": "a@example.com",
        "to_email": "b@example.com",
        "topics": ["internal"],
    }
    await fan_out(org.db, "ticket.transferred", transferred)
    await fan_out(org.db, "availability", {"event_id": org.event_id, "ticket_types": []})  # not a webhook type
    await fan_out(org.db, "order.confirmed", order_event(Org(org.db, other.organizer_id, other.id), "ord_other"))

    assert [d.event_type for d in await deliveries_of(org.db, everything.endpoint.id)] == [
        "order.confirmed",
        "ticket.transferred",
    ]
    assert [d.event_type for d in await deliveries_of(org.db, orders_only.endpoint.id)] == ["order.confirmed"]
    (moved,) = await deliveries_of(org.db, transfers.endpoint.id)
    assert moved.order_key == "tkt_moved"
    assert await deliveries_of(org.db, off.endpoint.id) == []
    assert [d.event_type for d in await deliveries_of(org.db, stranger.endpoint.id)] == ["order.confirmed"]
    async with org.db.read() as session:
        bodies = (
            await session.scalars(
                select(WebhookEvent.body).where(
                    WebhookEvent.id.in_(
                        select(WebhookDelivery.event_id).where(WebhookDelivery.endpoint_id == everything.endpoint.id)
                    )
                )
            )
        ).all()
        same_message = await session.scalar(
            select(func.count()).select_from(WebhookEvent).where(WebhookEvent.outbox_id == message)
        )
    assert same_message == 1
    by_type = {json.loads(b)["type"]: json.loads(b) for b in bodies}
    assert by_type["ticket.transferred"]["data"]["object"] == {k: v for k, v in transferred.items() if k != "topics"}
    assert by_type["order.confirmed"]["data"]["object"]["status"] == "confirmed"
    await endpoints.delete_endpoint(org.db, stranger.endpoint.id, other.organizer_id)  # not the fixture's organizer


async def test_housekeeping_deletes_old_history_and_never_a_pending_delivery(org: Org) -> None:
    created = await add_endpoint(org.db, org.organizer_id, "http://127.0.0.1:9/history")
    for i in range(4):
        await fan_out(org.db, "order.created", order_event(org, f"ord_hist_{i}"))
    old_delivered, old_failed, old_pending, recent = await deliveries_of(org.db, created.endpoint.id)
    long_ago = utcnow() - timedelta(days=31)
    async with org.db.transaction() as session:
        for delivery, status, when in (
            (old_delivered, "delivered", long_ago),
            (old_failed, "failed", long_ago),
            (old_pending, "pending", long_ago),
            (recent, "delivered", utcnow()),
        ):
            await session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(status=status, created_at=when)
            )
            await session.execute(
                update(WebhookEvent).where(WebhookEvent.id == delivery.event_id).values(created_at=when)
            )
        session.add(
            WebhookAttempt(delivery_id=old_failed.id, attempt=1, started_at=long_ago, duration_ms=3, status_code=500)
        )
    assert await prune_deliveries(org.db, older_than=timedelta(days=30)) >= 2
    assert [d.id for d in await deliveries_of(org.db, created.endpoint.id)] == [old_pending.id, recent.id]
    assert await attempts_of(org.db, old_failed.id) == []
    async with org.db.read() as session:
        kept = set(
            (await session.scalars(select(WebhookEvent.id).where(WebhookEvent.organizer_id == org.organizer_id))).all()
        )
    assert kept == {old_pending.event_id, recent.event_id}


async def test_an_attempt_the_database_could_not_take_at_once_is_recorded_on_a_retry(
    org: Org, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await add_endpoint(org.db, org.organizer_id, receiver.url)
    await fan_out(org.db, "order.created", order_event(org, "ord_busy_db"))
    (queued,) = await deliveries_of(org.db, created.endpoint.id)
    sender = make_sender(org.db)
    real = sender.record
    failures: list[str] = []

    async def busy_once(delivery: Claimed, outcome: Outcome) -> None:
        if delivery.id == queued.id and not failures:
            failures.append(delivery.id)
            raise ConnectionError("sorry, too many clients already")
        await real(delivery, outcome)

    monkeypatch.setattr(sender, "record", busy_once)
    try:
        assert await sender.deliver_due() >= 1
    finally:
        await sender.stop()
    (delivery,) = await deliveries_of(org.db, created.endpoint.id)
    assert failures == [delivery.id] and delivery.status == "delivered" and delivery.attempts == 1
    assert len(receiver.hits) == 1  # recorded on the retry: not sent a second time


async def test_a_delivered_attempt_is_logged_and_ends_the_endpoints_failing_streak(
    org_on_both: Org, receiver: Receiver
) -> None:
    """On PostgreSQL a delivered attempt is written by one statement, on SQLite by the transaction every other
    outcome takes: the same rows either way."""
    org = org_on_both
    receiver.status = 503
    created = await add_endpoint(org.db, org.organizer_id, receiver.url)
    await fan_out(org.db, "order.created", order_event(org, "ord_streak"))
    clock = FakeClock()
    sender = make_sender(org.db, clock=clock, retry_base=60, disable_after=timedelta(days=30))
    try:
        assert await sender.deliver_due() == 1
        failing_since = (await endpoint_row(org.db, created.endpoint.id)).failing_since
        assert failing_since is not None
        (delivery,) = await deliveries_of(org.db, created.endpoint.id)
        clock.now = delivery.next_attempt_at
        receiver.status = 200
        assert await sender.deliver_due() == 1
        (delivery,) = await deliveries_of(org.db, created.endpoint.id)
        assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
            "delivered",
            2,
            200,
            None,
        )
        assert delivery.delivered_at == clock.now and delivery.locked_until is None
        assert delivery.last_attempt_at is not None and delivery.last_attempt_at <= clock.now
        assert (await endpoint_row(org.db, created.endpoint.id)).failing_since is None
        attempts = await attempts_of(org.db, delivery.id)
        assert [(a.attempt, a.status_code, a.error is None) for a in attempts] == [(1, 503, True), (2, 200, True)]
        assert attempts[1].started_at == delivery.last_attempt_at and attempts[1].duration_ms >= 0
        assert attempts[1].response_excerpt == attempts[0].response_excerpt  # the receiver's same answer body
    finally:
        await sender.stop()


async def test_an_earlier_event_handled_between_the_claims_reads_still_goes_first(
    org: Org, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL (on SQLite the claim's transaction holds the write lock from its start: nothing is handled in
    between). The claim reads the due deliveries, then which of their orders still have an unhandled event. An
    earlier event handled in between (its delivery written, its message published) is in neither read: the claim's
    own update checks again that no earlier delivery of the order is pending, so the later one still waits its
    turn."""
    await add_endpoint(org.db, org.organizer_id, receiver.url)
    order_id = new_id("ord")
    first_payload = order_event(org, order_id)
    first_id = await claimed_elsewhere(org, first_payload)
    await fan_out(org.db, "order.confirmed", order_event(org, order_id, "confirmed"))
    original = sender_module._held_keys

    async def handled_meanwhile(session: Any, keys: Any) -> dict[str, int]:
        async with org.db.transaction() as other:
            message = Message(first_id, "order.created", (), first_payload, utcnow())
            await DeliveryQueue(retry_for=timedelta(hours=72))(other, [message])
            handled = update(OutboxMessage).where(OutboxMessage.id == first_id)
            await other.execute(handled.values(published_at=utcnow(), locked_until=None))
        monkeypatch.setattr(sender_module, "_held_keys", original)
        return await original(session, keys)

    monkeypatch.setattr(sender_module, "_held_keys", handled_meanwhile)
    sender = make_sender(org.db)
    try:
        assert await sender.deliver_due() == 0  # the confirmed one was a candidate; it waits behind the created one
        for _ in range(3):
            await sender.deliver_due()
    finally:
        await sender.stop()
    assert [(e["type"], e["data"]["object"]["id"]) for e in receiver.events()] == [
        ("order.created", order_id),
        ("order.confirmed", order_id),
    ]


async def test_a_batch_is_written_as_its_messages_one_by_one_would_be(org_on_both: Org) -> None:
    """The dispatcher hands the handler its whole batch: each message gets its own event, with its own order's
    lines, and its deliveries; a message that is not a webhook type, or whose organizer has no endpoint, gets none;
    the batch handled again (a claim that ran out) with one new message writes only the new one's."""
    org = org_on_both
    endpoint = await add_endpoint(org.db, org.organizer_id, "http://127.0.0.1:9/batch")
    tt = await make_ticket(org.db, org.event_id, quantity=10, base_price_cents=1500, title="Batch seat")
    first = await reserve(org.db, order_request(org.event_id, (tt.id, 1)))
    second = await reserve(org.db, order_request(org.event_id, (tt.id, 3)))
    other = await make_event(org.db)  # another organizer, without endpoints

    def message(kind: str, payload: dict[str, Any]) -> Message:
        return Message(next(MESSAGE_IDS), kind, (), payload, utcnow())

    batch = [
        message("order.confirmed", order_event(org, first.id, "confirmed")),
        message("availability", {"event_id": org.event_id, "ticket_types": []}),
        message("order.confirmed", order_event(org, second.id, "confirmed")),
        message("order.confirmed", order_event(Org(org.db, other.organizer_id, other.id), "ord_elsewhere")),
        message("order.canceled", order_event(org, "ord_gone", "canceled")),  # its row cannot be read
    ]
    async with org.db.transaction() as session:
        await DeliveryQueue(retry_for=timedelta(hours=1))(session, batch)
    later = message("order.refunded", order_event(org, first.id, "refunded"))
    async with org.db.transaction() as session:
        await DeliveryQueue(retry_for=timedelta(hours=1))(session, [*batch, later])

    delivered = await deliveries_of(org.db, endpoint.endpoint.id)
    assert [(d.seq, d.event_type) for d in delivered] == [
        (batch[0].id, "order.confirmed"),
        (batch[2].id, "order.confirmed"),
        (batch[4].id, "order.canceled"),
        (later.id, "order.refunded"),
    ]
    assert [d.order_key for d in delivered] == [first.id, second.id, "ord_gone", first.id]
    async with org.db.read() as session:
        stored = (
            await session.execute(
                select(WebhookEvent.outbox_id, WebhookEvent.id, WebhookEvent.body).where(
                    WebhookEvent.outbox_id.in_([m.id for m in [*batch, later]])
                )
            )
        ).all()
    assert sorted(row.outbox_id for row in stored) == [batch[0].id, batch[2].id, batch[4].id, later.id]
    events_by_message = {row.outbox_id: row.id for row in stored}
    assert [d.event_id for d in delivered] == [events_by_message[d.seq] for d in delivered]
    objects = {row.outbox_id: json.loads(row.body)["data"]["object"] for row in stored}
    assert [(line["ticket_type_id"], line["quantity"]) for line in objects[batch[0].id]["lines"]] == [(tt.id, 1)]
    assert [(line["ticket_type_id"], line["quantity"]) for line in objects[batch[2].id]["lines"]] == [(tt.id, 3)]
    assert objects[batch[2].id]["total_cents"] == second.total_cents == 4500
    assert "lines" not in objects[batch[4].id]  # no row: the event's own fields
    assert objects[later.id]["status"] == "refunded"


@pytest.mark.parametrize("burst", [2000, 5000])
async def test_a_claim_reads_as_many_deliveries_as_it_takes_whatever_the_backlog(
    fresh_pg: tuple[str, Database], burst: int
) -> None:
    """A burst of deliveries queued into a table PostgreSQL has not analyzed since (a sale's first minutes):
    the claim's candidates are read in the due index's order and the scan stops after the few it asks for. (Left
    to itself the planner read the whole backlog at every claim, to sort it or, for each candidate, to look for an
    earlier pending delivery of its order: 15 to 40 ms of PostgreSQL each.)"""
    _, db = fresh_pg
    async with organizer_on(db) as org:
        await add_endpoint(db, org.organizer_id, "http://127.0.0.1:9/burst", ["order.confirmed"])
        messages = [
            Message(next(MESSAGE_IDS), "order.confirmed", (), order_event(org, f"ord_{n}", "confirmed"), utcnow())
            for n in range(burst)
        ]
        for start in range(0, burst, 200):  # as the dispatcher writes them: a batch at a time
            async with db.transaction() as session:
                await DeliveryQueue(retry_for=timedelta(hours=1))(session, messages[start : start + 200])
        async with db.transaction() as session:
            await in_index_order(session)
            read_before = await rows_read(session, "webhook_deliveries")
            candidates = (await session.execute(sender_module.DUE_CANDIDATES, {"now": utcnow(), "limit": 32})).all()
            read = await rows_read(session, "webhook_deliveries") - read_before
        assert [seq for _, _, seq in candidates] == [m.id for m in messages[:32]]  # the first due, in their order
        assert read <= 64, f"the claim read {read} deliveries for 32 candidates"
        now = utcnow()
        async with db.transaction() as session:  # then it takes 8 of them by id
            read_before = await rows_read(session, "webhook_deliveries")
            taken = await session.execute(
                sender_module.TAKE,
                {"due": [delivery_id for delivery_id, _, _ in candidates[:8]], "now": now, "until": now},
            )
            assert len(taken.all()) == 8
            read = await rows_read(session, "webhook_deliveries") - read_before
        assert read <= 16, f"taking 8 deliveries by id read {read}"
        sender = make_sender(db)
        assert len(await sender.claim(limit=8)) == 8
