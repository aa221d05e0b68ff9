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
from boxoffice.web.api.fields import DateTime, Email, Name, NoNul, Position, Title
from boxoffice.web.api.schemas import Strict, _not_null

_OPTIONS = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=rules.MAX_OPTION), NoNul]], Field(max_length=rules.MAX_OPTIONS)
]
_CHOICES: list[str] = list(rules.OPTION_KINDS)
_KIND = Literal["text", "long_text", "number", "choice", "multiple_choice", "yes_no", "date", "country", "phone"]
_NOT_NULL_QUESTION = ("label", "help_text", "kind", "required", "scope", "options", "ticket_ids", "position")


class ConditionIn(Strict):
    question_id: QuestionId
    values: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=rules.MAX_OPTION), NoNul]],
        Field(min_length=1, max_length=rules.MAX_OPTIONS),
    ]


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

    label: Title | None = None
    help_text: Annotated[str, Field(max_length=rules.MAX_HELP), NoNul] | None = None
    kind: _KIND | None = None
    required: StrictBool | None = None
    scope: Literal["order", "ticket"] | None = Field(
        default=None, description="Asked once per order, or once per ticket (the default)."
    )
    options: _OPTIONS | None = Field(default=None, description="choice and multiple_choice: the options offered.")
    ticket_ids: Annotated[list[QuestionId], Field(max_length=rules.MAX_TICKET_TYPES)] | None = Field(
        default=None, description="Asked only for these ticket types (per order: orders with one); empty: all."
    )
    condition: ConditionIn | None = Field(
        default=None,
        description="Asked only when that question's answer is one of the values (null: always asked).",
    )
    position: Position | None = None

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

    label: Title
    kind: _KIND


class QuestionOut(BaseModel):
    id: str
    event_id: str
    label: str
    help_text: str
    kind: str
    required: bool
    scope: str
    options: list[str]
    ticket_ids: list[str]
    condition: dict[str, Any] | None
    position: int
    created_at: datetime
    updated_at: datetime


class AttendeeSettingsIn(Strict):
    """`changes_until`: until when buyers may change answers and attendees and hand tickets on (null: until the
    event starts, never later)."""

    NOT_NULL = ("attendee_details",)

    attendee_details: Literal["off", "optional", "required"] | None = Field(
        default=None, description="Whether each ticket needs its attendee's name and email."
    )
    changes_until: DateTime | None = None

    _not_null = field_validator("attendee_details", mode="before")(_not_null)


class AttendeeSettingsOut(BaseModel):
    event_id: str
    attendee_details: str
    changes_until: datetime | None
    changes_close_at: datetime = Field(description="When self-service changes end: the cut-off or the start.")
    question_count: int


class EventQuestionsOut(BaseModel):
    """What an order of the event is asked."""

    event_id: str
    attendee_details: str = Field(description="off, optional or required: each ticket's attendee name and email.")
    changes_close_at: datetime
    questions: list[QuestionOut]


class OrderAnswersIn(Strict):
    """The order's answers to change (a question given null loses its answer); the result is checked whole."""

    answers: Answers


class OrderAnswersOut(BaseModel):
    order_id: str
    answers: dict[str, Any]


class TicketAttendeePatch(Strict):
    """The ticket's attendee name and answers to change (answers over the current ones; null clears one). The email
    is changed by handing the ticket on (`.../transfer`)."""

    name: Name | None = None
    answers: Answers | None = None


class TransferIn(Strict):
    """Hand the ticket to someone else: a new code is issued (the old one no longer admits) and both people get an
    email. `email` must not be the current holder's; `answers` (over the ticket's current ones) follow the event's
    per-ticket questions."""

    name: PersonName
    email: Email
    answers: Answers | None = None


class TransferOut(BaseModel):
    transfer_id: str
    ticket_id: str
    code: str = Field(description="The ticket's new code (the order keeps every ticket's current code).")
    code_version: int
    from_name: str
    from_email: str
    to_name: str
    to_email: str
    created_at: datetime


class TicketAttendeeOut(BaseModel):
    ticket_id: str
    name: str
    email: str
    answers: dict[str, Any]
