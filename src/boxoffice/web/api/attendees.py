"""The API of attendees and questions: an event's questions and attendee settings (organizers), what an order will be
asked (public), and self-service changes and transfers through the order's token (buyers)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from boxoffice.accounts import service as accounts
from boxoffice.attendees import questions as questions_service
from boxoffice.attendees.models import Attendee, Question
from boxoffice.errors import NotFound, Unauthorized
from boxoffice.events import service as events
from boxoffice.events.attendee_settings import changes_close_at, update_attendee_settings
from boxoffice.events.models import Event
from boxoffice.notifications.codes import ticket_code
from boxoffice.ticketing import self_service
from boxoffice.web.api import attendee_schemas as a
from boxoffice.web.api.deps import Box, BuyerOrder, Organizer
from boxoffice.web.api.routes import PROBLEMS

router = APIRouter(prefix="/api/v1", responses=PROBLEMS)


def question_out(q: Question) -> a.QuestionOut:
    return a.QuestionOut(
        id=q.id,
        event_id=q.event_id,
        label=q.label,
        help_text=q.help_text,
        kind=q.kind,
        required=q.required,
        scope=q.scope,
        options=[str(o) for o in q.options or []],
        ticket_ids=[str(t) for t in q.ticket_type_ids or []],
        condition=q.condition,
        position=q.position,
        created_at=q.created_at,
        updated_at=q.updated_at,
    )


def settings_out(event: Event) -> a.AttendeeSettingsOut:
    return a.AttendeeSettingsOut(
        event_id=event.id,
        attendee_details=event.attendee_details,
        changes_until=event.changes_until,
        changes_close_at=changes_close_at(event),
        question_count=event.question_count,
    )


# -- organizers ----------------------------------------------------------------------------------------------------


@router.post(
    "/events/{event_id}/questions",
    status_code=201,
    response_model=a.QuestionOut,
    tags=["organizer"],
    summary="Add a question",
)
async def create_question(event_id: str, body: a.QuestionCreate, box: Box, organizer: Organizer) -> a.QuestionOut:
    question = await questions_service.create_question(
        box.db, event_id, body.model_dump(exclude_unset=True), organizer_id=organizer.id
    )
    return question_out(question)


@router.get("/questions/{question_id}", response_model=a.QuestionOut, tags=["organizer"], summary="Get a question")
async def get_question(question_id: str, box: Box, organizer: Organizer) -> a.QuestionOut:
    return question_out(await questions_service.get_question(box.db, question_id, organizer_id=organizer.id))


@router.patch("/questions/{question_id}", response_model=a.QuestionOut, tags=["organizer"], summary="Change a question")
async def patch_question(question_id: str, body: a.QuestionFields, box: Box, organizer: Organizer) -> a.QuestionOut:
    question = await questions_service.update_question(
        box.db, question_id, body.model_dump(exclude_unset=True), organizer_id=organizer.id
    )
    return question_out(question)


@router.delete("/questions/{question_id}", status_code=204, tags=["organizer"], summary="Delete a question")
async def delete_question(question_id: str, box: Box, organizer: Organizer) -> Response:
    """New orders are no longer asked it; the answers already given stay with their orders and in the attendee
    list. 409 while another question is asked on its answers."""
    await questions_service.delete_question(box.db, question_id, organizer_id=organizer.id)
    return Response(status_code=204)


@router.get(
    "/events/{event_id}/attendee-settings",
    response_model=a.AttendeeSettingsOut,
    tags=["organizer"],
    summary="Attendee settings",
)
async def get_settings(event_id: str, box: Box, organizer: Organizer) -> a.AttendeeSettingsOut:
    return settings_out(await events.get_event(box.db, event_id, organizer_id=organizer.id))


@router.patch(
    "/events/{event_id}/attendee-settings",
    response_model=a.AttendeeSettingsOut,
    tags=["organizer"],
    summary="Change the attendee settings",
)
async def patch_settings(
    event_id: str, body: a.AttendeeSettingsIn, box: Box, organizer: Organizer
) -> a.AttendeeSettingsOut:
    event = await update_attendee_settings(
        box.db, event_id, body.model_dump(exclude_unset=True), organizer_id=organizer.id
    )
    return settings_out(event)


# -- public ----------------------------------------------------------------------------------------------------


async def _visible_event(box: Box, event_id: str, request: Request) -> Event:
    """The event as the public sees it (a draft is unknown), or any of the organizer's own with their API key (read
    from the header here: the operation is public, and says so in the schema)."""
    scheme, _, raw = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and raw.startswith(accounts.KEY_PREFIX):
        try:
            organizer = await accounts.authenticate(box.db, raw)
            return await events.get_event(box.db, event_id, organizer_id=organizer.id)
        except (Unauthorized, NotFound):
            pass  # not a key of this event's organizer: the public's view
    return await events.get_public_event(box.db, event_id)


@router.get(
    "/events/{event_id}/questions",
    response_model=a.EventQuestionsOut,
    tags=["buyers"],
    summary="What an order is asked",
)
async def event_questions(event_id: str, box: Box, request: Request) -> a.EventQuestionsOut:
    """The attendee setting and the questions in the order they are asked, for API clients that build their own
    forms; the same list for the event's organizer (with an API key it also answers for a draft event)."""
    event = await _visible_event(box, event_id, request)
    return a.EventQuestionsOut(
        event_id=event.id,
        attendee_details=event.attendee_details,
        changes_close_at=changes_close_at(event),
        questions=[question_out(q) for q in await questions_service.list_questions(box.db, event.id)],
    )


# -- buyers (the order's token) ------------------------------------------------------------------------------------


@router.patch(
    "/orders/{order_id}/answers", response_model=a.OrderAnswersOut, tags=["buyers"], summary="Change the answers"
)
async def patch_answers(order: BuyerOrder, body: a.OrderAnswersIn, box: Box) -> a.OrderAnswersOut:
    """Until the event starts (or the organizer's cut-off: 409 `changes-closed` after it), for a paid order."""
    answers = await self_service.change_order_answers(box.db, order.id, body.answers)
    return a.OrderAnswersOut(order_id=order.id, answers=answers)


def attendee_out(attendee: Attendee) -> a.TicketAttendeeOut:
    assert attendee.ticket_id is not None
    return a.TicketAttendeeOut(
        ticket_id=attendee.ticket_id, name=attendee.name, email=attendee.email, answers=attendee.answers or {}
    )


@router.patch(
    "/orders/{order_id}/tickets/{ticket_id}",
    response_model=a.TicketAttendeeOut,
    tags=["buyers"],
    summary="Change a ticket's attendee",
)
async def patch_ticket_attendee(
    order: BuyerOrder, ticket_id: str, body: a.TicketAttendeePatch, box: Box
) -> a.TicketAttendeeOut:
    """Until the event starts (or the organizer's cut-off: 409 `changes-closed` after it), for a paid order."""
    changes = body.model_dump(exclude_unset=True)
    attendee = await self_service.change_attendee(
        box.db,
        order.id,
        ticket_id,
        name=changes["name"] if changes.get("name") is not None else self_service.UNSET,
        answers=body.answers,
    )
    return attendee_out(attendee)


@router.post(
    "/orders/{order_id}/tickets/{ticket_id}/transfer",
    status_code=201,
    response_model=a.TransferOut,
    tags=["buyers"],
    summary="Hand a ticket to someone else",
)
async def transfer_ticket(order: BuyerOrder, ticket_id: str, body: a.TransferIn, box: Box) -> a.TransferOut:
    """The ticket gets a new code (the old one no longer admits at the door), the new holder becomes a ticket
    holder of the event, both people get an email, and `ticket.transferred` is recorded. Until the event starts
    (or the organizer's cut-off: 409 `changes-closed` after it), for a paid order."""
    done = await self_service.transfer_ticket(
        box.db, order.id, ticket_id, name=body.name, email=body.email, answers=body.answers
    )
    t = done.transfer
    return a.TransferOut(
        transfer_id=t.id,
        ticket_id=t.ticket_id,
        code=ticket_code(t.ticket_id, t.code_version, box.settings.secret_bytes),
        code_version=t.code_version,
        from_name=t.from_name,
        from_email=t.from_email,
        to_name=t.to_name,
        to_email=t.to_email,
        created_at=t.created_at,
    )
