"""Emails composed straight to bytes (``notifications/mime.py``): well-formed (CRLF, 7-bit, short lines), read back
by the standard library as the same email, written by the file transport as they are, and sent several over one
SMTP connection, each to its own recipient, one refused without failing the others."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.headerregistry import Address
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from hypothesis import given, settings
from hypothesis import strategies as st

from boxoffice.notifications import mime
from boxoffice.notifications.render import compose_confirmation
from boxoffice.notifications.transport import FileTransport, SMTPTransport
from tests.notifications.conftest import SENDER, free_port, make_context, reparse

NOW = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)


def composed(**overrides: Any) -> mime.ComposedEmail:
    return compose_confirmation(make_context(**overrides), sender=SENDER, dedupe_key="order.confirmed:ord_1", now=NOW)


def test_bytes_are_crlf_seven_bit_with_short_lines() -> None:
    email = composed(buyer_name="Zoë Ångström", event_title="Nuit d'été " + "très longue " * 12, organizer_name="Ünï")
    assert email.data.isascii()
    assert b"\n" not in email.data.replace(b"\r\n", b"")
    assert max(len(line) for line in email.data.split(b"\r\n")) <= 78
    assert email.message_id == "<order.confirmed.ord_1@boxoffice>"
    assert (email.envelope_from, email.recipients) == ("tickets@example.com", ("ada@example.com",))


def test_read_back_as_the_same_email() -> None:
    title = "Nuit d'été, spéciale; " + "x" * 90
    message = composed(event_title=title, organizer_name="Société Générale").as_message()
    assert message["Subject"] == f"Your tickets for {title}"
    assert message["Reply-To"].addresses[0].display_name == "Société Générale"
    assert message["Date"].datetime == NOW
    structure = [part.get_content_type() for part in message.walk()]
    assert structure == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
        "image/png",
        "text/calendar",
    ]
    text = message.get_body(preferencelist=("plain",))
    assert text is not None and title in text.get_content()
    ics = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    assert ics.get_filename() == "event.ics" and ics.get_param("method") == "PUBLISH"
    assert "BEGIN:VCALENDAR" in ics.get_content()


def test_text_parts_round_trip() -> None:
    for text in ("plain ascii\nlines\n", "trailing space \nand tab\t\n", "é" * 200 + "\n", "a" * 300, "x\r\ny\rz"):
        part = mime.text_part("plain", text)
        message = reparse((b"MIME-Version: 1.0\r\n" + part.to_bytes()).replace(b"\r\n", b"\n"))
        expected = text.replace("\r\n", "\n").replace("\r", "\n")
        assert message.get_content().rstrip("\n") == expected.rstrip("\n")
        assert max(len(line) for line in part.body.split(b"\r\n")) <= 78


def test_headers_plain_or_encoded() -> None:
    assert mime.header("Subject", "Hello") == "Subject: Hello\r\n"
    encoded = mime.header("Subject", "Grüße")
    assert encoded.isascii() and "=?utf-8?" in encoded
    with pytest.raises(ValueError, match="line breaks"):
        mime.header("Subject", "Hi\r\nBcc: victim@example.com")


async def test_the_file_transport_writes_the_bytes_once_per_message_id(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path)
    first, again = composed(), composed()  # a resend: the same Message-ID (its boundaries differ)
    assert await transport.send_many([first, again]) == [None, None]
    (written,) = list(tmp_path.glob("*.eml"))
    assert written.read_bytes() == again.data
    assert transport.path_for(first) == written


class Counting:
    def __init__(self, refuse: str = "") -> None:
        self.connections = 0
        self.refuse = refuse
        self.received: list[Envelope] = []

    async def handle_EHLO(
        self, server: Any, session: Session, envelope: Envelope, hostname: str, responses: Any
    ) -> Any:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        if address == self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope)
        return "250 OK"


async def test_several_emails_over_one_smtp_connection() -> None:
    handler = Counting(refuse="nobody@example.com")
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        emails = [composed(buyer_email=f"b{i}@example.com") for i in range(3)]
        emails.insert(1, composed(buyer_email="nobody@example.com"))
        errors = await SMTPTransport.from_url(f"smtp://127.0.0.1:{port}?timeout=5").send_many(emails)
    finally:
        controller.stop()
    assert [e is None for e in errors] == [True, False, True, True]
    refused = errors[1]
    assert refused is not None and refused.smtp_code == 550
    assert handler.connections == 1
    assert [env.rcpt_tos for env in handler.received] == [[f"b{i}@example.com"] for i in range(3)]
    assert all(env.mail_from == "tickets@example.com" for env in handler.received)
    for env, email in zip(handler.received, [emails[0], *emails[2:]], strict=True):
        assert isinstance(env.original_content, bytes)
        assert re.sub(rb"\r\n", b"\n", env.original_content).rstrip() == email.data.replace(b"\r\n", b"\n").rstrip()


def _the_librarys(addr_spec: str, display_name: str) -> tuple[str, str, str, str] | type[Exception]:
    try:
        made = Address(display_name=display_name, addr_spec=addr_spec)
    except Exception as exc:  # whatever the library raises (an IndexError for "", for one)
        return type(exc)
    return str(made), made.addr_spec, made.username, made.domain


def _ours(addr_spec: str, display_name: str) -> tuple[str, str, str, str] | type[Exception]:
    try:
        made = mime.address(addr_spec, display_name)
    except Exception as exc:  # whatever the library raises (an IndexError for "", for one)
        return type(exc)
    return str(made), made.addr_spec, made.username, made.domain


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.from_regex(mime._PLAIN_ADDRESS, fullmatch=True),
        st.emails(),
        st.text(alphabet=st.sampled_from('aZ09._+-@"() \\\r\né<>,;'), max_size=20),
    ),
    st.sampled_from(["", "Ana", "Ana B. (Box)", 'O"Neil, Ana', "Zoë"]),
)
def test_an_address_is_the_one_the_standard_library_makes(addr_spec: str, display_name: str) -> None:
    assert _ours(addr_spec, display_name) == _the_librarys(addr_spec, display_name)


def test_a_plain_address_skips_the_parse_and_others_do_not() -> None:
    assert mime._PLAIN_ADDRESS.fullmatch("ana.b+x@mail.example.com")
    for other in ('"a b"@example.com', "a..b@example.com", "a@[127.0.0.1]", "a(c)@example.com", "zoë@example.com"):
        assert not mime._PLAIN_ADDRESS.fullmatch(other)
        assert _ours(other, "") == _the_librarys(other, "")
