"""An event's attendee details and questions (owners and managers), over ``events.attendee_settings`` and
``attendees.questions`` as the API uses them (the same rules and error codes, said in words at the fields): whether
each ticket needs its attendee's name and email (off, optional, required) and until when buyers may change their
details (empty: until the event starts); the questions in the order they are asked, with their kind, whether they
are required, asked once per order or once per ticket, the ticket types they are limited to and the answer they
depend on; add one; change one (its page); delete one (refused while another is asked on its answers; answers
given stay in the exports).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from boxoffice.attendees import questions as service
from boxoffice.attendees.definitions import CONDITION_KINDS, KINDS
from boxoffice.attendees.models import Question
from boxoffice.errors import Conflict, ErrorCode, FieldError, InvalidInput, NotFound
from boxoffice.events.attendee_settings import changes_close_at, update_attendee_settings
from boxoffice.events.models import Event
from boxoffice.ticketing import ticket_types as ticket_service
from boxoffice.ticketing.models import TicketType
from boxoffice.web.console.access import ConsoleRoute, OwnerOrManager, _box
from boxoffice.web.console.dashboard import owned_event
from boxoffice.web.console.event_form import local_text, parse_local, zone_of
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.render import render
from boxoffice.web.console.words import say_field
from boxoffice.web.pages.forms import whole_number

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

KIND_WORDS: dict[str, str] = {
    "text": "Short text",
    "long_text": "Long text",
    "number": "Number",
    "choice": "One choice",
    "multiple_choice": "Several choices",
    "yes_no": "Yes or no",
    "date": "Date",
    "country": "Country",
    "phone": "Phone number",
}
assert set(KIND_WORDS) == set(KINDS)
SCOPES = [("ticket", "Once per ticket (each attendee answers)"), ("order", "Once per order (the buyer answers)")]
DETAILS = [
    ("off", "Off: tickets carry the buyer's name"),
    ("optional", "Optional: buyers may name each ticket's attendee"),
    ("required", "Required: every ticket needs its attendee's name and email"),
]
NOTICES = {
    "settings": "Attendee details saved.",
    "added": "Question added: it is asked from now on.",
    "saved": "Question saved.",
    "deleted": "Question deleted: new orders no longer answer it; the answers given stay in the exports.",
}
PROBLEMS = {"dependent": "Another question is asked on this one's answers: delete that one (or its condition) first."}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _target(field: str) -> str | None:
    """The form's input for a service field (``options[2]`` -> ``options``); None: the form as a whole."""
    base = field.split("[", 1)[0]
    if base == "label":
        return "question_label"
    if field.startswith("condition.values"):
        return "condition_values"
    if field.startswith("condition"):
        return "condition_question"
    if base in ("help_text", "kind", "scope", "required", "options", "ticket_ids", "position"):
        return base
    return None


def add_question_errors(form: ConsoleForm, errors: list[FieldError]) -> None:
    for error in errors:
        target = _target(error.field)
        form.add(say_field(error.code, target or error.field, error.amounts), target)


def question_fields(form: ConsoleForm, ticket_ids: list[str], position: int) -> dict[str, Any]:
    """The form as the service's question fields (``attendees.questions.FIELDS``)."""
    fields: dict[str, Any] = {
        "label": form.get("question_label"),
        "help_text": form.get("help_text"),
        "kind": form.get("kind"),
        "required": bool(form.get("required")),
        "scope": form.get("scope") or "ticket",
        "options": _lines(form.raw("options")),
        "ticket_ids": ticket_ids,
        "position": position,
    }
    depends_on = form.get("condition_question")
    values = _lines(form.raw("condition_values"))
    if depends_on or values:
        fields["condition"] = {"question_id": depends_on, "values": values}
    return fields


def _scope(question: Question) -> str:
    return "per ticket" if question.scope == "ticket" else "per order"


def question_row(question: Question, by_id: dict[str, Question], titles: dict[str, str]) -> dict[str, Any]:
    condition = question.condition or None
    depends = None
    if condition:
        target = by_id.get(str(condition.get("question_id")))
        said = " or ".join(str(v) for v in condition.get("values") or [])
        depends = f"{target.label if target else condition.get('question_id')} is {said}"
    return {
        "question": question,
        "kind": KIND_WORDS.get(question.kind, question.kind),
        "scope": _scope(question),
        "ticket_types": ", ".join(titles.get(t, t) for t in question.ticket_type_ids or []) or "every ticket type",
        "depends": depends,
    }


async def _page(
    request: Request,
    event: Event,
    *,
    settings_form: ConsoleForm | None = None,
    form: ConsoleForm | None = None,
    ticked: list[str] | None = None,
    notice: str | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    db = _box(request).db
    questions = await service.list_questions(db, event.id)
    tickets: list[TicketType] = await ticket_service.list_ticket_types(db, event.id)
    titles = {tt.id: tt.title for tt in tickets}
    by_id = {q.id: q for q in questions}
    settings_values = {
        "attendee_details": event.attendee_details,
        "changes_until": local_text(event.changes_until, event.timezone),
    }
    context = {
        "event": event,
        "rows": [question_row(q, by_id, titles) for q in questions],
        "tickets": tickets,
        "ticked": ticked or [],
        "settings_form": settings_form or ConsoleForm(settings_values, prefix="s-"),
        "form": form or ConsoleForm({"kind": "text", "scope": "ticket"}),
        "kinds": list(KIND_WORDS.items()),
        "scopes": SCOPES,
        "details": DETAILS,
        "depends_on": [
            ("", "Always asked"),
            *((q.id, f"{q.label} ({_scope(q)})") for q in questions if q.kind in CONDITION_KINDS),
        ],
        "closes_at": local_text(changes_close_at(event), event.timezone),
        "notice": notice,
        "problem": problem,
    }
    return render(request, "console/questions.html", context, status=status)


@router.get("/manage/events/{event_id}/questions")
async def questions_page(
    request: Request,
    event_id: str,
    member: OwnerOrManager,
    done: Annotated[str, Query(max_length=32)] = "",
    problem: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    event = await owned_event(request, member, event_id)
    return await _page(request, event, notice=NOTICES.get(done), problem=PROBLEMS.get(problem))


@router.post("/manage/events/{event_id}/attendee-settings")
async def save_settings(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    form = await ConsoleForm.read(request, prefix="s-")
    unread: list[FieldError] = []
    until: object = parse_local(form.get("changes_until"), zone_of(event.timezone), "changes_until", unread)
    if unread:
        until = form.get("changes_until")  # not a time: the service refuses it beside any other problem
    try:
        await update_attendee_settings(
            _box(request).db,
            event.id,
            {"attendee_details": form.get("attendee_details"), "changes_until": until},
            organizer_id=member.organizer_id,
        )
    except InvalidInput as exc:
        form.add_errors(exc.errors)
        return await _page(request, event, settings_form=form.shown(), status=422)
    return RedirectResponse(f"/manage/events/{event.id}/questions?done=settings", status_code=303)


@router.post("/manage/events/{event_id}/questions")
async def add_question(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    db = _box(request).db
    form = await ConsoleForm.read(request)
    raw = await request.form()
    ticked = [v for v in raw.getlist("ticket_ids") if isinstance(v, str)][:100]
    existing = await service.list_questions(db, event.id)
    position = max((q.position for q in existing), default=-1) + 1
    try:
        await service.create_question(
            db, event.id, question_fields(form, ticked, position), organizer_id=member.organizer_id
        )
    except InvalidInput as exc:
        add_question_errors(form, exc.errors)
        return await _page(request, event, form=form.shown(), ticked=ticked, status=422)
    return RedirectResponse(f"/manage/events/{event.id}/questions?done=added", status_code=303)


def form_of(question: Question) -> tuple[ConsoleForm, list[str]]:
    """A stored question as the form shows it, and its ticket types ticked."""
    condition = question.condition or {}
    values = {
        "question_label": question.label,
        "help_text": question.help_text,
        "kind": question.kind,
        "required": "on" if question.required else "",
        "scope": question.scope,
        "options": "\n".join(str(o) for o in question.options or []),
        "condition_question": str(condition.get("question_id") or ""),
        "condition_values": "\n".join(str(v) for v in condition.get("values") or []),
        "position": str(question.position),
    }
    return ConsoleForm(values), [str(t) for t in question.ticket_type_ids or []]


async def _question(request: Request, event: Event, question_id: str, organizer_id: str) -> Question:
    question = await service.get_question(_box(request).db, question_id[:64], organizer_id=organizer_id)
    if question.event_id != event.id:
        raise NotFound("question not found")
    return question


async def _edit_page(
    request: Request, event: Event, question: Question, form: ConsoleForm, ticked: list[str], *, status: int = 200
) -> Response:
    db = _box(request).db
    others = [q for q in await service.list_questions(db, event.id) if q.id != question.id]
    context = {
        "event": event,
        "question": question,
        "form": form,
        "ticked": ticked,
        "tickets": await ticket_service.list_ticket_types(db, event.id),
        "kinds": list(KIND_WORDS.items()),
        "scopes": SCOPES,
        "depends_on": [
            ("", "Always asked"),
            *((q.id, f"{q.label} ({_scope(q)})") for q in others if q.kind in CONDITION_KINDS),
        ],
    }
    return render(request, "console/question_form.html", context, status=status)


@router.get("/manage/events/{event_id}/questions/{question_id}")
async def edit_question(request: Request, event_id: str, question_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    question = await _question(request, event, question_id, member.organizer_id)
    form, ticked = form_of(question)
    return await _edit_page(request, event, question, form, ticked)


@router.post("/manage/events/{event_id}/questions/{question_id}")
async def save_question(request: Request, event_id: str, question_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    question = await _question(request, event, question_id, member.organizer_id)
    form = await ConsoleForm.read(request)
    raw = await request.form()
    ticked = [v for v in raw.getlist("ticket_ids") if isinstance(v, str)][:100]
    position = whole_number(form.get("position") or "0")
    try:
        if position is None:
            raise InvalidInput.one("position", "must be a whole number", code=ErrorCode.NOT_INTEGER)
        fields = question_fields(form, ticked, position)
        fields.setdefault("condition", None)  # no question chosen: the condition is removed
        await service.update_question(_box(request).db, question.id, fields, organizer_id=member.organizer_id)
    except InvalidInput as exc:
        add_question_errors(form, exc.errors)
        return await _edit_page(request, event, question, form.shown(), ticked, status=422)
    return RedirectResponse(f"/manage/events/{event.id}/questions?done=saved", status_code=303)


@router.post("/manage/events/{event_id}/questions/{question_id}/delete")
async def delete_question(request: Request, event_id: str, question_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    db = _box(request).db
    question = await _question(request, event, question_id, member.organizer_id)
    try:
        await service.delete_question(db, question.id, organizer_id=member.organizer_id)
    except Conflict:
        return RedirectResponse(f"/manage/events/{event.id}/questions?problem=dependent", status_code=303)
    return RedirectResponse(f"/manage/events/{event.id}/questions?done=deleted", status_code=303)
