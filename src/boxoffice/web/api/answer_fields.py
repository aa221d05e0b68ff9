"""The answers and attendees an order carries (``schemas.OrderCreate``, ``OrderOut``) and the self-service bodies
(``attendee_schemas``) share: answers by question id, one ticket's attendee."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from boxoffice.attendees import rules
from boxoffice.attendees.details import OrderDetails
from boxoffice.ticketing.models import Order
from boxoffice.web.api.described import about
from boxoffice.web.api.fields import NAME_PATTERN, Email, Matches, Name, NoNul

QuestionId = Annotated[str, Field(min_length=1, max_length=64), NoNul]
AnswerText = Annotated[str, Field(max_length=rules.MAX_LONG_TEXT), NoNul]
AnswerValue = Annotated[
    StrictBool
    | StrictInt
    | Annotated[StrictFloat, Field(allow_inf_nan=False)]
    | AnswerText
    | Annotated[list[Annotated[str, Field(max_length=rules.MAX_OPTION), NoNul]], Field(max_length=rules.MAX_OPTIONS)]
    | None,
    Field(
        description="Text (text, long text, choice, date YYYY-MM-DD, country ISO 3166-1 alpha-2, phone), a number, "
        "true/false (yes/no), a list of options (multiple choice), or null for no answer."
    ),
]
Answers = Annotated[
    dict[QuestionId, AnswerValue],
    Field(
        max_length=rules.MAX_ANSWERS,
        description="Answers by question id (GET /api/v1/events/{event_id}/questions lists them).",
    ),
]
PersonName = Annotated[
    str, Field(min_length=1, max_length=200), Matches(NAME_PATTERN, "must not contain control characters")
]


class AttendeeIn(BaseModel):
    """One ticket's attendee: name and email as the event's `attendee_details` asks (off: none; required: both), and
    the answers to its per-ticket questions."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = about(
        "The name of the person the ticket is for, as the event's `attendee_details` asks; left out or null: none.",
        "Grace Hopper",
        default=None,
    )
    email: Email | None = about(
        "That person's email address, as the event's `attendee_details` asks; left out or null: none.",
        "grace@example.com",
        default=None,
    )
    answers: Answers | None = about(
        "Answers to the event's per-ticket questions for this ticket, by question id.",
        {"q_5f0c2a9e7b31d4c86a0f": "vegan", "q_9a1d3e5b7c2f4a6e8d0b": True},
        default=None,
    )


class AttendeeOut(BaseModel):
    line: int = about("The index of the order line the ticket is in, from 0.", 0)
    unit: int = about("The ticket's place in its line, from 0.", 1)
    ticket_id: str | None = about(
        "The issued ticket (`tkt_...`) once the order is confirmed; null before.", "tkt_d8e4bf4314185e99baa1"
    )
    name: str = about("The attendee's name (empty: not given).", "Grace Hopper")
    email: str = about("The attendee's email address (empty: not given).", "grace@example.com")
    answers: dict[str, Any] = about(
        "The answers to the per-ticket questions, by question id, as stored (cleaned: a number as a JSON number, a "
        "phone as `+` and digits, a country in upper case).",
        {"q_5f0c2a9e7b31d4c86a0f": "vegan", "q_2b8e0c4d6f1a3e5c7b9d": "+4930123456"},
    )


def details_fields(order: Order, details: OrderDetails) -> dict[str, Any]:
    line_index = {line.id: i for i, line in enumerate(order.lines)}
    attendees = sorted(details.attendees.values(), key=lambda a: (line_index.get(a.order_line_id, 0), a.unit))
    return {
        "answers": details.answers,
        "attendees": [
            AttendeeOut(
                line=line_index.get(a.order_line_id, 0),
                unit=a.unit,
                ticket_id=a.ticket_id,
                name=a.name,
                email=a.email,
                answers=a.answers or {},
            )
            for a in attendees
        ],
    }
