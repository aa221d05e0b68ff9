"""People: persons (buyers, organizers, invitees), unique by their email address (case-insensitive)."""

from __future__ import annotations

import functools
import re

import email_validator
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.clock import utcnow
from boxoffice.db import Database, insert_for
from boxoffice.errors import ErrorCode, InvalidInput, NotFound
from boxoffice.events.models import Person
from boxoffice.ids import new_id

MAX_NAME = 200


def normalize_email(email: str, field: str = "email") -> str:
    """The canonical form used for uniqueness: trimmed, checked, lower-cased."""
    if not isinstance(email, str) or not email.strip():
        raise InvalidInput.one(field, "is required", code=ErrorCode.REQUIRED)
    if len(email) > 320:
        raise InvalidInput.one(field, "must be at most 320 characters", (("maximum", 320),), code=ErrorCode.TOO_LONG)
    try:
        return _normalized(email.strip())
    except EmailNotValidError as exc:
        raise InvalidInput.one(field, f"is not a valid email address ({exc})", code=ErrorCode.INVALID_FORMAT) from None


# A plain ASCII address that email-validator accepts and leaves as it is but for the domain's case: dot-atoms of
# letters, digits, "_", "+" and "-" (at most 64 characters) before the @; after it, labels of letters, digits and
# hyphens inside (at most 63 characters, no "--" anywhere: the IDNA rules refuse some), the last one of 2 to 63 letters,
# the domain not a special-use one (email-validator's list, read when used); at most 190 characters in all. Such an
# address is not handed to email-validator, whose checks go character by character in Python (a twentieth of a web
# process's CPU per order); anything else is. The tests check both give the same answer.
_PLAIN_ADDRESS = re.compile(
    r"(?=[^@]{1,64}@)[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63})"
)
PLAIN_MAX = 190


def _plain(email: str) -> bool:
    match = _PLAIN_ADDRESS.fullmatch(email) if len(email) <= PLAIN_MAX and email.isascii() else None
    if match is None or "--" in match[1]:
        return False
    domain = match[1].lower()
    return not any(domain == name or domain.endswith(f".{name}") for name in email_validator.SPECIAL_USE_DOMAIN_NAMES)


@functools.lru_cache(maxsize=256)
def _normalized(email: str) -> str:
    # Kept: an order checks its buyer's address, then writes its canonical form (a failure is not kept). The two
    # calls are moments apart, so a few hundred addresses suffice; a sale's thousands of buyers are not kept for the
    # life of the process (4,096 entries held 0.9 MB per web worker, spread over the memory of the sale's requests).
    if _plain(email):
        return email.lower()
    return validate_email(email, check_deliverability=False).normalized.lower()


def clean_name(name: str | None, field: str = "name") -> str:
    value = (name or "").strip()
    if len(value) > MAX_NAME:
        raise InvalidInput.one(
            field, f"must be at most {MAX_NAME} characters", (("maximum", MAX_NAME),), code=ErrorCode.TOO_LONG
        )
    if any(ord(ch) < 32 for ch in value):
        raise InvalidInput.one(field, "must not contain control characters", code=ErrorCode.INVALID_FORMAT)
    return value


async def get_or_create_person(
    session: AsyncSession, email: str, name: str | None = None, *, own_name: bool = False
) -> Person:
    """The person with this email (case-insensitive), created when new. ``name`` is the new person's name; an
    existing person's name changes only with ``own_name`` (the person naming themselves, e.g. an organizer creating
    an event) and a non-empty name. Anyone else (a buyer typing this address into an order) never renames a person:
    the buyer's name lives on the order. One statement (insert or update, returning the row), safe under concurrent
    calls."""
    normalized = normalize_email(email)
    display_name = clean_name(name)
    now = utcnow()
    stmt = insert_for(session, Person).values(
        id=new_id("per"),
        email=email.strip(),
        email_normalized=normalized,
        name=display_name,
        created_at=now,
        updated_at=now,
    )
    # The DO UPDATE keeps the name the person has (unless it is their own request), and makes RETURNING give the
    # existing row.
    renamed = stmt.excluded.name if own_name and display_name else Person.name
    upsert = stmt.on_conflict_do_update(index_elements=["email_normalized"], set_={"name": renamed}).returning(Person)
    person: Person = (await session.scalars(upsert, execution_options={"populate_existing": True})).one()
    return person


async def find_person(session: AsyncSession, email: str) -> Person | None:
    return (
        await session.scalars(select(Person).where(Person.email_normalized == normalize_email(email)))
    ).one_or_none()


async def get_person(db: Database, person_id: str) -> Person:
    async with db.read() as session:
        person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id} not found")
    return person
