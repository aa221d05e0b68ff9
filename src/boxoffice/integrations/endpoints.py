"""Webhook endpoints of an organizer: register, list, change, delete, roll the signing secret.

Every function takes the organizer (``organizer_id``, a person id) and answers ``NotFound`` for another organizer's
endpoint, naming nothing. A new secret is returned once (create, roll) and never shown again. The console calls
these functions as the API does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import Conflict, ErrorCode, FieldError, InvalidInput, NotFound
from boxoffice.events.models import Person
from boxoffice.ids import new_id
from boxoffice.integrations.addresses import UrlPolicy, url_errors
from boxoffice.integrations.catalog import ALL_TYPES, EVENT_TYPES
from boxoffice.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from boxoffice.integrations.signing import new_secret

MAX_ENDPOINTS = 16  # per organizer: each one is a request per event
MAX_DESCRIPTION = 500
MAX_OVERLAP = timedelta(hours=24)
DISABLED_BY_ORGANIZER = "organizer"
DISABLED_FAILING = "failing"


@dataclass(frozen=True)
class CreatedSecret:
    """An endpoint and its new signing secret, which is shown this once."""

    endpoint: WebhookEndpoint
    secret: str


def event_type_errors(event_types: Sequence[str]) -> list[FieldError]:
    if not event_types:
        return [FieldError("event_types", "needs at least one event type", code=ErrorCode.REQUIRED)]
    allowed = {*EVENT_TYPES, ALL_TYPES}
    return [
        FieldError(
            f"event_types[{i}]",
            f"is not an event type (one of {', '.join(EVENT_TYPES)} or *)",
            code=ErrorCode.INVALID_CHOICE,
        )
        for i, name in enumerate(event_types)
        if name not in allowed
    ]


def _unique(event_types: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(event_types))


def _check(*, url: str | None, event_types: Sequence[str] | None, description: str | None, policy: UrlPolicy) -> None:
    errors: list[FieldError] = []
    if url is not None:
        errors += url_errors(url, policy)
    if event_types is not None:
        errors += event_type_errors(event_types)
    if description is not None and len(description) > MAX_DESCRIPTION:
        errors.append(
            FieldError(
                "description",
                f"must be at most {MAX_DESCRIPTION} characters",
                (("maximum", MAX_DESCRIPTION),),
                code=ErrorCode.TOO_LONG,
            )
        )
    if errors:
        raise InvalidInput(errors)


async def create_endpoint(
    db: Database,
    organizer_id: str,
    *,
    url: str,
    event_types: Sequence[str],
    policy: UrlPolicy,
    enabled: bool = True,
    description: str = "",
) -> CreatedSecret:
    """Register an endpoint with a new signing secret. At most ``MAX_ENDPOINTS`` per organizer (409 beyond)."""
    _check(url=url, event_types=event_types, description=description, policy=policy)
    now = utcnow()
    secret = new_secret()
    async with db.transaction() as session:
        # The organizer's row lock makes concurrent registrations of one organizer take turns: the count is exact.
        locked = await session.scalar(select(Person.id).where(Person.id == organizer_id).with_for_update())
        if locked is None:
            raise NotFound("organizer not found")
        count = await session.scalar(
            select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.organizer_id == organizer_id)
        )
        if (count or 0) >= MAX_ENDPOINTS:
            raise Conflict(f"an organizer has at most {MAX_ENDPOINTS} webhook endpoints: delete one first")
        endpoint = WebhookEndpoint(
            id=new_id("we"),
            organizer_id=organizer_id,
            url=url,
            description=description,
            event_types=_unique(event_types),
            enabled=enabled,
            disabled_reason=None if enabled else DISABLED_BY_ORGANIZER,
            disabled_at=None if enabled else now,
            secret=secret,
            notice_pending=False,
            created_at=now,
            updated_at=now,
        )
        session.add(endpoint)
    return CreatedSecret(endpoint, secret)


async def list_endpoints(db: Database, organizer_id: str) -> list[WebhookEndpoint]:
    async with db.read() as session:
        stmt = (
            select(WebhookEndpoint)
            .where(WebhookEndpoint.organizer_id == organizer_id)
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
        return list((await session.scalars(stmt)).all())


async def get_endpoint(db: Database, endpoint_id: str, organizer_id: str) -> WebhookEndpoint:
    async with db.read() as session:
        endpoint = (
            await session.scalars(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.id == endpoint_id, WebhookEndpoint.organizer_id == organizer_id
                )
            )
        ).one_or_none()
    if endpoint is None:
        raise NotFound("webhook endpoint not found")
    return endpoint


async def update_endpoint(
    db: Database, endpoint_id: str, organizer_id: str, changes: dict[str, Any], *, policy: UrlPolicy
) -> WebhookEndpoint:
    """Change ``url``, ``event_types``, ``description`` or ``enabled``. Disabling ends the endpoint's pending
    deliveries (failed, redeliverable from the log); enabling an endpoint disabled for failing starts it afresh."""
    unknown = set(changes) - {"url", "event_types", "description", "enabled"}
    if unknown:
        raise InvalidInput([FieldError(name, "cannot be changed", code=ErrorCode.UNKNOWN_FIELD) for name in unknown])
    _check(
        url=changes.get("url"),
        event_types=changes.get("event_types"),
        description=changes.get("description"),
        policy=policy,
    )
    now = utcnow()
    values: dict[str, Any] = {"updated_at": now}
    for key in ("url", "description"):
        if changes.get(key) is not None:
            values[key] = changes[key]
    if changes.get("event_types") is not None:
        values["event_types"] = _unique(changes["event_types"])
    async with db.transaction() as session:
        endpoint = (
            await session.scalars(
                select(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.organizer_id == organizer_id)
                .with_for_update()
            )
        ).one_or_none()
        if endpoint is None:
            raise NotFound("webhook endpoint not found")
        enabled = changes.get("enabled")
        if enabled is True and not endpoint.enabled:
            values.update(
                enabled=True, disabled_reason=None, disabled_at=None, failing_since=None, notice_pending=False
            )
        elif enabled is False and endpoint.enabled:
            values.update(enabled=False, disabled_reason=DISABLED_BY_ORGANIZER, disabled_at=now)
            await end_pending(session, endpoint_id, "the endpoint was disabled")
        for key, value in values.items():
            setattr(endpoint, key, value)
    return endpoint


async def end_pending(session: AsyncSession, endpoint_id: str, reason: str) -> None:
    """The endpoint's pending deliveries end as failed (within the caller's transaction)."""
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
        .values(status="failed", last_error=reason, locked_until=None)
        .execution_options(synchronize_session=False)
    )


async def delete_endpoint(db: Database, endpoint_id: str, organizer_id: str) -> None:
    """Delete the endpoint, its deliveries and their attempts: nothing more is sent to it."""
    async with db.transaction() as session:
        found = await session.scalar(
            select(WebhookEndpoint.id)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.organizer_id == organizer_id)
            .with_for_update()
        )
        if found is None:
            raise NotFound("webhook endpoint not found")
        deliveries = select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint_id)
        await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
        await session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
        await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))


async def roll_secret(
    db: Database,
    endpoint_id: str,
    organizer_id: str,
    *,
    overlap: timedelta = MAX_OVERLAP,
    now: datetime | None = None,
) -> CreatedSecret:
    """A new signing secret; the current one keeps signing (a second ``v1``) for ``overlap`` (at most 24 hours, 0
    to stop at once). Rolling again within an overlap drops the older secret: two at most are ever valid."""
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise InvalidInput.one(
            "previous_secret_hours", "must be between 0 and 24", (("maximum", 24),), code=ErrorCode.ABOVE_MAXIMUM
        )
    now = now or utcnow()
    secret = new_secret()
    async with db.transaction() as session:
        rolled = (
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.organizer_id == organizer_id)
                .values(
                    previous_secret=WebhookEndpoint.secret if overlap else None,
                    previous_secret_expires_at=now + overlap if overlap else None,
                    secret=secret,
                    updated_at=now,
                )
                .returning(WebhookEndpoint.id)
            )
        ).first()
        if rolled is None:
            raise NotFound("webhook endpoint not found")
    return CreatedSecret(await get_endpoint(db, endpoint_id, organizer_id), secret)


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one while its overlap lasts."""
    out = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        out.append(endpoint.previous_secret)
    return out
