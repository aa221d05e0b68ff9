"""Email rendering: HTML and plain text from Jinja2 templates, QR-coded tickets inline, an ``.ics`` attachment."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, formataddr
from typing import Any
from zoneinfo import ZoneInfo

import segno
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from boxoffice.money import format_money
from boxoffice.notifications.ics import build_ics

_env = Environment(
    loader=PackageLoader("boxoffice.notifications", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["money"] = format_money


@dataclass(frozen=True)
class TicketView:
    ticket_id: str
    title: str
    code: str
    unit_price_cents: int


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

    def local(self, value: datetime) -> str:
        return value.astimezone(ZoneInfo(self.event_timezone)).strftime("%A %d %B %Y, %H:%M")


def qr_png(code: str) -> bytes:
    out = io.BytesIO()
    segno.make(code, error="m").save(out, kind="png", scale=6, border=2)
    return out.getvalue()


def _message(ctx: OrderEmailContext, *, sender: str, subject: str, dedupe_key: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = (
        Address(display_name=ctx.buyer_name, addr_spec=ctx.buyer_email) if ctx.buyer_name else ctx.buyer_email
    )
    message["Reply-To"] = formataddr((ctx.organizer_name, ctx.organizer_email))
    message["Date"] = format_datetime(datetime.now().astimezone())
    message["Message-ID"] = f"<{dedupe_key.replace(':', '.')}@boxoffice>"
    return message


def _render(name: str, **values: Any) -> tuple[str, str]:
    text = _env.get_template(f"email/{name}.txt").render(**values)
    html = _env.get_template(f"email/{name}.html").render(**values)
    return text, html


def render_confirmation(ctx: OrderEmailContext, *, sender: str, dedupe_key: str) -> EmailMessage:
    """The buyer's tickets: order summary, each ticket's code and QR code, and the event in a calendar file."""
    cids = {t.ticket_id: f"qr-{t.ticket_id}@boxoffice" for t in ctx.tickets}
    text, html = _render(
        "confirmation", o=ctx, cids=cids, starts=ctx.local(ctx.event_starts_at), ends=ctx.local(ctx.event_ends_at)
    )
    message = _message(ctx, sender=sender, subject=f"Your tickets for {ctx.event_title}", dedupe_key=dedupe_key)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, MIMEPart)
    for ticket in ctx.tickets:
        html_part.add_related(
            qr_png(ticket.code),
            maintype="image",
            subtype="png",
            cid=f"<{cids[ticket.ticket_id]}>",
            filename=f"ticket-{ticket.ticket_id}.png",
        )
    ics = build_ics(
        uid=f"{ctx.event_id}@boxoffice",
        title=ctx.event_title,
        description=ctx.event_description,
        starts_at=ctx.event_starts_at,
        ends_at=ctx.event_ends_at,
        url=ctx.order_url,
        organizer_name=ctx.organizer_name,
        organizer_email=ctx.organizer_email,
    )
    message.add_attachment(
        ics.encode(), maintype="text", subtype="calendar", filename="event.ics", params={"method": "PUBLISH"}
    )
    return message


def render_refund(ctx: OrderEmailContext, *, sender: str, amount_cents: int, dedupe_key: str) -> EmailMessage:
    text, html = _render("refund", o=ctx, amount=amount_cents)
    message = _message(
        ctx, sender=sender, subject=f"Refund for your order for {ctx.event_title}", dedupe_key=dedupe_key
    )
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def render_payment_failed(ctx: OrderEmailContext, *, sender: str, dedupe_key: str) -> EmailMessage:
    text, html = _render("payment_failed", o=ctx)
    message = _message(
        ctx, sender=sender, subject=f"Your payment for {ctx.event_title} did not go through", dedupe_key=dedupe_key
    )
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
