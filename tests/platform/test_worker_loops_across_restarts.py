"""The worker as it runs (a started Boxoffice, not the functions it calls): the hold sweeper's loop releases an
expired hold, even after a failed round; an outbox handler that fails is retried and, after a restart, finished by
the next worker with its attempts counted on; an email whose sending fails is retried with a growing backoff across
a restart, and after its last try is listed as failed for the organizer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice import container as container_module
from boxoffice.accounts.service import create_api_key
from boxoffice.clock import utcnow
from boxoffice.container import Boxoffice
from boxoffice.db import Database
from boxoffice.notifications.models import EmailMessage
from boxoffice.notifications.transport import EmailTransport, TransportError
from boxoffice.outbox.dispatcher import Message
from boxoffice.outbox.models import OutboxMessage
from boxoffice.ticketing import orders as lifecycle
from boxoffice.ticketing import reserve as reservations
from boxoffice.ticketing.models import Order
from tests.helpers import counters, eventually, make_event, make_ticket, order_request, unique_email
from tests.server import LiveServer, live_server, settings_for

pytestmark = pytest.mark.postgres


@asynccontextmanager
async def worker(url: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[LiveServer]:
    """A Boxoffice with its worker running (sweeper, outbox dispatcher, mailer), serving HTTP."""
    async with live_server(url, mail_dir=str(tmp_path / "mail"), run_worker=True, **overrides) as srv:
        yield srv


async def test_the_running_sweeper_releases_an_expired_hold(
    fresh_pg: tuple[str, Database], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, db = fresh_pg
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=5)
    ended = await reservations.reserve(db, order_request(event.id, (tt.id, 2)))
    running = await reservations.reserve(db, order_request(event.id, (tt.id, 1)))
    async with db.transaction() as session:
        await session.execute(
            update(Order).where(Order.id == ended.id).values(expires_at=utcnow() - timedelta(minutes=1))
        )
    # the first round fails (the database hiccups): the loop logs it and goes on
    rounds: list[str] = []
    real = lifecycle.release_expired_holds

    async def flaky(*args: Any, **kw: Any) -> int:
        rounds.append("round")
        if len(rounds) == 1:
            raise ConnectionResetError("database went away")
        return await real(*args, **kw)

    monkeypatch.setattr(container_module, "release_expired_holds", flaky)
    async with worker(url, tmp_path, sweep_interval_seconds=0.05):

        async def released() -> bool:
            return (await lifecycle.get_order(db, ended.id)).status == "expired"

        await eventually(released)
    assert len(rounds) >= 2
    assert await counters(db, tt.id) == (5, 0, 1)
    assert (await lifecycle.get_order(db, running.id)).status == "pending"  # a running hold is left alone


class FailingHandler:
    """An outbox handler that fails for order.confirmed messages (a bug, a lock timeout...)."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, session: AsyncSession, messages: Sequence[Message]) -> None:
        if any(message.kind == "order.confirmed" for message in messages):
            self.calls += 1
            raise RuntimeError("handler broke")


async def confirmed_message(db: Database, order_id: str) -> OutboxMessage:
    async with db.read() as session:
        rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "order.confirmed"))).all()
    (row,) = [r for r in rows if r.payload.get("order_id") == order_id]
    return row


async def test_a_failing_outbox_handler_is_retried_and_finished_after_a_restart(
    fresh_pg: tuple[str, Database], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, db = fresh_pg
    event = await make_event(db)
    tt = await make_ticket(db, event.id, base_price_cents=0, quantity=5)
    order = await reservations.reserve(db, order_request(event.id, (tt.id, 1)))
    assert order.status == "confirmed"

    failing = FailingHandler()
    # a failed message is claimable again this much later (BOXOFFICE_OUTBOX_CLAIM_SECONDS)
    box = Boxoffice(settings_for(url, mail_dir=str(tmp_path / "mail"), outbox_claim_seconds=0.2))
    box.add_outbox_handler(failing)
    async with live_server(url, box=box):

        async def retried() -> OutboxMessage | None:
            row = await confirmed_message(db, order.id)
            return row if row.attempts >= 3 and row.last_error else None

        before = await eventually(retried)
    assert before.published_at is None and "handler broke" in (before.last_error or "")
    stopped = await confirmed_message(db, order.id)
    # each claim counted once (a failed batch is retried message by message within the same claim)
    assert stopped.published_at is None and stopped.attempts >= 3 and failing.calls >= stopped.attempts

    # a new worker on the same database, without the bug: it finishes the message, counting on from there
    async with worker(url, tmp_path, outbox_claim_seconds=0.2) as srv:

        async def published() -> OutboxMessage | None:
            row = await confirmed_message(db, order.id)
            return row if row.published_at is not None else None

        done = await eventually(published)
        assert (done.attempts, done.last_error) == (stopped.attempts + 1, None)

        async def sent() -> list[EmailMessage]:
            async with db.read() as session:
                rows = (await session.scalars(select(EmailMessage).where(EmailMessage.order_id == order.id))).all()
            return [r for r in rows if r.status == "sent"]

        (email,) = await eventually(sent)
        assert (email.kind, email.attempts) == ("confirmation", 1)
        assert srv.box.db is not db


class DownTransport(EmailTransport):
    """An SMTP server that never answers; remembers when each attempt came."""

    def __init__(self, attempts: list[datetime]) -> None:
        self.attempts = attempts

    async def send(self, message: Any) -> None:
        self.attempts.append(utcnow())
        raise TransportError("connection refused by the SMTP server")


async def email_row(db: Database, order_id: str) -> EmailMessage | None:
    async with db.read() as session:
        return (await session.scalars(select(EmailMessage).where(EmailMessage.order_id == order_id))).one_or_none()


async def test_email_retries_back_off_across_a_restart_and_end_listed_as_failed(
    fresh_pg: tuple[str, Database], tmp_path: Path
) -> None:
    url, db = fresh_pg
    organizer = unique_email("org")
    event = await make_event(db, organizer=organizer)
    _, key = await create_api_key(db, organizer)
    tt = await make_ticket(db, event.id, base_price_cents=0, quantity=5)
    order = await reservations.reserve(db, order_request(event.id, (tt.id, 1)))
    max_attempts, base = 5, 0.05
    attempts: list[datetime] = []
    nexts: list[datetime] = []  # next_attempt_at after each failed attempt, as the database has it

    def mailer_down(box: Boxoffice) -> Boxoffice:
        box.mailer.transport = DownTransport(attempts)
        box.mailer.max_attempts = max_attempts
        return box

    async def attempted(n: int) -> EmailMessage | None:
        row = await email_row(db, order.id)
        if row is None or row.attempts < n or row.locked_until is not None:
            return None
        return row

    first = mailer_down(Boxoffice(settings_for(url, mail_dir=str(tmp_path / "m"), email_retry_seconds=base)))
    # the first worker's mailer wakes only when told (the outbox's batch, then this test), so that it is stopped
    # between attempts, not in the middle of one
    first.mailer.idle_interval = 3600
    async with live_server(url, box=first):
        row = await eventually(lambda: attempted(1))

        async def due() -> bool:
            return bool(utcnow() >= row.next_attempt_at)

        await eventually(due)
        first.mailer.kick()
        row = await eventually(lambda: attempted(2))
        nexts.append(row.next_attempt_at)
    stopped = await email_row(db, order.id)
    assert stopped is not None and stopped.status == "pending" and stopped.attempts == len(attempts) == 2

    second = mailer_down(Boxoffice(settings_for(url, mail_dir=str(tmp_path / "m"), email_retry_seconds=base)))
    second.mailer.idle_interval = 0.05
    async with live_server(url, box=second) as srv:

        async def failed() -> EmailMessage | None:
            row = await email_row(db, order.id)
            return row if row is not None and row.status == "failed" else None

        final = await eventually(failed)
        listed = await srv.client.get(
            f"/api/v1/events/{event.id}/emails", params={"status": "failed"}, headers={"Authorization": f"Bearer {key}"}
        )
        pending = await srv.client.get(
            f"/api/v1/events/{event.id}/emails",
            params={"status": "pending"},
            headers={"Authorization": f"Bearer {key}"},
        )
    # attempts counted on across the restart: exactly the last try's number, no attempt repeated or lost
    assert final.attempts == max_attempts == len(attempts)
    assert "connection refused" in (final.last_error or "")
    assert listed.status_code == 200
    (shown,) = listed.json()
    assert (shown["order_id"], shown["kind"], shown["status"], shown["attempts"]) == (
        order.id,
        "confirmation",
        "failed",
        max_attempts,
    )
    assert pending.json() == []
    # each attempt came no earlier than the backoff after the one before, and the backoff doubled each time
    mailer = second.mailer
    for n in range(1, len(attempts)):
        assert attempts[n] - attempts[n - 1] >= mailer.backoff(n), (n, attempts)
    assert [mailer.backoff(n) for n in range(1, max_attempts)] == [timedelta(seconds=base * 2**k) for k in range(4)]
    assert nexts[0] >= attempts[1] + mailer.backoff(2) - timedelta(seconds=0.001)
