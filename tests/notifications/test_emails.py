"""Ticket codes, email rendering (QR codes decode to the signed codes, .ics attachment) and transports against a
real SMTP server (aiosmtpd)."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest
import zxingcpp
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from boxoffice.notifications.codes import InvalidTicketCode, sign_ticket_code, verify_ticket_code
from boxoffice.notifications.render import (
    LineView,
    OrderEmailContext,
    TicketView,
    render_confirmation,
    render_payment_failed,
    render_refund,
)
from boxoffice.notifications.transport import FileTransport, SMTPTransport, TransportError

SECRET = b"test-secret"


def context(currency: str = "usd", name: str = "Ada Lovelace") -> OrderEmailContext:
    start = datetime(2027, 3, 5, 18, 0, tzinfo=UTC)
    tickets = tuple(
        TicketView(f"tkt_{i}", "General admission", sign_ticket_code(f"tkt_{i}", SECRET), 1500) for i in range(2)
    )
    return OrderEmailContext(
        order_id="ord_1",
        order_url="http://127.0.0.1:8000/orders/ord_1?token=t",
        buyer_name=name,
        buyer_email="ada@example.com",
        event_id="ev_1",
        event_title="Spring Gala, the; best",
        event_description="Music\nand more",
        event_starts_at=start,
        event_ends_at=start + timedelta(hours=4),
        event_timezone="Europe/Berlin",
        organizer_name="Org",
        organizer_email="org@example.com",
        currency=currency,
        subtotal_cents=3000,
        tip_cents=300,
        total_cents=3300,
        refunded_cents=0,
        lines=(LineView("General admission", 2, (1500, 1500), 3000),),
        tickets=tickets,
    )


def parse(message: EmailMessage) -> EmailMessage:
    parsed = BytesParser(policy=default).parsebytes(message.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_codes_roundtrip_and_tampering() -> None:
    code = sign_ticket_code("tkt_abc", SECRET)
    assert verify_ticket_code(code, SECRET) == "tkt_abc"
    for bad in ("tkt_abd" + code[7:], code[:-1] + ("A" if code[-1] != "A" else "B"), "garbage", "", "x."):
        with pytest.raises(InvalidTicketCode):
            verify_ticket_code(bad, SECRET)
    with pytest.raises(InvalidTicketCode):
        verify_ticket_code(code, b"other-secret")


@given(position=st.integers(min_value=0, max_value=60), replacement=st.characters(min_codepoint=33, max_codepoint=126))
def test_any_single_character_change_is_detected(position: int, replacement: str) -> None:
    code = sign_ticket_code("tkt_0123456789abcdef", SECRET)
    i = position % len(code)
    altered = code[:i] + replacement + code[i + 1 :]
    if altered == code:
        return
    with pytest.raises(InvalidTicketCode):
        verify_ticket_code(altered, SECRET)


def test_confirmation_content_qr_and_calendar() -> None:
    msg = parse(render_confirmation(context(), sender="Box <t@example.com>", dedupe_key="order.confirmed:ord_1"))
    assert msg["Subject"] == "Your tickets for Spring Gala, the; best"
    assert msg["Message-ID"] == "<order.confirmed.ord_1@boxoffice>"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for body in (text, html):
        assert "$33.00" in body and "$3.00" in body and "ord_1" in body
        assert "19:00" in body  # 18:00 UTC shown in Europe/Berlin
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 2
    decoded = set()
    for part in images:
        (barcode,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(part.get_content())))
        decoded.add(barcode.text)
        assert f"cid:{part['Content-ID'].strip('<>')}" in html
    assert decoded == {t.code for t in context().tickets}
    assert {verify_ticket_code(code, SECRET) for code in decoded} == {"tkt_0", "tkt_1"}
    (ics_part,) = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    raw = ics_part.get_payload(decode=True)
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and b"\r\nDTSTART:20270305T180000Z\r\n" in raw
    assert b"SUMMARY:Spring Gala\\, the\\; best" in raw and b"DESCRIPTION:Music\\nand more" in raw
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))


def test_zero_decimal_amounts_and_escaping() -> None:
    ctx = context("jpy", name="<script>alert(1)</script>")
    msg = parse(render_confirmation(ctx, sender="t@example.com", dedupe_key="k"))
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "¥3,300" in html and "<script>" not in html and "&lt;script&gt;" in html


def test_refund_and_failed_payment_emails() -> None:
    refund = parse(render_refund(context(), sender="t@example.com", amount_cents=1000, dedupe_key="r"))
    assert "$10.00" in refund.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    failed = parse(render_payment_failed(context(), sender="t@example.com", dedupe_key="f"))
    assert "did not go through" in failed["Subject"]


class Collector:
    def __init__(self, reply: str | None = None) -> None:
        self.reply = reply
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        if self.reply:
            return self.reply
        assert isinstance(envelope.content, bytes)
        self.messages.append(envelope.content)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Collector, int]]:
    handler = Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


async def test_smtp_delivers_intact(smtp: tuple[Collector, int]) -> None:
    handler, port = smtp
    transport = SMTPTransport.from_url(f"smtp://user:hunter2@127.0.0.1:{port}")
    assert "hunter2" not in repr(transport)
    transport = SMTPTransport.from_url(f"smtp://127.0.0.1:{port}")
    await transport.send(render_confirmation(context(), sender="t@example.com", dedupe_key="order.confirmed:ord_1"))
    (raw,) = handler.messages
    received = message_from_bytes(raw, policy=default)
    assert received["Message-ID"] == "<order.confirmed.ord_1@boxoffice>"
    assert len([p for p in received.walk() if p.get_content_type() == "image/png"]) == 2


async def test_smtp_refusal_and_unreachable_raise_transport_error(smtp: tuple[Collector, int]) -> None:
    handler, port = smtp
    handler.reply = "451 Try again later"
    with pytest.raises(TransportError):
        await SMTPTransport.from_url(f"smtp://127.0.0.1:{port}").send(
            render_payment_failed(context(), sender="t@example.com", dedupe_key="x")
        )
    with pytest.raises(TransportError):
        await SMTPTransport.from_url(f"smtp://127.0.0.1:{free_port()}?timeout=2").send(
            render_payment_failed(context(), sender="t@example.com", dedupe_key="x")
        )


async def test_file_transport_is_idempotent(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path)
    msg = render_confirmation(context(), sender="t@example.com", dedupe_key="order.confirmed:ord_1")
    await transport.send(msg)
    await transport.send(msg)
    files = list(tmp_path.glob("*.eml"))
    assert len(files) == 1
    assert message_from_bytes(files[0].read_bytes(), policy=default)["Subject"].startswith("Your tickets")
