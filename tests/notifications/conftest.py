"""Fixtures for the notification tests: an order context to render, and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from boxoffice.notifications.codes import sign_ticket_code
from boxoffice.notifications.render import LineView, OrderEmailContext, TicketView

SECRET = b"notifications-test-secret"
SENDER = "Boxoffice <tickets@example.com>"


def make_context(currency: str = "usd", **overrides: Any) -> OrderEmailContext:
    """Two general-admission tickets at 15.00 (or 1,500 for a zero-decimal currency) and a tip."""
    unit = 1500
    start = datetime(2027, 3, 5, 18, 0, tzinfo=UTC)  # 19:00 in Berlin (CET)
    tickets = tuple(
        TicketView(
            f"tkt_{i}a1b2c3d4e5f6a7b8c9",
            "General admission",
            sign_ticket_code(f"tkt_{i}a1b2c3d4e5f6a7b8c9", SECRET),
            unit,
        )
        for i in range(2)
    )
    values: dict[str, Any] = {
        "order_id": "ord_1234",
        "order_url": "https://tickets.example.com/orders/ord_1234?token=tok",
        "buyer_name": "Ada Lovelace",
        "buyer_email": "ada@example.com",
        "event_id": "evt_42",
        "event_url": "https://tickets.example.com/e/evt_42",
        "event_title": "Spring Gala, the; best",
        "event_description": "Music\nand more",
        "event_starts_at": start,
        "event_ends_at": start + timedelta(hours=4),
        "event_timezone": "Europe/Berlin",
        "organizer_name": "Org Inc",
        "organizer_email": "org@example.com",
        "currency": currency,
        "subtotal_cents": 2 * unit,
        "tip_cents": 300,
        "total_cents": 2 * unit + 300,
        "refunded_cents": 0,
        "lines": (LineView("General admission", 2, (unit, unit), 2 * unit),),
        "tickets": tickets,
    }
    values.update(overrides)
    return OrderEmailContext(**values)


def reparse(message: EmailMessage | bytes) -> EmailMessage:
    raw = message if isinstance(message, bytes) else message.as_bytes()
    parsed = BytesParser(policy=default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """aiosmtpd handler: keeps what it accepts, or answers DATA with ``reply`` (e.g. ``451 ...``)."""

    reply: str | None = None
    received: list[Envelope] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        if self.reply:
            return self.reply
        self.received.append(envelope)
        return "250 OK"

    def authenticate(
        self, server: object, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        ok = (data.login, data.password) == (b"mailer", b"p@ss:w/rd")
        return AuthResult(success=ok, handled=False)


@dataclass
class SMTPServer:
    inbox: Inbox
    port: int


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield SMTPServer(inbox, port)
    finally:
        controller.stop()


@pytest.fixture
def context_factory() -> Callable[..., OrderEmailContext]:
    return make_context
