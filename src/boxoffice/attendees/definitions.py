"""What a question may be, pure (no I/O): its kinds and limits, the ISO 3166-1 countries, and the check of a
question's definition against the event's other questions (``check_question``, ``condition_errors``). The answers
are checked by ``rules``."""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

from boxoffice.errors import ErrorCode, FieldError, InvalidInput

KINDS = ("text", "long_text", "number", "choice", "multiple_choice", "yes_no", "date", "country", "phone")
SCOPES = ("order", "ticket")
ATTENDEE_DETAILS = ("off", "optional", "required")
# The kinds another question's condition can name (answers that are one of a few values).
CONDITION_KINDS = ("choice", "multiple_choice", "yes_no", "country")
OPTION_KINDS = ("choice", "multiple_choice")

MAX_LABEL = 200
MAX_HELP = 1000
MAX_OPTIONS = 50
MAX_OPTION = 200
MAX_TICKET_TYPES = 100
MAX_TEXT = 200
MAX_LONG_TEXT = 5000
MAX_NAME = 200
MAX_EMAIL = 320
MAX_ANSWERS = 100  # keys of one answers object (an event asks at most 100 questions)
NUMBER_DIGITS = (12, 6)  # before and after the point


class _Countries(Mapping[str, str]):
    """ISO 3166-1 alpha-2 codes to English names, in the order of the names. pycountry is imported and its list read
    the first time a country is looked up, not when the module is: a web worker holds them (0.4 MB) only once a
    page or an answer needs a country."""

    def __getitem__(self, code: str) -> str:
        return _country_names()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(_country_names())

    def __len__(self) -> int:
        return len(_country_names())

    def __contains__(self, code: object) -> bool:
        return code in _country_names()


@functools.cache
def _country_names() -> dict[str, str]:
    import pycountry

    return {c.alpha_2: c.name for c in sorted(pycountry.countries, key=lambda c: c.name)}


COUNTRIES: Mapping[str, str] = _Countries()


# -- questions -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """Asked only when the answer to ``question_id`` is one of ``values`` (for a multiple choice: when one of the
    options chosen is; for yes/no: ``yes`` or ``no``)."""

    question_id: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class QuestionRule:
    id: str
    kind: str
    required: bool = False
    scope: str = "ticket"
    options: tuple[str, ...] = ()
    ticket_type_ids: frozenset[str] = frozenset()  # empty: every ticket type
    condition: Condition | None = None

    def applies_to(self, ticket_type_ids: Collection[str]) -> bool:
        """Asked for a ticket of one of ``ticket_type_ids`` (per order: an order with a ticket of one of them)."""
        return not self.ticket_type_ids or any(tt in self.ticket_type_ids for tt in ticket_type_ids)


@dataclass(frozen=True)
class QuestionDraft:
    """A question as an organizer gives it (raw values), checked by ``check_question``."""

    label: object
    kind: object
    required: object = False
    scope: object = "ticket"
    options: object = ()
    ticket_type_ids: object = ()
    condition: object = None
    help_text: object = ""


def _text_errors(value: object, name: str, maximum: int, *, required: bool) -> list[FieldError]:
    if not isinstance(value, str):
        return [FieldError(name, "must be text", code=ErrorCode.INVALID_TYPE)]
    if required and not value.strip():
        return [FieldError(name, "is required", code=ErrorCode.REQUIRED)]
    if "\x00" in value:
        return [FieldError(name, "must not contain U+0000", code=ErrorCode.INVALID_FORMAT)]
    if len(value.strip()) > maximum:
        return [
            FieldError(name, f"must be at most {maximum} characters", (("maximum", maximum),), code=ErrorCode.TOO_LONG)
        ]
    return []


def condition_errors(condition: Condition, target: QuestionRule | None, scope: str, name: str) -> list[FieldError]:
    """What is wrong with a condition on ``target`` (None: no such question) for a question of ``scope``."""
    if target is None:
        return [FieldError(f"{name}.question_id", "is no question of this event", code=ErrorCode.NOT_FOUND)]
    if target.scope != scope:
        return [
            FieldError(
                f"{name}.question_id",
                f"must be a question asked once per {scope}, as this one is",
                code=ErrorCode.CONFLICT_WITH,
            )
        ]
    if target.kind not in CONDITION_KINDS:
        return [
            FieldError(
                f"{name}.question_id",
                f"must be a question of kind {', '.join(CONDITION_KINDS)}",
                code=ErrorCode.CONFLICT_WITH,
            )
        ]
    allowed = _condition_values(target)
    return [
        FieldError(f"{name}.values[{i}]", "is not an answer that question can have", code=ErrorCode.INVALID_CHOICE)
        for i, value in enumerate(condition.values)
        if value not in allowed
    ]


def _condition_values(target: QuestionRule) -> Collection[str]:
    if target.kind == "yes_no":
        return ("yes", "no")
    if target.kind == "country":
        return COUNTRIES
    return target.options


def _read_condition(raw: object, errors: list[FieldError]) -> Condition | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        errors.append(FieldError("condition", "must be an object", code=ErrorCode.INVALID_TYPE))
        return None
    question_id, values = raw.get("question_id"), raw.get("values")
    ok = True
    if not isinstance(question_id, str) or not question_id:
        errors.append(FieldError("condition.question_id", "is required", code=ErrorCode.REQUIRED))
        ok = False
    if not isinstance(values, list | tuple) or not values:
        errors.append(FieldError("condition.values", "needs at least one value", code=ErrorCode.REQUIRED))
        ok = False
    elif len(values) > MAX_OPTIONS or not all(isinstance(v, str) for v in values):
        errors.append(FieldError("condition.values", "must be at most 50 texts", code=ErrorCode.INVALID_TYPE))
        ok = False
    if not ok:
        return None
    assert isinstance(question_id, str) and isinstance(values, list | tuple)
    return Condition(question_id, tuple(dict.fromkeys(str(v) for v in values)))


def check_question(
    question_id: str, draft: QuestionDraft, others: Mapping[str, QuestionRule], ticket_type_ids: Collection[str]
) -> QuestionRule:
    """The question ``draft`` describes, checked against the event's ``others`` (its other questions, by id) and its
    ticket types; ``InvalidInput`` naming every field at fault. Its condition must name another question of the same
    scope whose answers are a few values, with values it can have, and no chain of conditions may lead back to it."""
    errors: list[FieldError] = []
    errors += _text_errors(draft.label, "label", MAX_LABEL, required=True)
    errors += _text_errors(draft.help_text, "help_text", MAX_HELP, required=False)
    if draft.kind not in KINDS:
        errors.append(FieldError("kind", f"must be one of {', '.join(KINDS)}", code=ErrorCode.INVALID_CHOICE))
    if draft.scope not in SCOPES:
        errors.append(FieldError("scope", "must be order or ticket", code=ErrorCode.INVALID_CHOICE))
    if not isinstance(draft.required, bool):
        errors.append(FieldError("required", "must be true or false", code=ErrorCode.INVALID_TYPE))
    options: tuple[str, ...] = ()
    if not isinstance(draft.options, list | tuple) or not all(isinstance(o, str) for o in draft.options):
        errors.append(FieldError("options", "must be a list of texts", code=ErrorCode.INVALID_TYPE))
    elif draft.kind in OPTION_KINDS:
        if not draft.options:
            errors.append(FieldError("options", "a choice needs at least one option", code=ErrorCode.REQUIRED))
        elif len(draft.options) > MAX_OPTIONS:
            errors.append(
                FieldError("options", "at most 50 options", (("maximum", MAX_OPTIONS),), code=ErrorCode.OVER_LIMIT)
            )
        seen: set[str] = set()
        for i, option in enumerate(draft.options):
            errors += _text_errors(option, f"options[{i}]", MAX_OPTION, required=True)
            if option.strip() in seen:
                errors.append(FieldError(f"options[{i}]", "is offered twice", code=ErrorCode.CONFLICT_WITH))
            seen.add(option.strip())
        options = tuple(o.strip() for o in draft.options)
    elif draft.options:
        errors.append(FieldError("options", "only a choice has options", code=ErrorCode.NOT_APPLICABLE))
    types: frozenset[str] = frozenset()
    if not isinstance(draft.ticket_type_ids, list | tuple) or not all(
        isinstance(t, str) for t in draft.ticket_type_ids
    ):
        errors.append(FieldError("ticket_ids", "must be a list of ticket type ids", code=ErrorCode.INVALID_TYPE))
    else:
        if len(draft.ticket_type_ids) > MAX_TICKET_TYPES:
            errors.append(
                FieldError("ticket_ids", "at most 100", (("maximum", MAX_TICKET_TYPES),), code=ErrorCode.OVER_LIMIT)
            )
        for i, tt in enumerate(draft.ticket_type_ids):
            if tt not in ticket_type_ids:
                errors.append(
                    FieldError(f"ticket_ids[{i}]", "is no ticket type of this event", code=ErrorCode.NOT_FOUND)
                )
        types = frozenset(draft.ticket_type_ids)
    condition = _read_condition(draft.condition, errors)
    if condition is not None and isinstance(draft.scope, str):
        if condition.question_id == question_id:
            errors.append(
                FieldError("condition.question_id", "cannot be the question itself", code=ErrorCode.CONFLICT_WITH)
            )
        else:
            target = others.get(condition.question_id)
            errors += condition_errors(condition, target, draft.scope, "condition")
            if target is not None and _leads_to(question_id, target, others):
                errors.append(
                    FieldError(
                        "condition.question_id",
                        "depends on this question itself (a loop of conditions)",
                        code=ErrorCode.CONFLICT_WITH,
                    )
                )
    if errors:
        raise InvalidInput(errors)
    assert isinstance(draft.kind, str) and isinstance(draft.scope, str) and isinstance(draft.required, bool)
    return QuestionRule(question_id, draft.kind, draft.required, draft.scope, options, types, condition)


def _leads_to(question_id: str, start: QuestionRule, others: Mapping[str, QuestionRule]) -> bool:
    seen: set[str] = set()
    current: QuestionRule | None = start
    while current is not None and current.condition is not None and current.id not in seen:
        seen.add(current.id)
        if current.condition.question_id == question_id:
            return True
        current = others.get(current.condition.question_id)
    return False
