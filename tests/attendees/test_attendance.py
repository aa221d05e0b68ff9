"""Attendees in the sale on both databases: details written with the order and bad ones writing nothing, the
one-statement reservation kept for orders that ask nothing, tickets issued to attendees who become ticket holders and
stop being ones when the order is canceled, the attendee list in pages, questions kept consistent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from boxoffice.attendees import questions as questions_service
from boxoffice.attendees.rules import AttendeeInput
from boxoffice.db import Database
from boxoffice.errors import ChangesClosed, Conflict, InvalidInput
from boxoffice.events import service as events
from boxoffice.events.attendee_settings import changes_close_at, update_attendee_settings
from boxoffice.notifications import FileTransport, render_confirmation
from boxoffice.notifications.delivery import Mailer
from boxoffice.ticketing import attendance, roster, self_service
from boxoffice.ticketing.caps import NO_CAPS, BuyerCaps
from boxoffice.ticketing.orders import cancel_order, list_tickets
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.reserve_pg import _reserve_in_one_statement
from tests.helpers import database_state, make_event, make_ticket, unique_email


async def asking(db: Database, *, price: int = 0) -> tuple[str, str, str]:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, base_price_cents=price, quantity=50)
    await update_attendee_settings(db, event.id, {"attendee_details": "optional"})
    size = await questions_service.create_question(
        db, event.id, {"label": "Size", "kind": "choice", "options": ["S", "M"], "required": True}
    )
    return event.id, tt.id, size.id


def request(
    event_id: str, tt_id: str, attendees: list[AttendeeInput], answers: dict[str, object] | None = None
) -> OrderRequest:
    return OrderRequest(
        event_id=event_id,
        email=unique_email(),
        name="Bea",
        lines=[LineRequest(tt_id, len(attendees), None, attendees)],
        answers=answers,
    )


async def test_details_are_written_with_the_order_and_bad_ones_write_nothing(db: Database) -> None:
    event_id, tt_id, size = await asking(db)
    before = await database_state(db)
    with pytest.raises(InvalidInput) as exc:
        await reserve(db, request(event_id, tt_id, [AttendeeInput("Ada", None, {size: "XL"})]))
    assert [e.field for e in exc.value.errors] == [f"lines[0].attendees[0].answers.{size}"]
    assert await database_state(db) == before
    order = await reserve(
        db,
        request(
            event_id, tt_id, [AttendeeInput("Ada", "ada@example.com", {size: "S"}), AttendeeInput(answers={size: "M"})]
        ),
    )
    assert order.status == "confirmed"
    details = await attendance.order_details(db, order.id)
    tickets = {t.id for t in await list_tickets(db, order.id)}
    assert {(a.unit, a.name, a.answers[size]) for a in details.attendees.values()} == {(0, "Ada", "S"), (1, "", "M")}
    assert {a.ticket_id for a in details.attendees.values()} == tickets
    holders = {person.email: p.status for p, person in await events.list_participants(db, event_id, "ticket_holder")}
    assert holders["ada@example.com"] == "confirmed_with_order"
    await cancel_order(db, order.id)
    holders = {person.email: p.status for p, person in await events.list_participants(db, event_id, "ticket_holder")}
    assert holders["ada@example.com"] == "cancelled" and holders[order.email] == "cancelled"


async def test_the_one_statement_reservation_is_kept_for_orders_that_ask_nothing(pg_db: Database) -> None:
    now = datetime.now(UTC)
    plain = await make_event(pg_db)
    tt = await make_ticket(pg_db, plain.id, quantity=10)
    fused = await _reserve_in_one_statement(
        pg_db, request(plain.id, tt.id, [AttendeeInput()]), now, timedelta(minutes=30), _no_caps()
    )
    assert fused is not None  # an empty attendee is no detail: the flash-sale path
    carrying = request(plain.id, tt.id, [AttendeeInput("Ada")])
    assert await _reserve_in_one_statement(pg_db, carrying, now, timedelta(minutes=30), _no_caps()) is None
    event_id, tt_id, _ = await asking(pg_db, price=1500)
    assert (
        await _reserve_in_one_statement(
            pg_db, request(event_id, tt_id, [AttendeeInput()]), now, timedelta(minutes=30), _no_caps()
        )
        is None
    )


def _no_caps() -> BuyerCaps:
    return NO_CAPS


async def test_the_attendee_list_comes_in_pages_with_answers(db: Database) -> None:
    event_id, tt_id, size = await asking(db)
    company = await questions_service.create_question(
        db, event_id, {"label": "Company", "kind": "text", "scope": "order"}
    )
    first = await reserve(
        db,
        request(
            event_id,
            tt_id,
            [AttendeeInput("A", None, {size: "S"}), AttendeeInput("B", None, {size: "M"})],
            answers={company.id: "ACME"},
        ),
    )
    await reserve(db, request(event_id, tt_id, [AttendeeInput("C", None, {size: "S"})]))
    page = await roster.list_attendees(db, event_id, limit=2)
    assert len(page.entries) == 2 and page.next_after == page.entries[-1].ticket_id
    rest = await roster.list_attendees(db, event_id, after=page.next_after, limit=2)
    assert len(rest.entries) == 1 and rest.next_after is None
    entries = [e async for e in roster.iter_attendees(db, event_id, page_size=1)]
    assert [e.ticket_id for e in entries] == sorted(e.ticket_id for e in entries)
    assert sorted((e.attendee_name, e.ticket_answers[size]) for e in entries) == [("A", "S"), ("B", "M"), ("C", "S")]
    assert {e.order_answers.get(company.id) for e in entries if e.order_id == first.id} == {"ACME"}
    await cancel_order(db, first.id)
    assert [e.attendee_name for e in (await roster.list_attendees(db, event_id)).entries] == ["C"]
    assert len((await roster.list_attendees(db, event_id, include_void=True)).entries) == 3


async def test_self_service_needs_a_paid_order_before_the_cut_off(db: Database) -> None:
    event_id, tt_id, size = await asking(db, price=1500)
    pending = await reserve(db, request(event_id, tt_id, [AttendeeInput("A", None, {size: "S"})]))
    with pytest.raises(Conflict):
        await self_service.change_order_answers(db, pending.id, {})
    event_id, tt_id, size = await asking(db)
    order = await reserve(db, request(event_id, tt_id, [AttendeeInput("A", None, {size: "S"})]))
    [ticket] = await list_tickets(db, order.id)
    await update_attendee_settings(db, event_id, {"changes_until": datetime.now(UTC) - timedelta(seconds=1)})
    with pytest.raises(ChangesClosed):
        await self_service.transfer_ticket(db, order.id, ticket.id, name="Z", email="z@example.com")
    [same] = await list_tickets(db, order.id)
    assert same.code_version == 0
    await update_attendee_settings(db, event_id, {"changes_until": None})  # back to the event's start
    done = await self_service.transfer_ticket(db, order.id, ticket.id, name="Z", email="z@example.com")
    assert done.transfer.code_version == 1 and done.transfer.from_email == order.email  # the buyer held it


async def test_self_service_ends_at_the_event_s_start_or_at_an_earlier_cut_off(db: Database) -> None:
    event_id, tt_id, size = await asking(db)
    order = await reserve(db, request(event_id, tt_id, [AttendeeInput("A", None, {size: "S"})]))
    [ticket] = await list_tickets(db, order.id)
    start = (await events.get_event(db, event_id)).starts_at
    # a cut-off after the start is no later than the start
    await update_attendee_settings(db, event_id, {"changes_until": start + timedelta(days=1)})
    assert changes_close_at(await events.get_event(db, event_id)) == start
    changed = await self_service.change_attendee(db, order.id, ticket.id, name="B", now=start - timedelta(seconds=1))
    assert changed.name == "B"
    closed_calls = (
        lambda now: self_service.change_order_answers(db, order.id, {}, now=now),
        lambda now: self_service.change_attendee(db, order.id, ticket.id, name="C", now=now),
        lambda now: self_service.transfer_ticket(db, order.id, ticket.id, name="Z", email="z@example.com", now=now),
    )
    for call in closed_calls:
        with pytest.raises(ChangesClosed) as exc:
            await call(start)
        assert exc.value.closed_at == start.isoformat()
    # an earlier cut-off ends them earlier
    cut = start - timedelta(days=2)
    await update_attendee_settings(db, event_id, {"changes_until": cut})
    assert changes_close_at(await events.get_event(db, event_id)) == cut
    await self_service.change_attendee(db, order.id, ticket.id, name="D", now=cut - timedelta(seconds=1))
    for call in closed_calls:
        with pytest.raises(ChangesClosed) as exc:
            await call(cut)
        assert exc.value.closed_at == cut.isoformat()
    [same] = await list_tickets(db, order.id)
    assert same.code_version == 0 and (await attendance.order_details(db, order.id)).by_ticket()[ticket.id].name == "D"


async def test_a_question_asked_on_another_cannot_pull_the_rug(db: Database) -> None:
    event_id, _, size = await asking(db)
    follow = await questions_service.create_question(
        db, event_id, {"label": "Why S?", "kind": "text", "condition": {"question_id": size, "values": ["S"]}}
    )
    with pytest.raises(InvalidInput) as exc:
        await questions_service.update_question(db, size, {"options": ["M", "L"]})
    assert [e.field for e in exc.value.errors] == ["options"]
    with pytest.raises(Conflict):
        await questions_service.delete_question(db, size)
    await questions_service.delete_question(db, follow.id)
    await questions_service.delete_question(db, size)
    event = await events.get_event(db, event_id)
    assert event.question_count == 0 and [q.id for q in await questions_service.list_questions(db, event_id)] == []


async def test_the_confirmation_names_each_ticket_s_attendee(sqlite_db: Database, tmp_path: Path) -> None:
    event_id, tt_id, size = await asking(sqlite_db)
    order = await reserve(
        sqlite_db,
        request(event_id, tt_id, [AttendeeInput("Ada", None, {size: "S"}), AttendeeInput(answers={size: "M"})]),
    )
    mailer = Mailer(sqlite_db, FileTransport(tmp_path), secret=b"k", sender="s@example.com", public_url="http://x")
    context = await mailer.context(order.id)
    assert sorted(t.holder for t in context.tickets) == ["", "Ada"]
    message = render_confirmation(context, sender="s@example.com", dedupe_key="k")
    assert "(for Ada)" in message.as_string()
