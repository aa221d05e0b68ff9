"""Confirmation emails through the outbox to a real SMTP server (aiosmtpd): at least once, never twice for the
same order event, retried with backoff when the server refuses, and visible to the organizer after the last try."""

from __future__ import annotations

import io
import secrets
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
import zxingcpp
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from PIL import Image
from sqlalchemy import or_, select, update

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.notifications.codes import verify_ticket_code
from boxoffice.notifications.delivery import Mailer, list_emails, queue_emails
from boxoffice.notifications.models import EmailMessage as EmailMessageRow
from boxoffice.notifications.transport import SMTPTransport
from boxoffice.outbox.dispatcher import Message, OutboxDispatcher
from boxoffice.outbox.models import OutboxMessage
from boxoffice.ticketing.orders import confirm_order, list_tickets
from boxoffice.ticketing.reserve import reserve
from tests.helpers import make_event, make_ticket, order_request

SECRET = b"delivery-test-secret"


class Server:
    def __init__(self) -> None:
        self.refuse = 0
        self.received: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Server, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    handler = Server()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def mailer(db: Database, port: int, **kw: object) -> Mailer:
    return Mailer(
        db,
        SMTPTransport.from_url(f"smtp://127.0.0.1:{port}?timeout=5"),
        secret=SECRET,
        sender="Boxoffice <tickets@example.com>",
        public_url="http://127.0.0.1:8000",
        **kw,  # type: ignore[arg-type]
    )


async def drain(db: Database, order_id: str | None = None) -> None:
    """Queue the emails of the outbox's events; with ``order_id``, settle every email but this order's: the database
    is shared by the session's tests, and what their orders left behind must not be counted here."""
    dispatcher = OutboxDispatcher(db, handlers=[queue_emails])
    while await dispatcher.drain_once():
        pass
    if order_id is None:
        return
    async with db.transaction() as session:
        await session.execute(
            update(EmailMessageRow)
            .where(EmailMessageRow.status == "pending")
            .where(or_(EmailMessageRow.order_id.is_(None), EmailMessageRow.order_id != order_id))
            .values(status="sent")
        )


async def confirmed_order(db: Database) -> tuple[str, str]:
    event = await make_event(db, title="Mail Night")
    tt = await make_ticket(db, event.id, quantity=5)
    order = await reserve(db, order_request(event.id, (tt.id, 2), email="mail@example.com"))
    await confirm_order(db, order.id)
    return event.id, order.id


async def test_confirmation_delivered_once_with_qr_codes(pg_db: Database, smtp: tuple[Server, int]) -> None:
    server, port = smtp
    event_id, order_id = await confirmed_order(pg_db)
    await drain(pg_db, order_id)
    sender = mailer(pg_db, port)
    while await sender.deliver_due():
        pass
    mine = [m for m in server.received if order_id in str(m["Message-ID"])]
    assert len(mine) == 1
    message = mine[0]
    assert message["To"].addresses[0].addr_spec == "mail@example.com"
    assert message["Subject"] == "Your tickets for Mail Night"
    codes = {
        zxingcpp.read_barcodes(Image.open(io.BytesIO(part.get_content())))[0].text
        for part in message.walk()
        if part.get_content_type() == "image/png"
    }
    tickets = {t.id for t in await list_tickets(pg_db, order_id)}
    assert {verify_ticket_code(code, SECRET) for code in codes} == tickets
    assert any(p.get_content_type() == "text/calendar" for p in message.walk())

    # A worker restart that handles the same outbox event again queues nothing new and sends nothing twice.
    async with pg_db.transaction() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.payload["order_id"].as_string() == order_id)
            .values(published_at=None)
        )
    await drain(pg_db, order_id)
    restarted = mailer(pg_db, port)
    while await restarted.deliver_due():
        pass
    assert len([m for m in server.received if order_id in str(m["Message-ID"])]) == 1
    emails = await list_emails(pg_db, event_id)
    assert [(e.kind, e.status, e.attempts) for e in emails] == [("confirmation", "sent", 1)]


async def test_refused_then_retried_with_backoff(pg_db: Database, smtp: tuple[Server, int]) -> None:
    server, port = smtp
    event_id, order_id = await confirmed_order(pg_db)
    await drain(pg_db, order_id)
    server.refuse = 2
    sender = mailer(pg_db, port, base_delay=60.0)
    assert await sender.deliver_due() == 1
    (email,) = await list_emails(pg_db, event_id)
    assert (email.status, email.attempts) == ("pending", 1) and "451" in (email.last_error or "")
    assert email.next_attempt_at > utcnow() + timedelta(seconds=50)  # backed off, not retried at once
    assert await sender.deliver_due() == 0
    later = utcnow() + timedelta(minutes=2)
    assert await sender.deliver_due(now=later) == 1
    later += timedelta(minutes=5)
    assert await sender.deliver_due(now=later) == 1
    (email,) = await list_emails(pg_db, event_id)
    assert (email.status, email.attempts) == ("sent", 3)
    assert len([m for m in server.received if order_id in str(m["Message-ID"])]) == 1


async def test_failure_after_the_last_try_is_visible(pg_db: Database, smtp: tuple[Server, int]) -> None:
    server, port = smtp
    event_id, order_id = await confirmed_order(pg_db)
    await drain(pg_db, order_id)
    server.refuse = 100
    sender = mailer(pg_db, port, max_attempts=3, base_delay=1.0)
    when = utcnow()
    for _ in range(3):
        await sender.deliver_due(now=when)
        when += timedelta(hours=1)
    assert [e.status for e in await list_emails(pg_db, event_id, status="failed")] == ["failed"]
    assert await sender.deliver_due(now=when) == 0


async def test_a_batch_queues_each_email_it_calls_for_once(db: Database) -> None:
    """One statement for the dispatcher's whole batch: a row per email a message calls for (a confirmation, each
    partial refund's amount, an account link), none for a message that calls for none (no email, not an email
    kind); the same batch handled again (a claim that ran out) writes nothing more."""
    tag = secrets.token_hex(4)
    order, token = f"ord_{tag}", f"tok_{tag}"

    def message(n: int, kind: str, **payload: object) -> Message:
        return Message(n, kind, (), {"event_id": f"evt_{tag}", **payload}, utcnow())

    batch = [
        message(1, "order.confirmed", order_id=order, email="buyer@example.com"),
        message(2, "order.partially_refunded", order_id=order, email="buyer@example.com", refunded_cents=500),
        message(3, "order.partially_refunded", order_id=order, email="buyer@example.com", refunded_cents=800),
        message(4, "order.created", order_id=order, email="buyer@example.com"),  # no email for this kind
        message(5, "order.failed", order_id=order),  # no address to write to
        message(6, "account.invited", token_id=token, email="new@example.com"),
    ]
    for _ in range(2):
        async with db.transaction() as session:
            await queue_emails(session, batch)
    async with db.read() as session:
        rows = (
            await session.scalars(
                select(EmailMessageRow)
                .where(or_(EmailMessageRow.order_id == order, EmailMessageRow.token_id == token))
                .order_by(EmailMessageRow.dedupe_key)
            )
        ).all()
    assert [(r.dedupe_key, r.kind, r.to_email, r.amount_cents, r.status) for r in rows] == [
        (f"account.invited:{token}", "invitation", "new@example.com", None, "pending"),
        (f"order.confirmed:{order}", "confirmation", "buyer@example.com", None, "pending"),
        (f"order.partially_refunded:{order}:500", "refund", "buyer@example.com", 500, "pending"),
        (f"order.partially_refunded:{order}:800", "refund", "buyer@example.com", 800, "pending"),
    ]
    assert {(r.order_id, r.event_id) for r in rows if r.token_id is None} == {(order, f"evt_{tag}")}
    assert [(r.order_id, r.event_id) for r in rows if r.token_id is not None] == [("", "")]
