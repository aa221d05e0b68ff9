"""The buyer pages' attendee and question fields: what to show (``QuestionField``), reading them back from a form,
and the service's field errors pointed at them in words.

Input names: ``a_<question id>`` for the order's answers; ``t_<ticket type id>_<n>_name``, ``..._email`` and
``t_<ticket type id>_<n>_a_<question id>`` for the ``n``-th ticket (from 0) of a ticket type (one line per ticket
type on the event page). A multiple choice sends one value per box ticked. Element ids are the names with ``-``.
Conditions are shown as hints; the answer to a question whose condition is not met is dropped by the service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from boxoffice.attendees import rules
from boxoffice.attendees.models import Question
from boxoffice.attendees.questions import list_questions
from boxoffice.clock import utcnow
from boxoffice.container import Boxoffice
from boxoffice.errors import FieldError
from boxoffice.events.attendee_settings import changes_close_at
from boxoffice.events.models import Event
from boxoffice.ticketing import attendance
from boxoffice.ticketing.models import SOLD_STATUSES, Order
from boxoffice.web.pages.forms import CheckoutForm
from boxoffice.web.pages.render import _moment
from boxoffice.web.pages.words import say

MAX_ANSWER = rules.MAX_LONG_TEXT + 100  # longer values are cut before they are read or echoed

KIND_WORDS = {"yes_no": {True: "Yes", False: "No"}}


@dataclass
class QuestionField:
    """One question as an input of a page: ``name`` (the form's), ``id`` (the element's), the value to show."""

    id: str
    name: str
    question_id: str
    label: str
    help_text: str
    kind: str
    required: bool
    options: Sequence[str]
    condition_text: str
    value: Any = None

    def yes_no(self) -> bool | None:
        """A yes/no answer as stored (true/false) or as a form sent it (yes/no)."""
        if isinstance(self.value, bool):
            return self.value
        if isinstance(self.value, str):
            return {"yes": True, "true": True, "no": False, "false": False}.get(self.value.strip().lower())
        return None

    def chosen(self, option: str) -> bool:
        if isinstance(self.value, list):
            return option in self.value
        return bool(self.value == option)


@dataclass
class TicketFields:
    """The inputs of one ticket's attendee: name and email as the event asks, and its questions."""

    prefix: str  # of the input names: ``t_<ticket type id>_<n>_``
    title: str
    number: int
    ask_identity: bool
    identity_required: bool
    name: str = ""
    email: str = ""
    questions: list[QuestionField] = field(default_factory=list)

    def input_id(self, part: str) -> str:
        return f"{self.prefix}{part}".replace("_", "-")


def _condition_text(question: Question, by_id: Mapping[str, Question]) -> str:
    if not question.condition:
        return ""
    target = by_id.get(str(question.condition.get("question_id")))
    if target is None:
        return ""
    values = [str(v).capitalize() if target.kind == "yes_no" else str(v) for v in question.condition["values"]]
    said = " or ".join(f"“{v}”" for v in values)
    return f"Only if you answered {said} to “{target.label}”."


def question_fields(
    questions: Sequence[Question], *, scope: str, ticket_type_ids: Sequence[str], prefix: str, values: Mapping[str, Any]
) -> list[QuestionField]:
    """The inputs of the questions of ``scope`` asked for ``ticket_type_ids``, named ``<prefix>a_<id>``."""
    by_id = {q.id: q for q in questions}
    out = []
    for q in questions:
        rule = rules.QuestionRule(q.id, q.kind, scope=q.scope, ticket_type_ids=frozenset(q.ticket_type_ids or ()))
        if q.scope != scope or not rule.applies_to(ticket_type_ids):
            continue
        name = f"{prefix}a_{q.id}"
        out.append(
            QuestionField(
                id=name.replace("_", "-"),
                name=name,
                question_id=q.id,
                label=q.label,
                help_text=q.help_text,
                kind=q.kind,
                required=q.required,
                options=[str(o) for o in q.options or []],
                condition_text=_condition_text(q, by_id),
                value=values.get(q.id),
            )
        )
    return out


def form_value(raw: FormData, name: str, kind: str) -> Any:
    """What a form sent for one question (a list for a multiple choice; None when nothing)."""
    if kind == "multiple_choice":
        return [v[:MAX_ANSWER] for v in raw.getlist(name) if isinstance(v, str) and v] or None
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        return None
    return value[:MAX_ANSWER]


def read_answers(raw: FormData, questions: Sequence[QuestionField]) -> dict[str, Any]:
    """The answers a form gives to ``questions`` (unanswered ones left out)."""
    answers = {}
    for q in questions:
        value = form_value(raw, q.name, q.kind)
        if value is not None:
            answers[q.question_id] = value
    return answers


def text_of(value: Any, kind: str) -> str:
    """An answer as a buyer reads it."""
    if isinstance(value, bool):
        return KIND_WORDS["yes_no"][value]
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if kind == "country" and isinstance(value, str):
        return rules.COUNTRIES.get(value, value)
    return "" if value is None else str(value)


_PATH = re.compile(r"^(?:lines\[(?P<line>\d+)\]\.attendees(?:\[(?P<unit>\d+)\](?:\.(?P<part>name|email|answers))?)?)?")


def is_details_error(error: FieldError) -> bool:
    return error.field.startswith("answers") or ".attendees" in error.field


def details_problem(
    error: FieldError,
    *,
    labels: Mapping[str, Question],
    line_prefixes: Sequence[str],
    order_prefix: str = "",
) -> tuple[str, str | None]:
    """The words and the input id of an attendee or answer error of the service (``answers.q_1``,
    ``lines[0].attendees[1].answers.q_2``, ``lines[0].attendees[1].email``); ``line_prefixes[i]`` is the input
    name prefix of line ``i``'s tickets without the unit (``t_<ticket type id>_``)."""
    path = error.field
    match = _PATH.match(path)
    prefix = order_prefix
    rest = path
    ticket_words = ""
    if match and match.group("line") is not None:
        line = int(match.group("line"))
        unit = match.group("unit")
        base = line_prefixes[line] if line < len(line_prefixes) else ""
        if unit is None:  # the line's attendees as a whole
            return say(error.code, "attendees", what="the ticket holders", amounts=error.amounts), None
        prefix = f"{base}{unit}_"
        ticket_words = f" for ticket {int(unit) + 1}"
        part = match.group("part")
        if part in ("name", "email"):
            what = ("the name" if part == "name" else "the email address") + f" of the holder of ticket {int(unit) + 1}"
            spot = f"{prefix}{part}".replace("_", "-")
            return say(error.code, f"attendee_{part}", what=what, amounts=error.amounts), spot
        rest = path[match.end() :].lstrip(".")
    question_id = rest.removeprefix("answers.").split("[", 1)[0]
    question = labels.get(question_id)
    what = f"“{question.label}”{ticket_words}" if question is not None else f"your answers{ticket_words}"
    kind = question.kind if question is not None else "answers"
    target = f"{prefix}a_{question_id}".replace("_", "-") if question is not None else None
    return say(error.code, kind, what=what, amounts=error.amounts), target


@dataclass
class DetailsForm:
    """The attendee and question inputs of an order on the event page, with what the form sent for them."""

    order_questions: list[QuestionField]
    tickets: list[TicketFields]
    line_prefixes: list[str]
    answers: dict[str, Any]
    attendees: list[list[rules.AttendeeInput]]  # per line

    def problems(self, errors: Sequence[FieldError], questions: Sequence[Question]) -> list[tuple[str, str | None]]:
        labels = {q.id: q for q in questions}
        return [details_problem(e, labels=labels, line_prefixes=self.line_prefixes) for e in errors]


def details_form(
    raw: FormData | None,
    attendee_details: str,
    questions: Sequence[Question],
    lines: Sequence[tuple[str, str, int]],
) -> DetailsForm:
    """The inputs for ``lines`` (ticket type id, title, quantity) and, from ``raw`` (None: a fresh form), what
    they hold."""
    empty = FormData()
    form = raw if raw is not None else empty
    ask_identity = attendee_details != "off"
    order_questions = question_fields(
        questions, scope="order", ticket_type_ids=[tt for tt, _, _ in lines], prefix="", values={}
    )
    answers = read_answers(form, order_questions)
    for q in order_questions:
        q.value = answers.get(q.question_id)
    tickets: list[TicketFields] = []
    attendees: list[list[rules.AttendeeInput]] = []
    prefixes: list[str] = []
    for tt_id, title, quantity in lines:
        base = f"t_{tt_id}_"
        prefixes.append(base)
        per_ticket = question_fields(questions, scope="ticket", ticket_type_ids=[tt_id], prefix="", values={})
        given: list[rules.AttendeeInput] = []
        if ask_identity or per_ticket:
            for n in range(quantity):
                prefix = f"{base}{n}_"
                fields = question_fields(questions, scope="ticket", ticket_type_ids=[tt_id], prefix=prefix, values={})
                ticket_answers = read_answers(form, fields)
                for q in fields:
                    q.value = ticket_answers.get(q.question_id)
                name = form_value(form, f"{prefix}name", "text") or ""
                email = form_value(form, f"{prefix}email", "text") or ""
                tickets.append(
                    TicketFields(
                        prefix=prefix,
                        title=title,
                        number=len(tickets) + 1,
                        ask_identity=ask_identity,
                        identity_required=attendee_details == "required",
                        name=str(name)[:MAX_ANSWER],
                        email=str(email)[:MAX_ANSWER],
                        questions=fields,
                    )
                )
                given.append(
                    rules.AttendeeInput(
                        (name or None) if ask_identity else None,
                        (email or None) if ask_identity else None,
                        ticket_answers,
                    )
                )
        attendees.append(given)
    return DetailsForm(order_questions, tickets, prefixes, answers, attendees)


async def attendee_context(
    box: Boxoffice,
    order: Order,
    event: Event,
    tickets: list[dict[str, Any]],
    form: CheckoutForm | None,
    query: Mapping[str, str],
) -> dict[str, Any]:
    """What the order page shows of its attendees and answers, and its self-service forms (``tickets``: the page's
    ticket entries, given each one's holder, answers and form inputs)."""
    asked = await list_questions(box.db, event.id, include_deleted=True)
    labels = {q.id: q for q in asked}
    live = [q for q in asked if q.deleted_at is None]
    details = await attendance.order_details(box.db, order.id)
    by_ticket = details.by_ticket()
    close_at = changes_close_at(event)
    sold = order.status in SOLD_STATUSES
    changes_open = sold and utcnow() < close_at
    types = [line.ticket_type_id for line in order.lines]

    def said(answers: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [
            (labels[k].label if k in labels else k, text_of(v, labels[k].kind if k in labels else ""))
            for k, v in answers.items()
        ]

    for ticket in tickets:
        attendee = by_ticket.get(ticket["id"])
        ticket["holder_name"] = attendee.name if attendee is not None else ""
        ticket["holder_email"] = attendee.email if attendee is not None else ""
        ticket["answers"] = said(attendee.answers or {}) if attendee is not None else []
        prefix = f"e_{ticket['id']}_"
        ticket["edit_prefix"] = prefix
        ticket["edit_fields"] = question_fields(
            live,
            scope="ticket",
            ticket_type_ids=[ticket["ticket_type_id"]],
            prefix=prefix,
            values=attendee.answers or {} if attendee is not None else {},
        )
        ticket["ask_name"] = event.attendee_details != "off" or bool(ticket["holder_name"])
    answer_fields = question_fields(live, scope="order", ticket_type_ids=types, prefix="", values=details.answers)
    notices = {"answers": "Your answers are saved.", "ticket": "The ticket's details are saved."}
    notice = notices.get(query.get("changed", ""), "")
    if query.get("handed"):
        notice = "The ticket was handed on: it has a new code, and both people were emailed."
    form = form or CheckoutForm()
    return {
        "order_answers": said(details.answers),
        "answer_fields": answer_fields,
        "changes_open": changes_open,
        "changes_close_text": _moment(close_at, event),
        "self_service_notice": notice,
        "problems": form.problems,
        "field_errors": form.field_errors(),
        "form": form.values,
        "countries": rules.COUNTRIES,
    }
