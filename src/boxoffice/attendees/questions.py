"""An event's questions: create, read, change and delete them; and what an event asks (``asked``).

Every change locks the event's row (so two edits of one event's questions never interleave: conditions can never form
a loop), checks the question against the others with the pure ``rules``, and raises the event's revision with its
question count (``events.attendee_settings``). A deleted question is hidden, never removed: the answers already given
to it stay with their orders and in the attendee lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.attendees import rules
from boxoffice.attendees.models import Question
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import Conflict, ErrorCode, FieldError, InvalidInput, NotFound
from boxoffice.events import service as events
from boxoffice.events.attendee_settings import set_question_count
from boxoffice.events.models import Event
from boxoffice.ids import new_id

FIELDS = ("label", "help_text", "kind", "required", "scope", "options", "ticket_ids", "condition", "position")
MAX_QUESTIONS = 100  # per event


def rule_of(question: Question) -> rules.QuestionRule:
    condition = question.condition
    return rules.QuestionRule(
        id=question.id,
        kind=question.kind,
        required=question.required,
        scope=question.scope,
        options=tuple(str(o) for o in question.options or ()),
        ticket_type_ids=frozenset(str(t) for t in question.ticket_type_ids or ()),
        condition=(
            rules.Condition(str(condition["question_id"]), tuple(str(v) for v in condition["values"]))
            if condition
            else None
        ),
    )


async def _questions(session: AsyncSession, event_id: str, *, include_deleted: bool = False) -> list[Question]:
    stmt = select(Question).where(Question.event_id == event_id)
    if not include_deleted:
        stmt = stmt.where(Question.deleted_at.is_(None))
    return list((await session.scalars(stmt.order_by(Question.position, Question.created_at, Question.id))).all())


async def list_questions(db: Database, event_id: str, *, include_deleted: bool = False) -> list[Question]:
    """The event's questions in the order they are asked (``position``, then creation)."""
    async with db.read() as session:
        return await _questions(session, event_id, include_deleted=include_deleted)


async def asked(session: AsyncSession, event: Event) -> rules.Asked:
    """What ``event`` asks of an order (no query when it asks no question)."""
    questions = await _questions(session, event.id) if event.question_count else []
    return rules.Asked(event.attendee_details, tuple(rule_of(q) for q in questions))


async def asked_by(db: Database, event: Event) -> rules.Asked:
    async with db.read() as session:
        return await asked(session, event)


async def _ticket_type_ids(session: AsyncSession, event_id: str) -> set[str]:
    # The table belongs to ticketing (a context above this one): only its ids are read.
    rows = await session.execute(text("SELECT id FROM ticket_types WHERE event_id = :id"), {"id": event_id})
    return {str(row[0]) for row in rows}


def _draft(values: Mapping[str, Any]) -> rules.QuestionDraft:
    return rules.QuestionDraft(
        label=values.get("label"),
        kind=values.get("kind"),
        required=values.get("required", False),
        scope=values.get("scope", "ticket"),
        options=values.get("options") or [],
        ticket_type_ids=values.get("ticket_ids") or [],
        condition=values.get("condition"),
        help_text=values.get("help_text") or "",
    )


MAX_POSITION = 1000  # a question's position lies in -MAX_POSITION..MAX_POSITION (as the API's schema says)


def _position(values: Mapping[str, Any]) -> int:
    position = values.get("position", 0)
    if isinstance(position, bool) or not isinstance(position, int):
        raise InvalidInput.one("position", "must be an integer", code=ErrorCode.NOT_INTEGER)
    if position < -MAX_POSITION:
        raise InvalidInput.one(
            "position", f"must be at least {-MAX_POSITION}", (("minimum", -MAX_POSITION),), code=ErrorCode.BELOW_MINIMUM
        )
    if position > MAX_POSITION:
        raise InvalidInput.one(
            "position", f"must be at most {MAX_POSITION}", (("maximum", MAX_POSITION),), code=ErrorCode.ABOVE_MAXIMUM
        )
    return position


def _apply(question: Question, rule: rules.QuestionRule, values: Mapping[str, Any]) -> None:
    question.label = str(values["label"]).strip()
    question.help_text = str(values.get("help_text") or "").strip()
    question.kind = rule.kind
    question.required = rule.required
    question.scope = rule.scope
    question.options = list(rule.options)
    question.ticket_type_ids = sorted(rule.ticket_type_ids)
    question.condition = (
        {"question_id": rule.condition.question_id, "values": list(rule.condition.values)} if rule.condition else None
    )
    question.position = _position(values)


def _values(question: Question) -> dict[str, Any]:
    return {
        "label": question.label,
        "help_text": question.help_text,
        "kind": question.kind,
        "required": question.required,
        "scope": question.scope,
        "options": list(question.options or []),
        "ticket_ids": list(question.ticket_type_ids or []),
        "condition": question.condition,
        "position": question.position,
    }


async def create_question(
    db: Database, event_id: str, fields: Mapping[str, Any], *, organizer_id: str | None = None
) -> Question:
    values = {k: v for k, v in fields.items() if k in FIELDS}
    async with db.transaction() as session:
        event = await events.load_event(session, event_id, organizer_id=organizer_id, for_update=True)
        others = await _questions(session, event.id)
        if len(others) >= MAX_QUESTIONS:
            raise InvalidInput.one(
                "event_id",
                f"an event asks at most {MAX_QUESTIONS} questions",
                (("maximum", MAX_QUESTIONS),),
                code=ErrorCode.OVER_LIMIT,
            )
        question = Question(id=new_id("q"), event_id=event.id)
        rule = rules.check_question(
            question.id, _draft(values), {q.id: rule_of(q) for q in others}, await _ticket_type_ids(session, event.id)
        )
        _apply(question, rule, values)
        session.add(question)
        set_question_count(event, len(others) + 1)
    return question


async def _load(session: AsyncSession, question_id: str, organizer_id: str | None) -> Question:
    stmt = select(Question).where(Question.id == question_id, Question.deleted_at.is_(None))
    question = (await session.scalars(stmt)).one_or_none()
    if question is None:
        raise NotFound("question not found")
    try:
        await events.load_event(session, question.event_id, organizer_id=organizer_id)
    except NotFound:
        raise NotFound("question not found") from None  # another organizer's: as unknown
    return question


async def _load_locked(session: AsyncSession, question_id: str, organizer_id: str | None) -> tuple[Question, Event]:
    """The question with its event locked (FOR UPDATE), read after the lock was taken."""
    event_id = await session.scalar(
        select(Question.event_id).where(Question.id == question_id, Question.deleted_at.is_(None))
    )
    try:
        if event_id is None:
            raise NotFound("question not found")
        event = await events.load_event(session, event_id, organizer_id=organizer_id, for_update=True)
    except NotFound:
        raise NotFound("question not found") from None  # another organizer's: as unknown
    stmt = select(Question).where(Question.id == question_id, Question.deleted_at.is_(None))
    question = (await session.scalars(stmt.execution_options(populate_existing=True))).one_or_none()
    if question is None:
        raise NotFound("question not found")
    return question, event


async def get_question(db: Database, question_id: str, *, organizer_id: str | None = None) -> Question:
    async with db.read() as session:
        return await _load(session, question_id, organizer_id)


def _dependents_errors(rule: rules.QuestionRule, dependents: Sequence[Question]) -> list[FieldError]:
    """A change that would leave another question's condition naming answers this one can no longer have."""
    errors: list[FieldError] = []
    for other in dependents:
        dependent = rule_of(other)
        assert dependent.condition is not None
        for error in rules.condition_errors(dependent.condition, rule, other.scope, "condition"):
            target = "scope" if rule.scope != other.scope else "kind" if "question_id" in error.field else "options"
            errors.append(
                FieldError(
                    target, f"question {other.id} is asked on this one's answers: {error.message}", code=error.code
                )
            )
    return errors


async def update_question(
    db: Database, question_id: str, fields: Mapping[str, Any], *, organizer_id: str | None = None
) -> Question:
    """Change some of a question's fields; the question as it will be is checked whole (``rules.check_question``),
    and so are the conditions of the questions asked on its answers."""
    async with db.transaction() as session:
        question, event = await _load_locked(session, question_id, organizer_id)
        values = {**_values(question), **{k: v for k, v in fields.items() if k in FIELDS}}
        others = [q for q in await _questions(session, event.id) if q.id != question.id]
        rule = rules.check_question(
            question.id, _draft(values), {q.id: rule_of(q) for q in others}, await _ticket_type_ids(session, event.id)
        )
        dependents = [q for q in others if q.condition and q.condition.get("question_id") == question.id]
        errors = _dependents_errors(rule, dependents)
        if errors:
            raise InvalidInput(errors)
        _apply(question, rule, values)
        question.updated_at = utcnow()
        set_question_count(event, len(others) + 1)
    return question


async def delete_question(db: Database, question_id: str, *, organizer_id: str | None = None) -> None:
    """Hide the question from new orders (answers given stay). 409 while another question is asked on its answers."""
    async with db.transaction() as session:
        question, event = await _load_locked(session, question_id, organizer_id)
        others = [q for q in await _questions(session, event.id) if q.id != question.id]
        dependent = next((q for q in others if q.condition and q.condition.get("question_id") == question.id), None)
        if dependent is not None:
            raise Conflict(
                f"question {dependent.id} is asked on this question's answers: change its condition or delete it first"
            )
        question.deleted_at = utcnow()
        set_question_count(event, len(others))
