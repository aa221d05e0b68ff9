"""Request and response bodies of attendees, questions and answers (``web/api/attendees.py``; the order bodies in
``schemas.py`` take them). The rules JSON Schema can state are in the schema; the rest (which questions an event
has, what its attendee setting asks, conditions) are answered with 422 naming the field, by ``attendees.rules``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool, field_validator
from pydantic.config import ConfigDict, JsonValue

from boxoffice.attendees import rules
from boxoffice.web.api.answer_fields import Answers, PersonName, QuestionId
from boxoffice.web.api.described import about
from boxoffice.web.api.fields import DateTime, Email, Name, NoNul, Position, Title
from boxoffice.web.api.schemas import Strict, _not_null

_OPTIONS = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=rules.MAX_OPTION), NoNul]], Field(max_length=rules.MAX_OPTIONS)
]
_CHOICES: list[str] = list(rules.OPTION_KINDS)
_KIND = Literal["text", "long_text", "number", "choice", "multiple_choice", "yes_no", "date", "country", "phone"]
_NOT_NULL_QUESTION = ("label", "help_text", "kind", "required", "scope", "options", "ticket_ids", "position")

# What the fields of a question mean, in its request and response bodies alike.
_QUESTION_ID = "A question's id (`q_...`), as the event's questions list it."
_LABEL = "The question as buyers read it on the order form (one line)."
_HELP = "A hint shown under the question on the order form (may be empty)."
_KIND_TEXT = (
    "What kind of answer it takes: `text` (one line, at most 200 characters), `long_text` (at most 5,000), "
    "`number`, `choice` (one of `options`), `multiple_choice` (a list of them), `yes_no` (true or false), `date` "
    "(YYYY-MM-DD), `country` (ISO 3166-1 alpha-2) or `phone` (with its country code)."
)
_REQUIRED = "Whether an order (or each ticket, per `scope`) must answer it; a required question not asked (its "
_REQUIRED += "condition unmet) needs no answer."
_SCOPE = "`order`: asked once per order (its answers in the order's `answers`); `ticket`: once per ticket (in each "
_SCOPE += "attendee's `answers`)."
_OPTIONS_TEXT = "`choice` and `multiple_choice`: the options offered, in order (all different); other kinds: none."
_TICKET_IDS = "Asked only for these ticket types of the event (per order: orders with one of them); empty: for all."
_CONDITION = (
    "Asked only when another question of the event, of the same scope, was answered with one of `values`; null: "
    "always asked."
)
_POSITION = "Where it is asked among the event's questions (lower first; the same: the older first)."
_CONDITION_EXAMPLE: dict[str, JsonValue] = {"question_id": "q_9a1d3e5b7c2f4a6e8d0b", "values": ["yes"]}
_QUESTION_EXAMPLE: dict[str, JsonValue] = {
    "id": "q_5f0c2a9e7b31d4c86a0f",
    "event_id": "ev_b9aea6add483ac60e4eb",
    "label": "Dietary requirements",
    "help_text": "We cook vegetarian; tell us if you need something else.",
    "kind": "choice",
    "required": True,
    "scope": "ticket",
    "options": ["vegetarian", "vegan", "gluten-free"],
    "ticket_ids": [],
    "condition": _CONDITION_EXAMPLE,
    "position": 1,
    "created_at": "2027-01-15T10:35:00Z",
    "updated_at": "2027-01-15T10:35:00Z",
}
_ORDER_ANSWERS = "Answers to the event's per-order questions, by question id."
_TICKET_ANSWERS = "Answers to the event's per-ticket questions for this ticket, by question id."
_ANSWERS_EXAMPLE = {"q_5f0c2a9e7b31d4c86a0f": "vegan", "q_9a1d3e5b7c2f4a6e8d0b": True}
_CHANGES_CLOSE = "When self-service changes (answers, attendees, transfers) end: the organizer's cut-off "
_CHANGES_CLOSE += "(`changes_until`) if earlier than the event's start, else the start. In UTC."
_DETAILS = (
    "Whether each ticket needs its attendee's name and email: `off` (not asked), `optional` (asked, may be left "
    "empty) or `required` (both needed)."
)


class ConditionIn(Strict):
    question_id: QuestionId = about(
        "The question whose answer decides: another question of the event, of the same scope, of kind choice, "
        "multiple_choice, yes_no or country.",
        "q_9a1d3e5b7c2f4a6e8d0b",
    )
    values: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=rules.MAX_OPTION), NoNul]],
        Field(min_length=1, max_length=rules.MAX_OPTIONS),
    ] = about(
        "The answers that make this question asked: options of that question, `yes` or `no`, or country codes "
        "(multiple_choice: any one of them chosen).",
        ["yes"],
    )


_QUESTION_RULES_TEXT = (
    "Rules against stored state, answered with 422 and not in the schema: `ticket_ids` name ticket types of the "
    "event; the condition names another question of the event, of the same scope, of kind choice, multiple_choice, "
    "yes_no or country, with values that question can have (its options; yes or no; country codes), and no loop of "
    "conditions; options are all different; changing a question keeps the conditions of the questions asked on its "
    "answers possible."
)


class QuestionFields(Strict):
    __doc__ = "The fields to change (the question as it will be is checked whole). " + _QUESTION_RULES_TEXT
    NOT_NULL = _NOT_NULL_QUESTION

    label: Title | None = about(_LABEL, "Dietary requirements", default=None)
    help_text: Annotated[str, Field(max_length=rules.MAX_HELP), NoNul] | None = about(
        _HELP + " Default empty.", "We cook vegetarian; tell us if you need something else.", default=None
    )
    kind: _KIND | None = about(_KIND_TEXT, "choice", default=None)
    required: StrictBool | None = about(_REQUIRED + " Default false.", True, default=None)
    scope: Literal["order", "ticket"] | None = about(_SCOPE + " Default `ticket`.", "ticket", default=None)
    options: _OPTIONS | None = about(_OPTIONS_TEXT, ["vegetarian", "vegan", "gluten-free"], default=None)
    ticket_ids: Annotated[list[QuestionId], Field(max_length=rules.MAX_TICKET_TYPES)] | None = about(
        _TICKET_IDS + " Default empty.", ["tt_41c7e2f09a6b3d58e210"], default=None
    )
    condition: ConditionIn | None = about(_CONDITION, _CONDITION_EXAMPLE, default=None)
    position: Position | None = about(_POSITION + " Default 0.", 1, default=None)

    _not_null = field_validator(*_NOT_NULL_QUESTION, mode="before")(_not_null)


_CHOICE_KIND: dict[str, JsonValue] = {"required": ["kind"], "properties": {"kind": {"enum": list(_CHOICES)}}}
_OTHER_KIND: dict[str, JsonValue] = {
    "required": ["kind"],
    "properties": {"kind": {"enum": [k for k in rules.KINDS if k not in rules.OPTION_KINDS]}},
}


class QuestionCreate(QuestionFields):
    __doc__ = (
        "A question: `choice` and `multiple_choice` need `options`, the other kinds take none. " + _QUESTION_RULES_TEXT
    )
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": _CHOICE_KIND,
                    "then": {"required": ["options"], "properties": {"options": {"type": "array", "minItems": 1}}},
                },
                {"if": _OTHER_KIND, "then": {"properties": {"options": {"type": "array", "maxItems": 0}}}},
            ]
        }
    )

    label: Title = about(_LABEL, "Dietary requirements")
    kind: _KIND = about(_KIND_TEXT, "choice")


class QuestionOut(BaseModel):
    id: str = about("The question's id: its answers are given under it.", "q_5f0c2a9e7b31d4c86a0f")
    event_id: str = about("The event that asks it.", "ev_b9aea6add483ac60e4eb")
    label: str = about(_LABEL, "Dietary requirements")
    help_text: str = about(_HELP, "We cook vegetarian; tell us if you need something else.")
    kind: str = about(_KIND_TEXT, "choice")
    required: bool = about(_REQUIRED, True)
    scope: str = about(_SCOPE, "ticket")
    options: list[str] = about(_OPTIONS_TEXT, ["vegetarian", "vegan", "gluten-free"])
    ticket_ids: list[str] = about(_TICKET_IDS, [])
    condition: dict[str, Any] | None = about(
        _CONDITION + " An object with `question_id` and `values`.", _CONDITION_EXAMPLE
    )
    position: int = about(_POSITION, 1)
    created_at: datetime = about("When the question was added, in UTC.", "2027-01-15T10:35:00Z")
    updated_at: datetime = about("When it was last changed, in UTC.", "2027-01-20T08:00:00Z")


class AttendeeSettingsIn(Strict):
    """`changes_until`: until when buyers may change answers and attendees and hand tickets on (null: until the
    event starts, never later)."""

    NOT_NULL = ("attendee_details",)

    attendee_details: Literal["off", "optional", "required"] | None = about(_DETAILS, "required", default=None)
    changes_until: DateTime | None = about(
        "Until when buyers may change answers and attendees and hand tickets on (RFC 3339 with an offset); null: "
        "until the event starts. A time after the start counts as the start.",
        "2027-06-10T22:00:00Z",
        default=None,
    )

    _not_null = field_validator("attendee_details", mode="before")(_not_null)


class AttendeeSettingsOut(BaseModel):
    event_id: str = about("The event.", "ev_b9aea6add483ac60e4eb")
    attendee_details: str = about(_DETAILS, "required")
    changes_until: datetime | None = about(
        "The organizer's cut-off for self-service changes, in UTC; null: until the event starts.",
        "2027-06-10T22:00:00Z",
    )
    changes_close_at: datetime = about(_CHANGES_CLOSE, "2027-06-10T22:00:00Z")
    question_count: int = about("How many questions the event asks.", 2)


class EventQuestionsOut(BaseModel):
    """What an order of the event is asked."""

    event_id: str = about("The event.", "ev_b9aea6add483ac60e4eb")
    attendee_details: str = about(_DETAILS, "optional")
    changes_close_at: datetime = about(_CHANGES_CLOSE, "2027-06-12T17:00:00Z")
    questions: list[QuestionOut] = about(
        "The event's questions, in the order they are asked (`position`); per-order and per-ticket ones alike.",
        [_QUESTION_EXAMPLE],
    )


class OrderAnswersIn(Strict):
    """The order's answers to change (a question given null loses its answer); the result is checked whole."""

    answers: Answers = about(
        _ORDER_ANSWERS + " Given ones replace the current answer; null removes it; the others stay.",
        {"q_7c3e9a1f5b2d4e6a8c0f": "Berlin", "q_1e3a5c7b9d2f4a6c8e0b": None},
    )


class OrderAnswersOut(BaseModel):
    order_id: str = about("The order.", "ord_5f0c2a9e7b31d4c86a0f")
    answers: dict[str, Any] = about(
        "The order's answers to the per-order questions after the change, by question id, as stored (cleaned).",
        {"q_7c3e9a1f5b2d4e6a8c0f": "Berlin"},
    )


class TicketAttendeePatch(Strict):
    """The ticket's attendee name and answers to change (answers over the current ones; null clears one). The email
    is changed by handing the ticket on (`.../transfer`)."""

    name: Name | None = about("The attendee's new name; left out or null: unchanged.", "Grace B. Hopper", default=None)
    answers: Answers | None = about(
        _TICKET_ANSWERS + " Given ones replace the current answer; null removes it; the others stay.",
        _ANSWERS_EXAMPLE,
        default=None,
    )


class TransferIn(Strict):
    """Hand the ticket to someone else: a new code is issued (the old one no longer admits) and both people get an
    email. `email` must not be the current holder's; `answers` (over the ticket's current ones) follow the event's
    per-ticket questions."""

    name: PersonName = about("The new holder's name.", "Katherine Johnson")
    email: Email = about(
        "The new holder's email address: the ticket with its new code is sent there.", "katherine@example.com"
    )
    answers: Answers | None = about(
        _TICKET_ANSWERS + " Given over the ticket's current answers (null removes one); left out: they stay.",
        {"q_5f0c2a9e7b31d4c86a0f": "vegetarian"},
        default=None,
    )


class TransferOut(BaseModel):
    transfer_id: str = about("The transfer's id.", "trf_3c5e7a9b1d2f4e6a8c0d")
    ticket_id: str = about("The ticket handed on (an issued ticket, `tkt_...`).", "tkt_d8e4bf4314185e99baa1")
    code: str = about(
        "The ticket's new code (the old one no longer admits; the order keeps every ticket's current code).",
        "tkt_d8e4bf4314185e99baa1~1.K2QWZ7TNM4XPD6VQHJ3YF5BRA8LCE2GU",
    )
    code_version: int = about("How many times the ticket got a new code: 1 after its first transfer.", 1)
    from_name: str = about("The previous holder's name.", "Grace Hopper")
    from_email: str = about("The previous holder's email address.", "grace@example.com")
    to_name: str = about("The new holder's name.", "Katherine Johnson")
    to_email: str = about("The new holder's email address.", "katherine@example.com")
    created_at: datetime = about("When the ticket was handed on, in UTC.", "2027-05-20T14:02:00Z")


class TicketAttendeeOut(BaseModel):
    ticket_id: str = about("The issued ticket (`tkt_...`).", "tkt_d8e4bf4314185e99baa1")
    name: str = about("The attendee's name (empty: not given).", "Grace B. Hopper")
    email: str = about(
        "The attendee's email address (empty: not given); changed only by handing the ticket on.", "grace@example.com"
    )
    answers: dict[str, Any] = about(
        "The ticket's answers to the per-ticket questions, by question id, as stored (cleaned).", _ANSWERS_EXAMPLE
    )
