"""Factories and probes shared by the tests."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import or_, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.db import Database
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.notifications.models import EmailMessage
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.orders import get_order
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from boxoffice.ticketing.ticket_types import create_ticket_type, get_ticket_type

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

TABLES = (
    "persons",
    "events",
    "event_participants",
    "ticket_types",
    "orders",
    "order_lines",
    "tickets",
    "outbox_messages",
    "attendees",
    "order_answers",
)


def unique_email(prefix: str = "buyer") -> str:
    return f"{prefix}-{secrets.token_hex(5)}@example.com"


async def make_event(db: Database, *, organizer: str | None = None, days: int = 30, **kw: Any) -> Event:
    start = datetime.now(UTC) + timedelta(days=days)
    data = events.EventInput(
        title=kw.pop("title", "Spring Gala"),
        description=kw.pop("description", "An evening of music"),
        starts_at=kw.pop("starts_at", start),
        ends_at=kw.pop("ends_at", start + timedelta(hours=4)),
        timezone=kw.pop("timezone", "Europe/Berlin"),
        status=kw.pop("status", None),
        currency=kw.pop("currency", None),
        venue_name=kw.pop("venue_name", None),
        venue_address=kw.pop("venue_address", None),
        image_url=kw.pop("image_url", None),
    )
    assert not kw, f"make_event does not know {sorted(kw)}"
    return await events.create_event(db, organizer or unique_email("organizer"), data)


async def make_ticket(db: Database, event_id: str, **fields: Any) -> TicketType:
    fields.setdefault("title", "General admission")
    fields.setdefault("quantity", 100)
    if not {"price_cents", "base_price_cents", "pricing_model"} & set(fields):
        fields["base_price_cents"] = 1500
    return await create_ticket_type(db, event_id, fields)


def order_request(event_id: str, *lines: tuple[str, int] | tuple[str, int, int | None], **kw: Any) -> OrderRequest:
    return OrderRequest(
        event_id=event_id,
        email=kw.pop("email", unique_email()),
        name=kw.pop("name", "Ada Lovelace"),
        lines=[LineRequest(*line) for line in lines],
        tip_cents=kw.pop("tip_cents", None),
    )


async def table_counts(db: Database) -> dict[str, int]:
    async with db.read() as session:
        return {t: int((await session.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()) for t in TABLES}


async def database_state(db: Database) -> dict[str, Any]:
    """Row counts plus every ticket type's counters: what "changes nothing" is checked against."""
    async with db.read() as session:
        counters = (
            await session.execute(text("SELECT id, quantity, sold_count, held_count FROM ticket_types ORDER BY id"))
        ).all()
    return {"counts": await table_counts(db), "counters": [tuple(r) for r in counters]}


async def counters(db: Database, ticket_type_id: str) -> tuple[int, int, int]:
    tt = await get_ticket_type(db, ticket_type_id)
    return tt.quantity, tt.sold_count, tt.held_count


async def eventually(check: Any, *, timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll ``await check()`` until it returns something truthy (bounded wait; never a timing assertion)."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last result: {result!r})")
        await asyncio.sleep(interval)


async def set_aside_other_emails(db: Database, keep: Collection[str] = ()) -> None:
    """Puts every pending email not of the orders in ``keep`` out of any mailer's reach.

    On a database the session shares, emails other tests left pending come due at any moment of a later test: a retry
    after its backoff, a claim of a worker a test crashed running out. A test that counts what a mailer sends (or
    what fails) calls this first, so that it sees its own emails only."""
    pending = update(EmailMessage).where(EmailMessage.status == "pending")
    if keep:
        pending = pending.where(or_(EmailMessage.order_id.is_(None), EmailMessage.order_id.not_in(list(keep))))
    async with db.transaction() as session:
        await session.execute(pending.values(next_attempt_at=datetime(9999, 1, 1, tzinfo=UTC)))


async def order_status(db: Database, order_id: str) -> str:
    return (await get_order(db, order_id)).status


REDIS_URL = os.environ.get("BOXOFFICE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def require_redis() -> None:
    """Skip without Redis, except under CI (``CI`` set), where its absence fails the test."""
    import os

    import pytest
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        if os.environ.get("CI"):
            raise AssertionError(f"Redis is required under CI at {REDIS_URL}: {exc}") from exc
        pytest.skip(f"no Redis at {REDIS_URL}")
    finally:
        await client.aclose()


async def waiting_on_locks(db: Database) -> int:
    """Statements of other sessions waiting for a lock (behind a drill's lock on a row): a pause point to kill in."""
    async with db.read() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        )
    return int(waiting or 0)


async def until_answered(send: Callable[[], Awaitable[httpx.Response]], *, tries: int = 100) -> httpx.Response:
    """What a client retrying the same request gets at last: it tries again after a network error (the server is
    down) and after a 409 with ``Retry-After`` (the first request may still be running), as a buyer's retry does."""
    for _ in range(tries):
        try:
            response = await send()
        except httpx.HTTPError:
            await asyncio.sleep(0.2)
            continue
        if response.status_code == 409 and "retry-after" in response.headers:
            await asyncio.sleep(float(response.headers["retry-after"]))
            continue
        return response
    raise AssertionError(f"no answer after {tries} tries")


class Inbox:
    """An aiosmtpd handler that accepts every message."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.received.append(envelope.content)
        return "250 OK"

    def message_ids(self) -> list[bytes]:
        return [m.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0] for m in self.received]


class PathIds(dict[str, str]):
    """Values for a route's path parameters (``path.format_map(PathIds())``): any parameter not given gets an id of
    the right shape that names nothing (``event_id`` -> ``eve_00000000000000000000``), so that tests walking every
    route need no list of parameter names kept up to date."""

    def __missing__(self, name: str) -> str:
        return f"{name[:3]}_00000000000000000000"


async def rows_read(session: AsyncSession, table: str) -> int:
    """Rows of ``table`` (PostgreSQL) that this transaction has read so far, by index or sequential scans: what a
    test of a statement's plan counts, with the statistics the planner had."""
    return int(
        await session.scalar(
            text(
                "SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) FROM pg_stat_xact_user_tables "
                "WHERE relname = :table"
            ),
            {"table": table},
        )
        or 0
    )
