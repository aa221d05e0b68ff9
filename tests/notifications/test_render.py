"""Rendered emails, parsed back as a mail client would: headers, amounts, ticket codes, QR images that decode to
the signed codes, the calendar attachment, HTML escaping."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage

import pytest
import zxingcpp
from PIL import Image

from boxoffice.notifications.codes import verify_ticket_code
from boxoffice.notifications.render import (
    LineView,
    format_money,
    message_id,
    render_confirmation,
    render_payment_failed,
    render_refund,
)
from tests.notifications.conftest import SECRET, SENDER, make_context, reparse

NOW = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def parts(message: EmailMessage, content_type: str) -> list[EmailMessage]:
    return [p for p in message.walk() if p.get_content_type() == content_type]


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1500, "usd", "$15.00"),
        (1500, "jpy", "¥1,500"),
        (300, "eur", "€3.00"),
        (1500, "chf", "15.00 CHF"),
        (123456789, "usd", "$1,234,567.89"),
        (5, "gbp", "£0.05"),
        (1500, "krw", "₩1,500"),
        (1500, "xof", "1,500 XOF"),
        (0, "usd", "$0.00"),
        (-250, "usd", "-$2.50"),
        (1500, "USD", "$15.00"),
    ],
)
def test_format_money(amount: int, currency: str, expected: str) -> None:
    assert format_money(amount, currency) == expected


def test_message_id_is_deterministic_and_safe() -> None:
    assert message_id("order.confirmed:ord_123") == "<order.confirmed.ord_123@boxoffice>"
    assert message_id("order.confirmed:ord_123") == message_id("order.confirmed:ord_123")
    odd = message_id("order refunded:<ord 1>:500")
    assert re.fullmatch(r"<[A-Za-z0-9._-]+@boxoffice>", odd)
    assert odd != message_id("order_refunded:<ord 1>:500")
    assert message_id("a b") != message_id("a/b")


def test_confirmation_headers() -> None:
    msg = reparse(render_confirmation(make_context(), sender=SENDER, dedupe_key="order.confirmed:ord_1234", now=NOW))
    assert msg["Subject"] == "Your tickets for Spring Gala, the; best"
    assert msg["Message-ID"] == "<order.confirmed.ord_1234@boxoffice>"
    assert msg["From"].addresses[0].addr_spec == "tickets@example.com"
    (to,) = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == ("", "ada@example.com")  # the address only: no requester text
    assert msg["Reply-To"].addresses[0].addr_spec == "org@example.com"
    assert msg["Date"].datetime == NOW
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/mixed"


def test_same_dedupe_key_same_message_id() -> None:
    first = render_confirmation(make_context(), sender=SENDER, dedupe_key="order.confirmed:ord_1234")
    again = render_confirmation(make_context(), sender=SENDER, dedupe_key="order.confirmed:ord_1234")
    assert first["Message-ID"] == again["Message-ID"]


def test_unicode_and_awkward_buyer_names_are_encoded() -> None:
    name = 'Zoë "Z" Ångström, Jr.'
    msg = render_confirmation(make_context(buyer_name=name), sender=SENDER, dedupe_key="k")
    raw = msg.as_bytes()
    assert raw.isascii()  # headers are RFC 2047 encoded, bodies transfer-encoded
    (to,) = reparse(raw)["To"].addresses
    assert (to.display_name, to.addr_spec) == ("", "ada@example.com")
    text, _ = bodies(reparse(raw))
    assert name in text  # the greeting still uses it


def test_line_breaks_in_names_and_titles_cannot_inject_headers() -> None:
    ctx = make_context(buyer_name="Eve\r\nBcc: victim@example.com", event_title="Gala\nX-Evil: 1")
    msg = reparse(render_confirmation(ctx, sender=SENDER, dedupe_key="k"))
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert msg["Subject"] == "Your tickets for Gala X-Evil: 1"
    assert msg["To"].addresses[0].display_name == ""
    assert str(msg["To"]) == "ada@example.com"


def test_confirmation_in_usd_summary_and_codes() -> None:
    ctx = make_context("usd")
    text, html = bodies(reparse(render_confirmation(ctx, sender=SENDER, dedupe_key="k")))
    for body in (text, html):
        assert "ord_1234" in body
        assert "General admission" in body
        assert "$15.00" in body  # unit price
        assert "$30.00" in body  # line total and subtotal
        assert "$3.00" in body  # tip
        assert "$33.00" in body  # total
        assert "19:00" in body and "Europe/Berlin" in body  # 18:00 UTC shown in the event's timezone
        assert "https://tickets.example.com/orders/ord_1234?token=tok" in body.replace("&amp;", "&")
        for ticket in ctx.tickets:
            assert ticket.code in body
    assert "Refunded" not in text


def test_confirmation_in_jpy_has_no_decimals() -> None:
    ctx = make_context(
        "jpy",
        lines=(LineView("Standing", 3, (1000, 1500, 2000), 4500),),
        subtotal_cents=4500,
        tip_cents=0,
        total_cents=4500,
    )
    text, html = bodies(reparse(render_confirmation(ctx, sender=SENDER, dedupe_key="k")))
    for body in (text, html):
        assert "¥4,500" in body and "¥1,000, ¥1,500, ¥2,000" in body
        assert "¥4,500.00" not in body and "Tip" not in body


def test_qr_codes_decode_to_the_signed_codes() -> None:
    ctx = make_context()
    msg = reparse(render_confirmation(ctx, sender=SENDER, dedupe_key="k"))
    _, html = bodies(msg)
    images = parts(msg, "image/png")
    assert len(images) == len(ctx.tickets) == 2
    decoded = []
    for image in images:
        assert image.get_content_disposition() == "inline"
        cid = str(image["Content-ID"]).strip("<>")
        match = re.search(rf'<img src="cid:{re.escape(cid)}"[^>]*alt="([^"]+)"', html)
        assert match is not None, "each image is referenced by cid from the HTML, with alt text"
        assert "QR code" in match.group(1)
        results = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.get_content())))
        assert len(results) == 1 and results[0].format == zxingcpp.BarcodeFormat.QRCode
        decoded.append(results[0].text)
        assert results[0].text in match.group(1)  # the alt text carries the code too
    assert decoded == [t.code for t in ctx.tickets]
    assert [verify_ticket_code(code, SECRET) for code in decoded] == [t.ticket_id for t in ctx.tickets]
    # The images belong to the HTML part: multipart/related inside multipart/alternative.
    (related,) = parts(msg, "multipart/related")
    assert [p.get_content_type() for p in related.iter_parts()] == ["text/html", "image/png", "image/png"]


def test_calendar_attachment() -> None:
    msg = reparse(render_confirmation(make_context(), sender=SENDER, dedupe_key="k", now=NOW))
    (ics,) = parts(msg, "text/calendar")
    assert ics.get_content_disposition() == "attachment" and ics.get_filename() == "event.ics"
    assert ics.get_param("method") == "PUBLISH"
    raw = ics.get_payload(decode=True)
    assert isinstance(raw, bytes)
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    physical = raw.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in physical)
    lines = raw.decode("utf-8").replace("\r\n ", "").split("\r\n")
    assert "METHOD:PUBLISH" in lines
    assert "DTSTART:20270305T180000Z" in lines and "DTEND:20270305T220000Z" in lines
    assert "DTSTAMP:20270102T030405Z" in lines
    assert "SUMMARY:Spring Gala\\, the\\; best" in lines
    assert "DESCRIPTION:Music\\nand more" in lines
    assert "UID:evt_42@boxoffice" in lines
    assert any(line.startswith("PRODID:") for line in lines)


def test_long_event_titles_fold_in_the_attachment() -> None:
    msg = reparse(render_confirmation(make_context(event_title="Größtes Fest " * 20), sender=SENDER, dedupe_key="k"))
    (ics,) = parts(msg, "text/calendar")
    raw = ics.get_payload(decode=True)
    assert isinstance(raw, bytes)
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    assert b"\r\n " in raw


HOSTILE = '<script>alert("x")</script>'


def test_html_escapes_hostile_names() -> None:
    ctx = make_context(
        buyer_name=HOSTILE,
        event_title="<b>Gala</b> & <i>friends</i>",
        organizer_name='<img src=x onerror="alert(1)">',
        lines=(LineView("<svg onload=alert(1)>", 2, (1500, 1500), 3000),),
        failure_reason="<script>bad()</script>",
    )
    for message in (
        render_confirmation(ctx, sender=SENDER, dedupe_key="k"),
        render_refund(ctx, sender=SENDER, dedupe_key="r", amount_cents=100),
        render_payment_failed(ctx, sender=SENDER, dedupe_key="f"),
    ):
        text, html = bodies(reparse(message))
        assert "<script" not in html and "<svg" not in html and "<img src=x" not in html and "<b>Gala" not in html
        assert "&lt;script&gt;" in html and "&lt;b&gt;Gala&lt;/b&gt; &amp; &lt;i&gt;friends&lt;/i&gt;" in html
        assert HOSTILE in text  # plain text is not HTML: shown as typed


def test_refund_email() -> None:
    partial = make_context(refunded_cents=1500)
    msg = reparse(
        render_refund(partial, sender=SENDER, amount_cents=1500, dedupe_key="order.partially_refunded:ord_1234:1500")
    )
    assert msg["Subject"] == "Refund for your order for Spring Gala, the; best"
    assert msg["Message-ID"] == "<order.partially_refunded.ord_1234.1500@boxoffice>"
    assert not parts(msg, "image/png") and not parts(msg, "text/calendar")
    for body in bodies(msg):
        assert "$15.00" in body and "$33.00" in body and "ord_1234" in body
        assert "remaining tickets stay valid" in body
    full = reparse(
        render_refund(make_context("jpy", refunded_cents=3300), sender=SENDER, amount_cents=3300, dedupe_key="r")
    )
    for body in bodies(full):
        assert "¥3,300" in body and "no longer valid" in body


def test_payment_failed_email() -> None:
    ctx = make_context(failure_reason="Your card was declined.")
    msg = reparse(render_payment_failed(ctx, sender=SENDER, dedupe_key="order.failed:ord_1234"))
    assert msg["Subject"] == "Your payment for Spring Gala, the; best did not go through"
    assert msg["Message-ID"] == "<order.failed.ord_1234@boxoffice>"
    assert not parts(msg, "image/png")
    for body in bodies(msg):
        assert "Your card was declined." in body and "$33.00" in body and "ord_1234" in body
        assert "released" in body
        # where to buy again, and the order itself, as links (not "on the event page" with no way to get there)
        assert "https://tickets.example.com/e/evt_42" in body
        assert "https://tickets.example.com/orders/ord_1234?token=tok" in body.replace("&amp;", "&")
    without_reason = bodies(reparse(render_payment_failed(make_context(), sender=SENDER, dedupe_key="f")))
    assert all("Reason" not in body for body in without_reason)


def test_buyer_without_name_is_greeted_by_address() -> None:
    msg = reparse(render_payment_failed(make_context(buyer_name=""), sender=SENDER, dedupe_key="f"))
    assert msg["To"].addresses[0] == Address(addr_spec="ada@example.com")
    assert all("Hello ada@example.com" in body for body in bodies(msg))


def test_html_is_accessible() -> None:
    _, html = bodies(reparse(render_confirmation(make_context(), sender=SENDER, dedupe_key="k")))
    assert '<html lang="en">' in html and "<title>" in html
    assert "<caption" in html and '<th scope="col"' in html and '<th scope="row"' in html
    assert all(' alt="' in tag for tag in re.findall(r"<img[^>]*>", html))
