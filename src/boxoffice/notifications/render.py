"""Email rendering: plain text and HTML from Jinja2 templates, each ticket's QR code inline, an ``.ics`` attachment.

Pure: the caller passes everything in an ``OrderEmailContext`` (no database; nothing from other contexts, only the
shared ``boxoffice.money`` formatting) and gets back the email for a transport: ``compose_*`` write it straight to
bytes (``notifications/mime.py``), ``render_*`` give the same email parsed back as an ``EmailMessage``. The
``Message-ID`` comes from the caller's dedupe key, so sending the same email again (a retry, a restarted worker)
carries the same id and a receiver can drop the copy.

A little over 400 lines: each order email is a ``compose_*`` and its ``render_*`` twin (so the tests check exactly
what is sent), beside the shared helpers they need; splitting them apart would scatter one email's shape.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, Template, select_autoescape

from boxoffice.money import format_money
from boxoffice.notifications import mime
from boxoffice.notifications.ics import build_ics
from boxoffice.notifications.mime import ComposedEmail
from boxoffice.notifications.qr import qr_png

__all__ = [
    "LineView",
    "OrderEmailContext",
    "TicketView",
    "WaitingEmailContext",
    "compose_confirmation",
    "compose_payment_failed",
    "compose_refund",
    "compose_simple",
    "compose_waiting_list",
    "format_money",
    "message_id",
    "qr_png",
    "render_confirmation",
    "render_payment_failed",
    "render_refund",
    "render_waiting_list",
]

MESSAGE_ID_DOMAIN = "boxoffice"

_env = Environment(
    loader=PackageLoader("boxoffice.notifications", "templates"),
    autoescape=select_autoescape(
        enabled_extensions=("html",), disabled_extensions=("txt",), default_for_string=True, default=True
    ),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    auto_reload=False,  # the templates ship with the package: no stat() of their files for every email
)
_env.filters["money"] = format_money


@dataclass(frozen=True)
class TicketView:
    ticket_id: str
    title: str
    code: str
    unit_price_cents: int
    holder: str = ""  # the attendee's name (or email), when the ticket has one


@dataclass(frozen=True)
class LineView:
    title: str
    quantity: int
    unit_prices_cents: tuple[int, ...]
    line_total_cents: int


@dataclass(frozen=True)
class OrderEmailContext:
    order_id: str
    order_url: str
    buyer_name: str
    buyer_email: str
    event_id: str
    event_title: str
    event_description: str
    event_starts_at: datetime
    event_ends_at: datetime
    event_timezone: str
    organizer_name: str
    organizer_email: str
    currency: str
    subtotal_cents: int
    tip_cents: int
    total_cents: int
    refunded_cents: int
    lines: tuple[LineView, ...]
    tickets: tuple[TicketView, ...]
    failure_reason: str | None = None
    event_url: str = ""  # the buyer page of the event, where tickets can be bought again
    event_venue_name: str = ""  # where the event takes place (both optional)
    event_venue_address: str = ""  # may span several lines


def where(ctx: OrderEmailContext) -> list[str]:
    """Where the event takes place, line by line: the venue's name, then its address (empty when not given)."""
    return venue_lines(ctx.event_venue_name, ctx.event_venue_address)


def venue_lines(name: str, address: str) -> list[str]:
    """A venue's name, then its address, line by line (empty when neither is given)."""
    lines = [_one_line(name)] if name.strip() else []
    lines += [_one_line(line) for line in address.splitlines() if line.strip()]
    return lines


@dataclass(frozen=True)
class WaitingEmailContext:
    """A waiting-list entry's emails: joining (its place in line) and its offer (the code, until when)."""

    entry_id: str
    buyer_name: str
    buyer_email: str
    event_title: str
    event_starts_at: datetime
    event_ends_at: datetime
    event_timezone: str
    event_url: str
    organizer_name: str
    organizer_email: str
    ticket_title: str
    quantity: int
    leave_url: str
    position: int | None = None
    offer_code: str | None = None
    offer_url: str | None = None  # the event page with the code filled in
    offer_expires_at: datetime | None = None


_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


def message_id(dedupe_key: str, domain: str = MESSAGE_ID_DOMAIN) -> str:
    """``<order.confirmed.ord_123@boxoffice>`` for ``order.confirmed:ord_123``: the same key, the same id.

    Colons become dots; a key with other characters outside ``[A-Za-z0-9._-]`` is made safe and gets a short hash
    of the original, so two different keys never share an id."""
    dotted = dedupe_key.replace(":", ".")
    local = re.sub(r"\.{2,}", ".", _UNSAFE_ID.sub("-", dotted)).strip(".")[:160]
    if local != dotted:
        digest = hashlib.sha256(dedupe_key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        local = f"{local}.{digest}" if local else digest
    return f"<{local}@{domain}>"


def _one_line(value: str) -> str:
    """Header text: no line breaks or other controls (they would break, or inject, headers)."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", value).split())


def _local(value: datetime, tz: ZoneInfo) -> datetime:
    return value.astimezone(tz)


def _day(value: datetime) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}"


def when(starts_at: datetime, ends_at: datetime, timezone: str) -> str:
    """``Friday 5 March 2027, 19:00 to 23:00 CET (Europe/Berlin)``, in the event's own timezone."""
    tz = ZoneInfo(timezone)
    start, end = _local(starts_at, tz), _local(ends_at, tz)
    if start.date() == end.date():
        text = f"{_day(start)}, {start:%H:%M} to {end:%H:%M} {end:%Z}"
    else:
        text = f"{_day(start)}, {start:%H:%M} {start:%Z} to {_day(end)}, {end:%H:%M} {end:%Z}"
    return f"{text} ({timezone})"


def moment(value: datetime, timezone: str) -> str:
    """``Friday 5 March 2027, 19:00 CET (Europe/Berlin)``, in the event's own timezone."""
    local = _local(value, ZoneInfo(timezone))
    return f"{_day(local)}, {local:%H:%M} {local:%Z} ({timezone})"


@functools.cache
def _templates(name: str) -> tuple[Template, Template]:
    """The text and HTML templates of an email, compiled once per process."""
    return _env.get_template(f"email/{name}.txt"), _env.get_template(f"email/{name}.html")


def _render(name: str, **values: Any) -> tuple[str, str]:
    text, html = _templates(name)
    return text.render(**values), html.render(**values)


def _common(ctx: OrderEmailContext) -> dict[str, Any]:
    return {
        "o": ctx,
        "greeting_name": _one_line(ctx.buyer_name) or ctx.buyer_email,
        "when": when(ctx.event_starts_at, ctx.event_ends_at, ctx.event_timezone),
        "where": where(ctx),
    }


def _unit_prices(line: LineView, currency: str) -> str:
    prices = sorted(set(line.unit_prices_cents))
    return ", ".join(format_money(p, currency) for p in prices)


def render_confirmation(
    ctx: OrderEmailContext, *, sender: str, dedupe_key: str, now: datetime | None = None
) -> EmailMessage:
    """The confirmation (``compose_confirmation``) as an ``EmailMessage``."""
    return compose_confirmation(ctx, sender=sender, dedupe_key=dedupe_key, now=now).as_message()


def compose_confirmation(
    ctx: OrderEmailContext, *, sender: str, dedupe_key: str, now: datetime | None = None
) -> ComposedEmail:
    """The buyer's tickets: order summary, each ticket's code and QR code, and the event as a calendar file.

    Structure: ``multipart/mixed`` [ ``multipart/alternative`` [ text, ``multipart/related`` [ HTML, QR PNGs ] ],
    ``event.ics`` ]. Written straight to bytes (``notifications/mime.py``): the worker sends these in bulk."""
    images: list[mime.Part] = []
    tickets: list[dict[str, Any]] = []
    for index, ticket in enumerate(ctx.tickets, start=1):
        png, size = qr_png(ticket.code)
        safe = _UNSAFE_ID.sub("-", ticket.ticket_id)
        cid = f"qr{index}.{safe[:64]}@{MESSAGE_ID_DOMAIN}"
        tickets.append({"ticket": ticket, "cid": cid, "size": size, "number": index})
        images.append(
            mime.binary_part(
                [
                    "Content-Type: image/png\r\n",
                    f'Content-Disposition: inline; filename="ticket-{safe}.png"\r\n',
                    f"Content-ID: <{cid}>\r\n",
                ],
                png,
            )
        )
    lines = [{"line": line, "unit_prices": _unit_prices(line, ctx.currency)} for line in ctx.lines]
    text, html = _render("confirmation", tickets=tickets, lines=lines, **_common(ctx))
    ics = build_ics(
        uid=f"{ctx.event_id}@{MESSAGE_ID_DOMAIN}",
        title=ctx.event_title,
        description=ctx.event_description,
        starts_at=ctx.event_starts_at,
        ends_at=ctx.event_ends_at,
        timezone=ctx.event_timezone,
        url=ctx.order_url,
        organizer_name=ctx.organizer_name,
        organizer_email=ctx.organizer_email,
        location=", ".join(where(ctx)),
        stamp=now,
    )
    related = mime.multipart("related", [mime.text_part("html", html), *images])
    alternative = mime.multipart("alternative", [mime.text_part("plain", text), related])
    calendar = mime.binary_part(
        [
            'Content-Type: text/calendar; method="PUBLISH"; charset="utf-8"\r\n',
            'Content-Disposition: attachment; filename="event.ics"\r\n',
        ],
        ics.encode("utf-8"),
    )
    to = mime.address(ctx.buyer_email.strip())
    headers = [("Subject", _one_line(f"Your tickets for {ctx.event_title}")), ("From", sender), ("To", str(to))]
    if ctx.organizer_email:
        reply_to = mime.address(ctx.organizer_email.strip(), _one_line(ctx.organizer_name))
        headers.append(("Reply-To", str(reply_to)))
    headers += [
        ("Date", format_datetime((now or datetime.now(UTC)).astimezone(UTC), usegmt=True)),
        ("Message-ID", message_id(dedupe_key)),
        ("Auto-Submitted", "auto-generated"),  # RFC 3834: no vacation replies
        ("X-Auto-Response-Suppress", "All"),
    ]
    return mime.compose(headers, mime.multipart("mixed", [alternative, calendar]), sender=sender, to=to)


def add_bodies(message: EmailMessage, text: str, html: str, images: Sequence[tuple[str, bytes, str]]) -> None:
    """The text and HTML bodies, the HTML's inline images (``(content id, PNG, file name)``: the QR codes)."""
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, MIMEPart)
    for cid, png, filename in images:
        html_part.add_related(
            png, maintype="image", subtype="png", cid=f"<{cid}>", disposition="inline", filename=filename
        )


def attach_ics(message: EmailMessage, ics: str) -> None:
    """The event's calendar file, as every ticket email carries it."""
    message.add_attachment(
        ics.encode("utf-8"),
        maintype="text",
        subtype="calendar",
        filename="event.ics",
        params={"method": "PUBLISH", "charset": "utf-8"},
    )


def compose_simple(
    *,
    to_email: str,
    sender: str,
    subject: str,
    dedupe_key: str,
    text: str,
    html: str,
    reply_to: tuple[str, str] | None = None,
    now: datetime | None = None,
) -> ComposedEmail:
    """An email of a text and an HTML alternative, written straight to bytes (``notifications/mime.py``), with the
    headers every email of ours carries. ``reply_to``: (name, address), the organizer's."""
    # The address only: a display name would be text the requester chose, shown by mail clients as if it came
    # from us (an order placed for someone else's address could greet them with anything).
    to = mime.address(to_email.strip())
    headers = [("Subject", _one_line(subject)), ("From", sender), ("To", str(to))]
    if reply_to is not None and reply_to[1]:
        headers.append(("Reply-To", str(mime.address(reply_to[1].strip(), _one_line(reply_to[0])))))
    headers += [
        ("Date", format_datetime((now or datetime.now(UTC)).astimezone(UTC), usegmt=True)),
        ("Message-ID", message_id(dedupe_key)),
        ("Auto-Submitted", "auto-generated"),  # RFC 3834: no vacation replies
        ("X-Auto-Response-Suppress", "All"),
    ]
    body = mime.multipart("alternative", [mime.text_part("plain", text), mime.text_part("html", html)])
    return mime.compose(headers, body, sender=sender, to=to)


def compose_refund(
    ctx: OrderEmailContext, *, sender: str, amount_cents: int, dedupe_key: str, now: datetime | None = None
) -> ComposedEmail:
    """A refund of ``amount_cents`` (this refund; ``ctx.refunded_cents`` is the order's total refunded so far)."""
    fully = ctx.refunded_cents >= ctx.total_cents
    text, html = _render("refund", amount=amount_cents, fully_refunded=fully, **_common(ctx))
    return compose_simple(
        to_email=ctx.buyer_email,
        sender=sender,
        subject=f"Refund for your order for {ctx.event_title}",
        dedupe_key=dedupe_key,
        text=text,
        html=html,
        reply_to=(ctx.organizer_name, ctx.organizer_email),
        now=now,
    )


def render_refund(
    ctx: OrderEmailContext, *, sender: str, amount_cents: int, dedupe_key: str, now: datetime | None = None
) -> EmailMessage:
    """``compose_refund`` as an ``EmailMessage``."""
    return compose_refund(ctx, sender=sender, amount_cents=amount_cents, dedupe_key=dedupe_key, now=now).as_message()


def compose_payment_failed(
    ctx: OrderEmailContext, *, sender: str, dedupe_key: str, now: datetime | None = None
) -> ComposedEmail:
    """The payment did not go through; the held tickets were released."""
    text, html = _render("payment_failed", **_common(ctx))
    return compose_simple(
        to_email=ctx.buyer_email,
        sender=sender,
        subject=f"Your payment for {ctx.event_title} did not go through",
        dedupe_key=dedupe_key,
        text=text,
        html=html,
        reply_to=(ctx.organizer_name, ctx.organizer_email),
        now=now,
    )


def render_payment_failed(
    ctx: OrderEmailContext, *, sender: str, dedupe_key: str, now: datetime | None = None
) -> EmailMessage:
    """``compose_payment_failed`` as an ``EmailMessage``."""
    return compose_payment_failed(ctx, sender=sender, dedupe_key=dedupe_key, now=now).as_message()


def compose_waiting_list(
    ctx: WaitingEmailContext, *, kind: str, sender: str, dedupe_key: str, now: datetime | None = None
) -> ComposedEmail:
    """``waitlist_joined`` (the place in line, and how to leave) or ``waitlist_offer`` (the code holding the
    tickets, until when, and the link that fills it in)."""
    common = {
        "o": ctx,
        "greeting_name": _one_line(ctx.buyer_name) or ctx.buyer_email,
        "when": when(ctx.event_starts_at, ctx.event_ends_at, ctx.event_timezone),
        "offer_until": moment(ctx.offer_expires_at, ctx.event_timezone) if ctx.offer_expires_at else "",
    }
    text, html = _render(kind, **common)
    subject = (
        f"Tickets for {ctx.event_title} are held for you"
        if kind == "waitlist_offer"
        else f"You are on the waiting list for {ctx.event_title}"
    )
    return compose_simple(
        to_email=ctx.buyer_email,
        sender=sender,
        subject=subject,
        dedupe_key=dedupe_key,
        text=text,
        html=html,
        reply_to=(ctx.organizer_name, ctx.organizer_email),
        now=now,
    )


def render_waiting_list(
    ctx: WaitingEmailContext, *, kind: str, sender: str, dedupe_key: str, now: datetime | None = None
) -> EmailMessage:
    """``compose_waiting_list`` as an ``EmailMessage``."""
    return compose_waiting_list(ctx, kind=kind, sender=sender, dedupe_key=dedupe_key, now=now).as_message()
