"""The rules of attendees and answers, pure (no I/O): what a question may be, and which answers an order gives.

A question has a ``kind`` (``KINDS``), is ``required`` or not, is asked once per order or once per ticket
(``scope``), may be limited to some ticket types, and may be asked only when another question of the same scope (the
same order, or the same ticket) was answered with one of some values (``condition``). ``check_details`` checks an
order's attendees and answers against what the event asks, and returns them cleaned (``Details``); every problem is a
``FieldError`` with its code and the field's path in the request (``answers.q_1``,
``lines[0].attendees[1].answers.q_2``, ``lines[0].attendees[1].email``).

Answers, per kind (what is stored is the cleaned value; an empty value is no answer):
- ``text``: a string of at most 200 characters without control characters; ``long_text``: at most 5,000, line breaks
  and tabs allowed. Both are trimmed.
- ``number``: a JSON number, or a string such as ``12`` or ``-3.5`` (digits, one optional point, an optional leading
  minus); at most 12 digits before the point and 6 after it. Stored as a JSON number.
- ``choice``: one of the question's options; ``multiple_choice``: a list of them (duplicates dropped, kept in the
  options' order). A ``required`` multiple choice needs at least one.
- ``yes_no``: ``true`` or ``false`` (or ``"yes"``/``"no"``); ``false`` is an answer.
- ``date``: ``YYYY-MM-DD`` (ISO 8601, a day of the proleptic Gregorian calendar).
- ``country``: an ISO 3166-1 alpha-2 code (``DE``, ``us``: stored upper-case), the list in ``COUNTRIES``.
- ``phone``: E.164-ish: ``+`` (or ``00``), the country code and the number, 8 to 15 digits in all; spaces, dots,
  dashes, slashes and parentheses are ignored. Stored as ``+`` and the digits (``+4930123456``).

A question whose condition is not met is not asked: an answer given to it is dropped, not refused (a form may keep a
value typed before the answer it depends on changed). An answer to a question the event does not have is refused
(``unknown_field``), and so is one given where the question is not asked at all (``not_applicable``: a per-ticket
question among the order's answers, a question limited to other ticket types).

Longer than most modules on purpose: every kind's cleaning and the order-level check are one set of rules, read
together (the question definitions are in ``definitions``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from email_validator import EmailNotValidError, validate_email

from boxoffice.attendees.definitions import (
    ATTENDEE_DETAILS,
    CONDITION_KINDS,
    COUNTRIES,
    KINDS,
    MAX_ANSWERS,
    MAX_EMAIL,
    MAX_HELP,
    MAX_LABEL,
    MAX_LONG_TEXT,
    MAX_NAME,
    MAX_OPTION,
    MAX_OPTIONS,
    MAX_TEXT,
    MAX_TICKET_TYPES,
    NUMBER_DIGITS,
    OPTION_KINDS,
    SCOPES,
    Condition,
    QuestionDraft,
    QuestionRule,
    check_question,
    condition_errors,
)
from boxoffice.errors import ErrorCode, FieldError, InvalidInput

_PHONE_SEPARATORS = re.compile(r"[\s.\-/()]")
_PHONE = re.compile(r"\+[1-9][0-9]{7,14}")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YES = {"yes": True, "true": True, "no": False, "false": False}

# The definitions are part of the rules' public names (callers use ``rules.KINDS``, ``rules.check_question``...).
__all__ = [
    "ATTENDEE_DETAILS",
    "CONDITION_KINDS",
    "COUNTRIES",
    "KINDS",
    "MAX_ANSWERS",
    "MAX_EMAIL",
    "MAX_HELP",
    "MAX_LABEL",
    "MAX_LONG_TEXT",
    "MAX_NAME",
    "MAX_OPTION",
    "MAX_OPTIONS",
    "MAX_TEXT",
    "MAX_TICKET_TYPES",
    "NUMBER_DIGITS",
    "OPTION_KINDS",
    "SCOPES",
    "Asked",
    "Attendee",
    "AttendeeInput",
    "Condition",
    "Details",
    "LineInput",
    "QuestionDraft",
    "QuestionRule",
    "carries_details",
    "check_answers",
    "check_attendee",
    "check_details",
    "check_question",
    "clean_answer",
    "clean_email",
    "clean_person_name",
    "clean_phone",
    "condition_errors",
]

# -- answers -----------------------------------------------------------------------------------------------------


def clean_answer(question: QuestionRule, value: object, name: str) -> Any:
    """The answer as stored, or None for no answer; ``InvalidInput`` (one field error at ``name``) if it is not one
    the question takes."""
    if value is None:
        return None
    kind = question.kind
    if kind in ("text", "long_text"):
        return _clean_text(value, name, long=kind == "long_text")
    if kind == "number":
        return _clean_number(value, name)
    if kind == "choice":
        text = _string(value, name)
        if not text:
            return None
        if text not in question.options:
            raise InvalidInput.one(name, "must be one of the options offered", code=ErrorCode.INVALID_CHOICE)
        return text
    if kind == "multiple_choice":
        return _clean_choices(question, value, name)
    if kind == "yes_no":
        return _clean_yes_no(value, name)
    if kind == "date":
        return _clean_date(value, name)
    if kind == "country":
        code = _string(value, name).upper()
        if not code:
            return None
        if code not in COUNTRIES:
            raise InvalidInput.one(name, "must be an ISO 3166-1 alpha-2 country code", code=ErrorCode.INVALID_CHOICE)
        return code
    if kind == "phone":
        return clean_phone(value, name)
    raise InvalidInput.one(name, "is a question of an unknown kind", code=ErrorCode.INVALID)


def _string(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput.one(name, "must be text", code=ErrorCode.INVALID_TYPE)
    return value.strip()


def _clean_text(value: object, name: str, *, long: bool) -> str | None:
    text = _string(value, name)
    maximum = MAX_LONG_TEXT if long else MAX_TEXT
    if len(text) > maximum:
        raise InvalidInput.one(
            name, f"must be at most {maximum} characters", (("maximum", maximum),), code=ErrorCode.TOO_LONG
        )
    allowed = "\n\r\t" if long else ""
    if any((ord(ch) < 32 and ch not in allowed) or ord(ch) == 127 for ch in text):
        raise InvalidInput.one(name, "must not contain control characters", code=ErrorCode.INVALID_FORMAT)
    return text or None


def _clean_number(value: object, name: str) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput.one(name, "must be a number", code=ErrorCode.INVALID_TYPE)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not _NUMBER.fullmatch(text):
            raise InvalidInput.one(name, "must be a number such as 12 or 12.5", code=ErrorCode.INVALID_FORMAT)
        number = Decimal(text)
    else:
        try:
            number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
        except InvalidOperation:
            raise InvalidInput.one(name, "must be a number", code=ErrorCode.INVALID_FORMAT) from None
        if not number.is_finite():
            raise InvalidInput.one(name, "must be a number", code=ErrorCode.INVALID_FORMAT)
    before, after = NUMBER_DIGITS
    limit = Decimal(10) ** before
    if abs(number) >= limit:
        raise InvalidInput.one(
            name, f"must be less than {limit} in size", (("maximum", int(limit) - 1),), code=ErrorCode.ABOVE_MAXIMUM
        )
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -after:
        raise InvalidInput.one(name, f"may have at most {after} decimals", code=ErrorCode.INVALID_FORMAT)
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def _clean_choices(question: QuestionRule, value: object, name: str) -> list[str] | None:
    if isinstance(value, str):  # one option, as a form sends a single box ticked
        value = [value]
    if not isinstance(value, list | tuple):
        raise InvalidInput.one(name, "must be a list of options", code=ErrorCode.INVALID_TYPE)
    if len(value) > MAX_OPTIONS:
        raise InvalidInput.one(name, "has too many options", (("maximum", MAX_OPTIONS),), code=ErrorCode.OVER_LIMIT)
    chosen: set[str] = set()
    for i, item in enumerate(value):
        text = _string(item, f"{name}[{i}]")
        if text not in question.options:
            raise InvalidInput.one(f"{name}[{i}]", "must be one of the options offered", code=ErrorCode.INVALID_CHOICE)
        chosen.add(text)
    return [option for option in question.options if option in chosen] or None


def _clean_yes_no(value: object, name: str) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return None
        if text in _YES:
            return _YES[text]
        raise InvalidInput.one(name, "must be yes or no", code=ErrorCode.INVALID_CHOICE)
    raise InvalidInput.one(name, "must be true or false", code=ErrorCode.INVALID_TYPE)


def _clean_date(value: object, name: str) -> str | None:
    text = _string(value, name)
    if not text:
        return None
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidInput.one(name, "must be a date written YYYY-MM-DD", code=ErrorCode.INVALID_FORMAT) from None


def clean_phone(value: object, name: str) -> str | None:
    """``+49 (30) 123-456`` -> ``+4930123456``; ``0049...`` is ``+49...``. E.164: a country code and the number, 8 to
    15 digits in all, after a ``+``."""
    text = _PHONE_SEPARATORS.sub("", _string(value, name))
    if not text:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.isascii() or not _PHONE.fullmatch(text):
        raise InvalidInput.one(
            name,
            "must be an international number such as +49 30 1234567 (8 to 15 digits)",
            code=ErrorCode.INVALID_FORMAT,
        )
    return text


def _condition_met(condition: Condition, answer: object) -> bool:
    if isinstance(answer, bool):
        return ("yes" if answer else "no") in condition.values
    if isinstance(answer, list):
        return any(item in condition.values for item in answer)
    return isinstance(answer, str) and answer in condition.values


def check_answers(
    questions: Sequence[QuestionRule],
    answers: object,
    *,
    scope: str,
    ticket_type_ids: Collection[str],
    all_ids: Collection[str],
    name: str,
) -> dict[str, Any]:
    """The answers of one order (``scope="order"``, ``ticket_type_ids`` its ticket types) or one ticket
    (``"ticket"``, its type), cleaned: the answers to questions not asked because of their condition are dropped.
    ``all_ids``: every question id of the event (an answer to an id outside it is an unknown field)."""
    errors: list[FieldError] = []
    if answers is None:
        answers = {}
    if not isinstance(answers, Mapping):
        raise InvalidInput.one(name, "must be an object of answers by question id", code=ErrorCode.INVALID_TYPE)
    if len(answers) > MAX_ANSWERS:
        raise InvalidInput.one(name, "has too many answers", (("maximum", MAX_ANSWERS),), code=ErrorCode.OVER_LIMIT)
    asked = {q.id: q for q in questions if q.scope == scope and q.applies_to(ticket_type_ids)}
    cleaned: dict[str, Any] = {}
    for key, value in answers.items():
        path = f"{name}.{key}"
        if key not in asked:
            if key in all_ids:
                errors.append(FieldError(path, "is not asked here", code=ErrorCode.NOT_APPLICABLE))
            else:
                errors.append(FieldError(path, "is no question of this event", code=ErrorCode.UNKNOWN_FIELD))
            continue
        try:
            answer = clean_answer(asked[key], value, path)
        except InvalidInput as exc:
            errors.extend(exc.errors)
            continue
        if answer is not None:
            cleaned[key] = answer
    shown: dict[str, bool] = {}

    def is_shown(question: QuestionRule, depth: int = 0) -> bool:
        if question.id not in shown:
            condition = question.condition
            target = asked.get(condition.question_id) if condition is not None else None
            if condition is None:
                shown[question.id] = True
            elif target is None or depth > len(asked):
                shown[question.id] = False  # it depends on a question not asked here (or on a loop)
            else:
                shown[question.id] = is_shown(target, depth + 1) and _condition_met(condition, cleaned.get(target.id))
        return shown[question.id]

    for question in asked.values():
        if not is_shown(question):
            cleaned.pop(question.id, None)
        elif (
            question.required
            and question.id not in cleaned
            and not any(e.field.startswith(f"{name}.{question.id}") for e in errors)
        ):
            errors.append(FieldError(f"{name}.{question.id}", "is required", code=ErrorCode.REQUIRED))
    if errors:
        raise InvalidInput(errors)
    return {q.id: cleaned[q.id] for q in questions if q.id in cleaned}  # in the questions' order


# -- attendees -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttendeeInput:
    """One ticket's attendee as given (raw values)."""

    name: object = None
    email: object = None
    answers: object = None


@dataclass(frozen=True)
class Attendee:
    name: str = ""
    email: str = ""
    answers: dict[str, Any] = field(default_factory=dict)

    @property
    def blank(self) -> bool:
        return not (self.name or self.email or self.answers)


@dataclass(frozen=True)
class Asked:
    """What an event asks: the attendee setting (``ATTENDEE_DETAILS``) and its questions (in order)."""

    attendee_details: str = "off"
    questions: tuple[QuestionRule, ...] = ()

    @property
    def asks_anything(self) -> bool:
        return self.attendee_details != "off" or bool(self.questions)

    def asks_per_ticket(self, ticket_type_id: str) -> bool:
        return self.attendee_details != "off" or any(
            q.scope == "ticket" and q.applies_to((ticket_type_id,)) for q in self.questions
        )


@dataclass(frozen=True)
class LineInput:
    ticket_type_id: str
    quantity: int
    attendees: object = ()


@dataclass(frozen=True)
class Details:
    """An order's cleaned answers and, per line, one attendee per ticket (none for a line asked nothing per ticket)."""

    answers: dict[str, Any]
    lines: tuple[tuple[Attendee, ...], ...]


def clean_person_name(value: object, name: str) -> str:
    if value is None:
        return ""
    text = _string(value, name)
    if len(text) > MAX_NAME:
        raise InvalidInput.one(
            name, f"must be at most {MAX_NAME} characters", (("maximum", MAX_NAME),), code=ErrorCode.TOO_LONG
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidInput.one(name, "must not contain control characters", code=ErrorCode.INVALID_FORMAT)
    return text


def clean_email(value: object, name: str) -> str:
    """The address as given, trimmed ("" for none); ``invalid_format`` unless it is one."""
    if value is None:
        return ""
    text = _string(value, name)
    if not text:
        return ""
    if len(text) > MAX_EMAIL:
        raise InvalidInput.one(name, "is too long", (("maximum", MAX_EMAIL),), code=ErrorCode.TOO_LONG)
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidInput.one(name, "is not a valid email address", code=ErrorCode.INVALID_FORMAT) from None
    return text


def check_attendee(
    asked: Asked, ticket_type_id: str, given: AttendeeInput, *, name: str, identity: bool = True
) -> Attendee:
    """One ticket's attendee: name and email as the event's setting says (``identity=False``: not checked, the
    caller keeps them), and the answers to the per-ticket questions for its ticket type."""
    errors: list[FieldError] = []
    person_name = email = ""
    if identity:
        for key, cleaner in (("name", clean_person_name), ("email", clean_email)):
            try:
                value = cleaner(getattr(given, key), f"{name}.{key}")
            except InvalidInput as exc:
                errors.extend(exc.errors)
                continue
            if value and asked.attendee_details == "off":
                errors.append(
                    FieldError(f"{name}.{key}", "this event asks no attendee details", code=ErrorCode.NOT_APPLICABLE)
                )
            elif not value and asked.attendee_details == "required":
                errors.append(FieldError(f"{name}.{key}", "is required", code=ErrorCode.REQUIRED))
            if key == "name":
                person_name = value
            else:
                email = value
    answers: dict[str, Any] = {}
    try:
        answers = check_answers(
            asked.questions,
            given.answers,
            scope="ticket",
            ticket_type_ids=(ticket_type_id,),
            all_ids={q.id for q in asked.questions},
            name=f"{name}.answers",
        )
    except InvalidInput as exc:
        errors.extend(exc.errors)
    if errors:
        raise InvalidInput(errors)
    return Attendee(person_name, email, answers)


def check_details(asked: Asked, answers: object, lines: Sequence[LineInput]) -> Details:
    """An order's answers and attendees against what the event asks (``InvalidInput`` naming every field at fault).
    A line gets one attendee per ticket when the event asks anything per ticket of its type (a missing one is an
    empty one, so a required detail of it is named at ``lines[i].attendees[j]...``), none otherwise."""
    errors: list[FieldError] = []
    all_ids = {q.id for q in asked.questions}
    order_answers: dict[str, Any] = {}
    try:
        order_answers = check_answers(
            asked.questions,
            answers,
            scope="order",
            ticket_type_ids={line.ticket_type_id for line in lines},
            all_ids=all_ids,
            name="answers",
        )
    except InvalidInput as exc:
        errors.extend(exc.errors)
    out: list[tuple[Attendee, ...]] = []
    for i, line in enumerate(lines):
        given = line.attendees if line.attendees is not None else ()
        if not isinstance(given, list | tuple):
            errors.append(FieldError(f"lines[{i}].attendees", "must be a list", code=ErrorCode.INVALID_TYPE))
            out.append(())
            continue
        if len(given) > line.quantity:
            errors.append(
                FieldError(
                    f"lines[{i}].attendees",
                    f"at most one attendee per ticket ({line.quantity})",
                    (("maximum", line.quantity),),
                    code=ErrorCode.OVER_LIMIT,
                )
            )
            out.append(())
            continue
        if not asked.asks_per_ticket(line.ticket_type_id):
            if any(not isinstance(g, AttendeeInput) or g != AttendeeInput() for g in given):
                errors.append(
                    FieldError(
                        f"lines[{i}].attendees",
                        "this ticket is asked nothing per ticket",
                        code=ErrorCode.NOT_APPLICABLE,
                    )
                )
            out.append(())
            continue
        attendees: list[Attendee] = []
        for j in range(line.quantity):
            one = given[j] if j < len(given) else AttendeeInput()
            if not isinstance(one, AttendeeInput):
                errors.append(
                    FieldError(f"lines[{i}].attendees[{j}]", "must be an object", code=ErrorCode.INVALID_TYPE)
                )
                continue
            try:
                attendees.append(check_attendee(asked, line.ticket_type_id, one, name=f"lines[{i}].attendees[{j}]"))
            except InvalidInput as exc:
                errors.extend(exc.errors)
        out.append(tuple(attendees))
    if errors:
        raise InvalidInput(errors)
    return Details(order_answers, tuple(out))


def carries_details(answers: object, lines: Sequence[object]) -> bool:
    """Whether a request gives any answer or attendee (then the event's questions must be read to check them); an
    empty attendee gives nothing."""
    return bool(answers) or any(
        not isinstance(given, AttendeeInput) or given != AttendeeInput()
        for line in lines
        for given in (getattr(line, "attendees", None) or ())
    )
