"""Scanning at the door, on SQLite and PostgreSQL: the one admission, every refusal, forged and altered codes,
nonce retries, offline uploads and their duplicates, undo, manual check-in, and what a refund leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from boxoffice.checkin import lists
from boxoffice.checkin.models import Checkin
from boxoffice.checkin.rules import Result, Scanner
from boxoffice.checkin.status import list_checkins, list_status
from boxoffice.checkin.undo import undo_checkin
from boxoffice.db import Database
from boxoffice.errors import Conflict, ErrorCode, Forbidden, InvalidInput, NotFound
from boxoffice.notifications.codes import sign_ticket_code, ticket_code
from boxoffice.outbox.models import OutboxMessage
from boxoffice.ticketing.orders import cancel_order, record_refund
from boxoffice.topics import checkin_list_topic
from tests.checkin.conftest import SECRET, sell, set_code_version, set_order_status, sold_event
from tests.helpers import make_ticket


async def rows(db: Database, list_id: str) -> list[Checkin]:
    async with db.read() as session:
        return list((await session.scalars(select(Checkin).where(Checkin.list_id == list_id))).all())


async def row_ids(db: Database, list_id: str) -> list[str]:
    return sorted(r.id for r in await rows(db, list_id))


async def outbox_count(db: Database, list_id: str) -> int:
    async with db.read() as session:
        messages = (await session.scalars(select(OutboxMessage.topics))).all()
    return sum(1 for topics in messages if checkin_list_topic(list_id) in topics)


async def test_the_first_scan_admits_and_every_later_one_is_refused_with_the_first(db: Database) -> None:
    sold = await sold_event(db, name="Grace Hopper")
    first = await sold.scan(device="North gate")
    assert first.result is Result.OK and first.checkin is not None and not first.replayed
    assert first.ticket is not None
    assert (first.ticket.id, first.ticket.holder_name, first.ticket.ticket_type, first.ticket.order_id) == (
        sold.tickets[0].id,
        "Grace Hopper",
        "General admission",
        sold.order.id,
    )
    assert first.checkin.device == "North gate"
    again = await sold.scan(device="South gate")
    assert again.result is Result.ALREADY_CHECKED_IN
    assert again.first == first.checkin  # the first check-in's time and device
    assert again.checkin is None and not again.duplicate
    assert len(await rows(db, sold.default_list.id)) == 1
    # the other tickets of the same order are their own
    assert (await sold.scan(sold.code(1))).result is Result.OK
    assert await outbox_count(db, sold.default_list.id) == 2  # one message per admission, none per refusal


async def test_forged_altered_malformed_and_unknown_codes_are_invalid_and_write_nothing(db: Database) -> None:
    sold = await sold_event(db)
    genuine = sold.code()
    ticket_id, _, mac = genuine.rpartition(".")
    flipped = mac[:5] + ("A" if mac[5] != "A" else "B") + mac[6:]
    other = sold.tickets[1].id
    codes = [
        "",
        "not a code",
        genuine + "x",
        f"{ticket_id}.{flipped}",  # signature altered
        f"{other}.{mac}",  # another ticket's id with this signature
        sign_ticket_code(ticket_id, b"someone-else's secret"),  # forged with another key
        sign_ticket_code("tkt_does_not_exist", SECRET),  # genuine signature, no such ticket
        "é" * 40,
    ]
    for code in codes:
        outcome = await sold.scan(code)
        assert (outcome.result, outcome.ticket) == (Result.INVALID, None), code
    assert await rows(db, sold.default_list.id) == []
    assert (await sold.scan(genuine + "\n")).result is Result.OK  # what a keyboard-wedge scanner adds is stripped


async def test_a_code_of_another_event_is_invalid_even_for_the_same_organizer(db: Database) -> None:
    sold = await sold_event(db)
    other = await sold_event(db)
    assert (await sold.scan(other.code())).result is Result.INVALID
    assert (await sold.scan(ticket_id=other.tickets[0].id)).result is Result.INVALID
    assert await rows(db, sold.default_list.id) == []


async def test_a_replaced_code_is_refused_and_the_new_one_admits(db: Database) -> None:
    sold = await sold_event(db)
    old = sold.code()
    await set_code_version(db, sold.tickets[0].id, 1)
    refused = await sold.scan(old)
    assert refused.result is Result.REPLACED and refused.ticket is not None
    new = ticket_code(sold.tickets[0].id, 1, SECRET)
    assert (await sold.scan(new)).result is Result.OK
    assert (await sold.scan(old)).result is Result.REPLACED  # the old code stays refused, not "already in"


async def test_canceled_refunded_and_unpaid_orders_are_refused(db: Database) -> None:
    canceled = await sold_event(db)
    assert (await cancel_order(db, canceled.order.id)).status == "canceled"
    assert (await canceled.scan()).result is Result.CANCELED

    refunded = await sold_event(db)
    assert (await record_refund(db, refunded.order.id, refunded.order.total_cents)).status == "refunded"
    outcome = await refunded.scan()
    assert outcome.result is Result.REFUNDED and outcome.ticket is not None

    partly = await sold_event(db)
    assert (await record_refund(db, partly.order.id, 100)).status == "partially_refunded"
    assert (await partly.scan()).result is Result.OK  # a partial refund keeps the tickets

    unpaid = await sold_event(db)
    await set_order_status(db, unpaid.order.id, "pending")
    assert (await unpaid.scan()).result is Result.NOT_PAID
    for sold in (canceled, refunded, unpaid):
        assert await rows(db, sold.default_list.id) == []


async def test_not_on_list_and_outside_window(db: Database) -> None:
    sold = await sold_event(db)
    vip = await make_ticket(db, sold.event.id, title="VIP", quantity=5)
    _, vip_tickets = await sell(db, sold.event.id, vip.id, 1)
    vip_code = ticket_code(vip_tickets[0].id, 0, SECRET)
    backstage = await lists.create_list(
        db, sold.event.id, {"name": "Backstage", "ticket_type_ids": [vip.id]}, sold.organizer
    )
    assert (await sold.scan(list_id=backstage.id)).result is Result.NOT_ON_LIST
    assert (await sold.scan(vip_code, list_id=backstage.id)).result is Result.OK

    now = datetime.now(UTC)
    later = await lists.create_list(
        db, sold.event.id, {"name": "Doors at eight", "starts_at": now + timedelta(hours=2)}, sold.organizer
    )
    closed = await lists.create_list(
        db, sold.event.id, {"name": "Matinee", "ends_at": now - timedelta(hours=1)}, sold.organizer
    )
    assert (await sold.scan(list_id=later.id)).result is Result.OUTSIDE_WINDOW
    assert (await sold.scan(list_id=closed.id)).result is Result.OUTSIDE_WINDOW
    # an offline scan is judged at the time it was made
    uploaded = await sold.scan(list_id=closed.id, scanned_at=now - timedelta(hours=2), nonce="n-matinee")
    assert uploaded.result is Result.OK and uploaded.checkin is not None
    assert uploaded.checkin.checked_in_at == now - timedelta(hours=2)
    # lists are independent: the ticket is in at the matinee, not yet at the main entrance
    assert (await sold.scan()).result is Result.OK


async def test_the_ticket_state_is_said_before_the_list_and_the_window(db: Database) -> None:
    sold = await sold_event(db)
    vip = await make_ticket(db, sold.event.id, title="VIP", quantity=5)
    elsewhere = await lists.create_list(
        db,
        sold.event.id,
        {"name": "VIP, later", "ticket_type_ids": [vip.id], "starts_at": datetime.now(UTC) + timedelta(days=1)},
        sold.organizer,
    )
    assert (await sold.scan(list_id=elsewhere.id)).result is Result.NOT_ON_LIST  # before the window
    await record_refund(db, sold.order.id, sold.order.total_cents)
    assert (await sold.scan(list_id=elsewhere.id)).result is Result.REFUNDED  # before the list


async def test_a_retried_nonce_answers_the_first_answer_and_writes_nothing(db: Database) -> None:
    sold = await sold_event(db)
    first = await sold.scan(nonce="phone-1:0001")
    state = (await row_ids(db, sold.default_list.id), await outbox_count(db, sold.default_list.id))
    for _ in range(3):
        again = await sold.scan(nonce="phone-1:0001")
        assert again.result is Result.OK and again.replayed
        assert again.checkin == first.checkin
    assert (await row_ids(db, sold.default_list.id), await outbox_count(db, sold.default_list.id)) == state
    # another scanner's scan of the same ticket is refused; its own retry too
    other = await sold.scan(nonce="phone-2:0001")
    assert other.result is Result.ALREADY_CHECKED_IN and not other.replayed
    assert (await sold.scan(nonce="phone-2:0001")).result is Result.ALREADY_CHECKED_IN
    # a nonce used for one ticket cannot name another
    with pytest.raises(InvalidInput) as reused:
        await sold.scan(sold.code(1), nonce="phone-1:0001")
    assert [(e.field, e.code) for e in reused.value.errors] == [("nonce", ErrorCode.KEY_REUSED)]
    assert (await row_ids(db, sold.default_list.id), await outbox_count(db, sold.default_list.id)) == state
    # the first answer even after the ticket's state changed
    await record_refund(db, sold.order.id, sold.order.total_cents)
    assert (await sold.scan(nonce="phone-1:0001")).result is Result.OK
    assert (await sold.scan(nonce="phone-3:0001")).result is Result.REFUNDED


async def test_offline_uploads_admit_or_are_recorded_as_flagged_duplicates(db: Database) -> None:
    sold = await sold_event(db)
    now = datetime.now(UTC)
    # device A was offline and admitted the ticket at 19:00; it uploads first: an admission
    a = await sold.scan(scanned_at=now - timedelta(minutes=30), nonce="a-1", device="A")
    assert a.result is Result.OK and a.checkin is not None and not a.duplicate
    # device B, also offline, admitted the same ticket at 19:10: recorded, flagged, and said so
    b = await sold.scan(scanned_at=now - timedelta(minutes=20), nonce="b-1", device="B")
    assert b.result is Result.ALREADY_CHECKED_IN and b.duplicate and b.checkin is not None
    assert b.first == a.checkin
    assert b.checkin.checked_in_at == now - timedelta(minutes=20)
    retried = await sold.scan(scanned_at=now - timedelta(minutes=20), nonce="b-1", device="B")
    assert (retried.result, retried.checkin, retried.first, retried.replayed) == (
        Result.ALREADY_CHECKED_IN,
        b.checkin,
        a.checkin,
        True,
    )
    # an online scan is refused, and not recorded
    assert (await sold.scan(nonce="c-1")).result is Result.ALREADY_CHECKED_IN
    recorded = await rows(db, sold.default_list.id)
    assert sorted((r.device_label, r.duplicate) for r in recorded) == [("A", False), ("B", True)]
    status = await list_status(db, sold.default_list.id, sold.organizer)
    assert (status.checked_in, status.duplicates, status.total) == (1, 1, 3)
    flagged = await list_checkins(db, sold.default_list.id, sold.organizer, duplicate=True)
    assert [(r.id, r.device, r.duplicate) for r in flagged] == [(b.checkin.id, "B", True)]


async def test_scanned_at_must_carry_a_zone_and_not_be_in_the_future(db: Database) -> None:
    sold = await sold_event(db)
    with pytest.raises(InvalidInput) as future:
        await sold.scan(scanned_at=datetime.now(UTC) + timedelta(hours=1))
    assert [(e.field, e.code) for e in future.value.errors] == [("scanned_at", ErrorCode.ABOVE_MAXIMUM)]
    with pytest.raises(InvalidInput) as naive:
        await sold.scan(scanned_at=datetime(2027, 1, 1, 19, 0))
    assert [(e.field, e.code) for e in naive.value.errors] == [("scanned_at", ErrorCode.NO_TIMEZONE)]
    assert await rows(db, sold.default_list.id) == []


async def test_manual_check_in_by_ticket_id(db: Database) -> None:
    sold = await sold_event(db)
    by_hand = await sold.scan(ticket_id=sold.tickets[2].id)
    assert by_hand.result is Result.OK
    (row,) = await rows(db, sold.default_list.id)
    assert (row.ticket_id, row.manual) == (sold.tickets[2].id, True)
    assert (await sold.scan(sold.code(2))).result is Result.ALREADY_CHECKED_IN
    assert (await sold.scan(ticket_id="tkt_unknown")).result is Result.INVALID
    with pytest.raises(InvalidInput) as both:
        await sold.scan(sold.code(0), ticket_id=sold.tickets[0].id)
    assert [(e.field, e.code) for e in both.value.errors] == [("ticket_id", ErrorCode.CONFLICT_WITH)]


async def test_undo_lets_the_ticket_in_again_once(db: Database) -> None:
    sold = await sold_event(db)
    first = await sold.scan()
    assert first.checkin is not None
    device = Scanner(organizer_id=sold.event.organizer_id, event_id=sold.event.id, list_id=sold.default_list.id)
    with pytest.raises(Forbidden):
        await undo_checkin(db, first.checkin.id, device)
    stranger = Scanner(organizer_id="per_someone_else", can_undo=True, can_manage=True)
    with pytest.raises(NotFound):
        await undo_checkin(db, first.checkin.id, stranger)
    undone = await undo_checkin(db, first.checkin.id, sold.organizer)
    assert undone.ticket_id == sold.tickets[0].id
    with pytest.raises(Conflict):
        await undo_checkin(db, first.checkin.id, sold.organizer)
    second = await sold.scan()
    assert second.result is Result.OK and second.checkin is not None and second.checkin.id != first.checkin.id
    assert (await sold.scan()).result is Result.ALREADY_CHECKED_IN
    status = await list_status(db, sold.default_list.id, sold.organizer)
    assert status.checked_in == 1
    assert len(await rows(db, sold.default_list.id)) == 2  # the undone one is kept


async def test_refunding_or_canceling_after_check_in_keeps_the_record(db: Database) -> None:
    refunded = await sold_event(db)
    admitted = await refunded.scan()
    assert admitted.checkin is not None
    await record_refund(db, refunded.order.id, refunded.order.total_cents)
    canceled = await sold_event(db)
    assert (await canceled.scan()).result is Result.OK
    await cancel_order(db, canceled.order.id)
    for sold, result in ((refunded, Result.REFUNDED), (canceled, Result.CANCELED)):
        records = await list_checkins(db, sold.default_list.id, sold.organizer)
        assert [(r.ticket_id, r.undone_at, r.duplicate) for r in records] == [(sold.tickets[0].id, None, False)]
        status = await list_status(db, sold.default_list.id, sold.organizer)
        assert (status.checked_in, status.total) == (1, 0)  # the person is in; no ticket admits any more
        assert (await sold.scan()).result is result


async def test_a_scanner_reaches_only_its_lists(db: Database) -> None:
    sold = await sold_event(db)
    other_list = await lists.create_list(db, sold.event.id, {"name": "Side door"}, sold.organizer)
    device = Scanner(organizer_id=sold.event.organizer_id, event_id=sold.event.id, list_id=sold.default_list.id)
    with pytest.raises(NotFound):
        await sold.scan(list_id=other_list.id, scanner=device)
    stranger = Scanner(organizer_id="per_someone_else", can_undo=True, can_manage=True)
    with pytest.raises(NotFound):
        await sold.scan(scanner=stranger)
    with pytest.raises(NotFound):
        await sold.scan(list_id="cl_nope")
    await lists.delete_list(db, other_list.id, sold.organizer)
    with pytest.raises(NotFound):
        await sold.scan(list_id=other_list.id)
    assert (await sold.scan(scanner=device)).result is Result.OK
    async with db.read() as session:
        assert (
            await session.scalar(select(func.count()).select_from(Checkin).where(Checkin.list_id == other_list.id)) == 0
        )


async def test_scans_and_undos_are_published_to_the_list_topic(db: Database) -> None:
    sold = await sold_event(db)
    admitted = await sold.scan(device="Gate 1")
    assert admitted.checkin is not None
    await undo_checkin(db, admitted.checkin.id, sold.organizer)
    async with db.read() as session:
        messages = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(2))).all()
    created, undone = reversed(messages)
    assert (created.kind, created.topics) == ("checkin.created", [checkin_list_topic(sold.default_list.id)])
    assert created.payload | {"scanned_at": None} == {
        "checkin_id": admitted.checkin.id,
        "list_id": sold.default_list.id,
        "event_id": sold.event.id,
        "ticket_id": sold.tickets[0].id,
        "ticket_type_id": sold.ticket_type.id,
        "scanned_at": None,
        "device": "Gate 1",
        "duplicate": False,
        "manual": False,
    }
    assert (undone.kind, undone.payload["checkin_id"]) == ("checkin.undone", admitted.checkin.id)
