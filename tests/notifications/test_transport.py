"""Transports: a real SMTP server (aiosmtpd) receives messages intact; refusals and outages raise TransportError;
``.eml`` files are written atomically and once per Message-ID; credentials never show."""

from __future__ import annotations

import asyncio
import io
import os
import stat
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from boxoffice.notifications.codes import verify_ticket_code
from boxoffice.notifications.render import render_confirmation, render_payment_failed
from boxoffice.notifications.transport import (
    EmailTransport,
    FileTransport,
    SMTPTransport,
    TransportError,
    make_transport,
)
from tests.notifications.conftest import SECRET, SENDER, SMTPServer, free_port, make_context, reparse


def confirmation(dedupe_key: str = "order.confirmed:ord_1234") -> EmailMessage:
    return render_confirmation(make_context(), sender=SENDER, dedupe_key=dedupe_key)


async def test_smtp_delivers_the_message_intact(smtp_server: SMTPServer) -> None:
    sent = confirmation()
    await SMTPTransport.from_url(f"smtp://127.0.0.1:{smtp_server.port}?timeout=5").send(sent)
    (envelope,) = smtp_server.inbox.received
    assert envelope.mail_from == "tickets@example.com"
    assert envelope.rcpt_tos == ["ada@example.com"]
    assert isinstance(envelope.content, bytes)
    received = reparse(envelope.content)
    assert received["Message-ID"] == "<order.confirmed.ord_1234@boxoffice>"
    assert received["Subject"] == sent["Subject"]
    original = reparse(sent)
    for kind in ("plain", "html"):
        got, want = received.get_body((kind,)), original.get_body((kind,))
        assert got is not None and want is not None
        assert got.get_content().replace("\r\n", "\n") == want.get_content()
    images = [p for p in received.walk() if p.get_content_type() == "image/png"]
    codes = [zxingcpp.read_barcodes(Image.open(io.BytesIO(p.get_content())))[0].text for p in images]
    assert [verify_ticket_code(c, SECRET) for c in codes] == [t.ticket_id for t in make_context().tickets]
    (ics,) = [p for p in received.walk() if p.get_content_type() == "text/calendar"]
    (want_ics,) = [p for p in original.walk() if p.get_content_type() == "text/calendar"]
    assert ics.get_payload(decode=True) == want_ics.get_payload(decode=True)


async def test_smtp_authenticates_with_url_credentials(smtp_server: SMTPServer) -> None:
    # The password has characters that must be percent-encoded in a URL.
    url = f"smtp://mailer:p%40ss%3Aw%2Frd@127.0.0.1:{smtp_server.port}?starttls=false&timeout=5"
    await SMTPTransport.from_url(url).send(confirmation())
    assert smtp_server.inbox.logins == [(b"mailer", b"p@ss:w/rd")]
    assert len(smtp_server.inbox.received) == 1


async def test_smtp_with_credentials_refuses_a_server_without_starttls(smtp_server: SMTPServer) -> None:
    # The test server offers no STARTTLS (as when someone in between strips the offer): the password stays home.
    transport = SMTPTransport.from_url(f"smtp://mailer:p%40ss%3Aw%2Frd@127.0.0.1:{smtp_server.port}?timeout=5")
    assert transport.start_tls is True and "starttls=true" in repr(transport)
    with pytest.raises(TransportError, match="does not offer STARTTLS") as caught:
        await transport.send(confirmation())
    assert "starttls=false" in str(caught.value) and "p@ss" not in str(caught.value)
    assert smtp_server.inbox.logins == [] and smtp_server.inbox.received == []


async def test_smtp_without_credentials_still_sends_without_tls(smtp_server: SMTPServer) -> None:
    transport = SMTPTransport.from_url(f"smtp://127.0.0.1:{smtp_server.port}?timeout=5")
    assert transport.start_tls is None  # opportunistic: nothing secret travels
    await transport.send(confirmation())
    assert len(smtp_server.inbox.received) == 1


async def test_smtp_wrong_password_is_a_transport_error_that_does_not_leak_it(smtp_server: SMTPServer) -> None:
    transport = SMTPTransport.from_url(
        f"smtp://mailer:hunter2-secret@127.0.0.1:{smtp_server.port}?starttls=false&timeout=5"
    )
    with pytest.raises(TransportError) as caught:
        await transport.send(confirmation())
    assert caught.value.smtp_code == 535
    assert "hunter2" not in str(caught.value) and "hunter2" not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert smtp_server.inbox.received == []


@pytest.mark.parametrize(
    ("reply", "code", "permanent"), [("451 4.3.0 Try again later", 451, False), ("554 5.7.1 Rejected", 554, True)]
)
async def test_smtp_refusal_raises_transport_error(
    smtp_server: SMTPServer, reply: str, code: int, permanent: bool
) -> None:
    smtp_server.inbox.reply = reply
    with pytest.raises(TransportError) as caught:
        await SMTPTransport.from_url(f"smtp://127.0.0.1:{smtp_server.port}?timeout=5").send(
            render_payment_failed(make_context(), sender=SENDER, dedupe_key="order.failed:ord_1234")
        )
    assert caught.value.smtp_code == code and caught.value.permanent is permanent
    assert str(code) in str(caught.value)


async def test_unreachable_server_raises_transport_error_promptly() -> None:
    transport = SMTPTransport.from_url(f"smtp://user:pw@127.0.0.1:{free_port()}?timeout=3")
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        await transport.send(confirmation())
    assert time.monotonic() - started < 3
    assert "pw@" not in str(caught.value)


async def test_silent_server_times_out() -> None:
    # Accepts the connection but never greets: the timeout applies.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(TransportError):
            await SMTPTransport.from_url(f"smtp://127.0.0.1:{port}?timeout=0.5").send(confirmation())
        assert time.monotonic() - started < 5
    finally:
        server.close()


def test_from_url_variants_and_repr_hides_the_password() -> None:
    plain = SMTPTransport.from_url("smtp://user:hunter2@mail.example.com:2525")
    assert (plain.host, plain.port, plain.username, plain.use_tls, plain.start_tls) == (
        "mail.example.com",
        2525,
        "user",
        False,
        True,  # credentials: STARTTLS required unless the URL says starttls=false
    )
    anonymous = SMTPTransport.from_url("smtp://mail.example.com:2525")
    assert anonymous.start_tls is None
    cleartext = SMTPTransport.from_url("smtp://user:hunter2@mail.example.com:2525?starttls=false")
    assert cleartext.start_tls is False and "hunter2" not in repr(cleartext)
    assert SMTPTransport("mail.example.com", 25, username="u", password="p").start_tls is True
    assert "hunter2" not in repr(plain) and "hunter2" not in str(plain) and "hunter2" not in repr(vars(plain).keys())
    assert "user" in repr(plain) and "mail.example.com:2525" in repr(plain)

    implicit = SMTPTransport.from_url("smtps://u:p@mail.example.com")
    assert (implicit.port, implicit.use_tls, implicit.start_tls) == (465, True, False)
    starttls = SMTPTransport.from_url("smtp://u:p@mail.example.com?starttls=true&timeout=7.5")
    assert (starttls.port, starttls.use_tls, starttls.start_tls, starttls.timeout) == (587, False, True, 7.5)
    never = SMTPTransport.from_url("smtp://mail.example.com?starttls=false")
    assert (never.port, never.start_tls, never.username) == (25, False, None)


@pytest.mark.parametrize(
    "url",
    [
        "http://user:hunter2@mail.example.com",
        "smtp://user:hunter2@",
        "smtp://user:hunter2@mail.example.com:notaport",
        "smtp://user:hunt/er2@mail.example.com",  # an unencoded slash cuts the authority short
        "smtps://user:hunter2@mail.example.com?starttls=true",
        "smtp://user:hunter2@mail.example.com?starttls=maybe",
        "smtp://user:hunter2@mail.example.com?timeout=soon",
        "smtp://user:hunter2@mail.example.com?timeout=0",
    ],
)
def test_bad_urls_are_refused_without_quoting_them(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        SMTPTransport.from_url(url)
    assert "hunter" not in str(caught.value) and "hunt" not in str(caught.value)


def test_make_transport(tmp_path: Path) -> None:
    assert isinstance(make_transport(None, tmp_path), FileTransport)
    assert isinstance(make_transport("", tmp_path), FileTransport)
    smtp = make_transport("smtp://u:secret@mail.example.com", tmp_path)
    assert isinstance(smtp, SMTPTransport) and isinstance(smtp, EmailTransport)
    assert "secret" not in repr(smtp)


async def test_file_transport_writes_a_parseable_eml(tmp_path: Path) -> None:
    folder = tmp_path / "mail"  # created on demand
    await FileTransport(folder).send(confirmation())
    (path,) = folder.iterdir()
    assert path.suffix == ".eml"
    stamp, _, rest = path.name.partition("-")
    assert len(stamp) == len("20270102T030405123456Z") and stamp.endswith("Z")
    assert rest == "order.confirmed.ord_1234@boxoffice.eml"
    raw = path.read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    parsed = reparse(raw)
    assert parsed["Message-ID"] == "<order.confirmed.ord_1234@boxoffice>"
    assert parsed["Subject"] == "Your tickets for Spring Gala, the; best"
    assert len([p for p in parsed.walk() if p.get_content_type() == "image/png"]) == 2


async def test_file_transport_is_idempotent_per_message_id(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path)
    await transport.send(confirmation())
    (first,) = tmp_path.iterdir()
    await asyncio.sleep(0.01)
    await transport.send(confirmation())  # re-rendered: a new Date, the same Message-ID
    await FileTransport(tmp_path).send(confirmation())  # another instance (a restarted worker)
    assert list(tmp_path.iterdir()) == [first]
    await asyncio.gather(*(transport.send(confirmation()) for _ in range(5)))
    assert list(tmp_path.iterdir()) == [first]
    await transport.send(confirmation("order.refunded:ord_1234"))
    await transport.send(render_payment_failed(make_context(), sender=SENDER, dedupe_key="order.failed:ord_1234"))
    names = sorted(p.name.partition("-")[2] for p in tmp_path.iterdir())
    assert names == [
        "order.confirmed.ord_1234@boxoffice.eml",
        "order.failed.ord_1234@boxoffice.eml",
        "order.refunded.ord_1234@boxoffice.eml",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left behind


async def test_file_transport_sees_what_another_process_wrote(tmp_path: Path) -> None:
    ours, theirs = FileTransport(tmp_path), FileTransport(tmp_path)  # two workers sharing one folder
    await ours.send(confirmation("order.confirmed:ord_a"))
    await asyncio.sleep(0.05)  # the folder's timestamp moves on a clock tick
    await theirs.send(confirmation("order.confirmed:ord_b"))
    await asyncio.sleep(0.05)
    await ours.send(confirmation("order.confirmed:ord_b"))  # a retry of theirs, in our process
    names = sorted(p.name.partition("-")[2] for p in tmp_path.iterdir())
    assert names == ["order.confirmed.ord_a@boxoffice.eml", "order.confirmed.ord_b@boxoffice.eml"]


async def test_file_transport_lists_its_folder_once_while_it_alone_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listings = 0
    real_listdir = os.listdir

    def counting_listdir(path: str | Path) -> list[str]:
        nonlocal listings
        listings += 1
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", counting_listdir)
    transport = FileTransport(tmp_path)
    for i in range(20):
        await transport.send(confirmation(f"order.confirmed:ord_{i}"))
    await transport.send(confirmation("order.confirmed:ord_3"))  # a resend finds its file without a listing
    assert listings == 1
    assert len(list(tmp_path.iterdir())) == 20


async def test_file_transport_without_message_id_is_still_idempotent(tmp_path: Path) -> None:
    message = confirmation()
    del message["Message-ID"]
    transport = FileTransport(tmp_path)
    await transport.send(message)
    await transport.send(message)
    (path,) = tmp_path.iterdir()
    assert "nomsgid_" in path.name


async def test_file_transport_failure_is_a_transport_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root ignores directory permissions; nobody may create files in a process's /proc folder
        with pytest.raises(TransportError):
            await FileTransport(Path("/proc/self")).send(confirmation())
        return
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(TransportError):
            await FileTransport(folder).send(confirmation())
    finally:
        folder.chmod(stat.S_IRWXU)


async def test_file_transport_unwritable_path_is_a_transport_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(TransportError):
        await FileTransport(blocker / "mail").send(confirmation())
