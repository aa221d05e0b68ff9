"""An event's attendees (owners and managers): every valid ticket with who holds it (the attendee, else the buyer),
its order, and the answers to the event's questions, 50 a page by ticket id (``ticketing.roster``); search by part of
a name or an email (the buyer's or the attendee's), an order or ticket id, or a ticket code (verified with the secret
key, as on the orders page). ``order_attendees``: one order's tickets, attendees and answers, for its page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from boxoffice.attendees.models import Question
from boxoffice.attendees.questions import list_questions
from boxoffice.db import Database
from boxoffice.notifications.codes import InvalidTicketCode, read_ticket_code
from boxoffice.ticketing import attendance
from boxoffice.ticketing.models import Order
from boxoffice.ticketing.orders import list_tickets
from boxoffice.ticketing.roster import RosterEntry, list_attendees
from boxoffice.web.console.access import ConsoleRoute, OwnerOrManager, _box
from boxoffice.web.console.dashboard import owned_event
from boxoffice.web.console.render import render
from boxoffice.web.pages.questions import text_of

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

PAGE = 50


def said(answers: Mapping[str, Any], questions: Mapping[str, Question]) -> list[tuple[str, str]]:
    """Answers in words (label, answer), in the order stored (the questions' order)."""
    out: list[tuple[str, str]] = []
    for question_id, value in answers.items():
        question = questions.get(question_id)
        text = text_of(value, question.kind if question is not None else "")
        if text:
            out.append((question.label if question is not None else question_id, text))
    return out


def answers_of(entry: RosterEntry, questions: Mapping[str, Question]) -> list[tuple[str, str]]:
    """The entry's answers in words (label, answer), the order's first, in the questions' order."""
    return said(entry.order_answers, questions) + said(entry.ticket_answers, questions)


async def order_attendees(db: Database, order: Order) -> dict[str, Any]:
    """For the console's order page: the order's answers in words, and each ticket with its attendee and answers."""
    details = await attendance.order_details(db, order.id)
    questions = {q.id: q for q in await list_questions(db, order.event_id, include_deleted=True)}
    titles = {line.id: line.title for line in order.lines}
    holders = details.by_ticket()
    rows = []
    for ticket in await list_tickets(db, order.id):
        attendee = holders.get(ticket.id)
        rows.append(
            {
                "ticket": ticket,
                "title": titles.get(ticket.order_line_id, ""),
                "name": attendee.name if attendee is not None else "",
                "email": attendee.email if attendee is not None else "",
                "answers": said(attendee.answers or {}, questions) if attendee is not None else [],
            }
        )
    return {"order_answers": said(details.answers, questions), "tickets": rows}


@router.get("/manage/events/{event_id}/attendees")
async def attendees_page(
    request: Request,
    event_id: str,
    member: OwnerOrManager,
    q: Annotated[str, Query(max_length=200)] = "",
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    event = await owned_event(request, member, event_id)
    box = _box(request)
    text = q.strip()
    ticket_id = None
    if text and "@" not in text and " " not in text and len(text) > 20 and not text.startswith("ord_"):
        try:
            ticket_id, _version = read_ticket_code(text, box.settings.secret_bytes, box.settings.previous_secret_bytes)
        except InvalidTicketCode:
            ticket_id = None
    page = await list_attendees(box.db, event.id, after=after, limit=PAGE, text=text, ticket_id=ticket_id)
    questions = {question.id: question for question in await list_questions(box.db, event.id, include_deleted=True)}
    rows: list[dict[str, Any]] = [{"entry": entry, "answers": answers_of(entry, questions)} for entry in page.entries]
    context = {"event": event, "rows": rows, "q": text, "next_after": page.next_after, "first_page": after is None}
    return render(request, "console/attendees.html", context)
