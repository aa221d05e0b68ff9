"""The emails of a ticket handed to someone else (``ticket.transferred``): the new holder gets the ticket with its new
code, QR code and calendar file; the previous holder is told the code they had no longer admits.

``queue_transfer_emails`` is an outbox handler: one ``email_messages`` row per person, unique by a dedupe key that
names the transfer (``ticket.transferred:<transfer id>:to|from``), so each is sent at least once and never twice.
They are rendered from the transfer's row, at the code version it gave (a ticket handed on again since then shows
its newer holder nothing). The email rendering (``render``, ``ics``) is imported by the functions that render: a web
process imports this module for the outbox handler only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.clock import utcnow
from boxoffice.db import Database, insert_new
from boxoffice.events import service as events
from boxoffice.ids import new_id
from boxoffice.notifications.codes import ticket_code
from boxoffice.notifications.models import EmailMessage as EmailRow
from boxoffice.outbox.dispatcher import Message
from boxoffice.ticketing.self_service import get_transfer

KIND = "ticket.transferred"
# email kind -> which side of the transfer it goes to
TRANSFER_KINDS = {"ticket_received": "to", "ticket_handed_on": "from"}


def transfer_dedupe_key(transfer_id: str, side: str) -> str:
    return f"{KIND}:{transfer_id}:{side}"


def transfer_of(dedupe_key: str) -> str:
    """The transfer id an email's dedupe key names."""
    kind, transfer_id, _ = dedupe_key.split(":")
    if kind != KIND:
        raise ValueError(f"not a transfer email: {dedupe_key}")
    return transfer_id


async def queue_transfer_emails(session: AsyncSession, messages: Sequence[Message]) -> None:
    """Outbox handler: an email to each side of each transfer of the batch, in one statement (idempotent per dedupe
    key)."""
    now = utcnow()
    rows = [
        {
            "id": new_id("em"),
            "dedupe_key": transfer_dedupe_key(message.payload["transfer_id"], side),
            "kind": kind,
            "order_id": message.payload["order_id"],
            "event_id": message.payload["event_id"],
            "to_email": message.payload[side]["email"],
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for message in messages
        if message.kind == KIND
        for kind, side in TRANSFER_KINDS.items()
    ]
    await insert_new(session, EmailRow, rows, unique=["dedupe_key"])


@dataclass(frozen=True)
class TransferEmailContext:
    ticket_id: str
    ticket_title: str
    code: str
    from_name: str
    from_email: str
    to_name: str
    to_email: str
    event_id: str
    event_title: str
    event_description: str
    event_starts_at: datetime
    event_ends_at: datetime
    event_timezone: str
    event_url: str
    organizer_name: str
    organizer_email: str
    event_venue_name: str = ""
    event_venue_address: str = ""


async def transfer_context(db: Database, transfer_id: str, *, secret: bytes, public_url: str) -> TransferEmailContext:
    transfer, ticket, title = await get_transfer(db, transfer_id)
    event = await events.get_event(db, transfer.event_id)
    organizer = await events.get_person(db, event.organizer_id)
    return TransferEmailContext(
        ticket_id=ticket.id,
        ticket_title=title,
        code=ticket_code(ticket.id, transfer.code_version, secret),
        from_name=transfer.from_name,
        from_email=transfer.from_email,
        to_name=transfer.to_name,
        to_email=transfer.to_email,
        event_id=event.id,
        event_title=event.title,
        event_description=event.description,
        event_starts_at=event.starts_at,
        event_ends_at=event.ends_at,
        event_timezone=event.timezone,
        event_url=f"{public_url.rstrip('/')}/e/{event.id}",
        organizer_name=organizer.name or organizer.email,
        organizer_email=organizer.email,
        event_venue_name=event.venue_name,
        event_venue_address=event.venue_address,
    )


def _message(ctx: TransferEmailContext, *, to: str, sender: str, subject: str, dedupe_key: str) -> EmailMessage:
    from boxoffice.notifications.render import _one_line, message_id

    message = EmailMessage()
    message["Subject"] = _one_line(subject)
    message["From"] = sender
    message["To"] = Address(addr_spec=to.strip())  # the address only, as every email (render._message)
    message["Reply-To"] = Address(display_name=_one_line(ctx.organizer_name), addr_spec=ctx.organizer_email.strip())
    message["Date"] = format_datetime(utcnow(), usegmt=True)
    message["Message-ID"] = message_id(dedupe_key)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    return message


def render_ticket_received(ctx: TransferEmailContext, *, sender: str, dedupe_key: str) -> EmailMessage:
    """To the new holder: the ticket's new code with its QR code, and the event as a calendar file."""
    from boxoffice.notifications.ics import build_ics
    from boxoffice.notifications.render import (
        MESSAGE_ID_DOMAIN,
        _one_line,
        _render,
        add_bodies,
        attach_ics,
        qr_png,
        venue_lines,
        when,
    )

    png, size = qr_png(ctx.code)
    cid = f"qr.{ctx.ticket_id}@{MESSAGE_ID_DOMAIN}"
    values = {
        "t": ctx,
        "o": ctx,
        "greeting_name": _one_line(ctx.to_name) or ctx.to_email,
        "when": when(ctx.event_starts_at, ctx.event_ends_at, ctx.event_timezone),
        "where": venue_lines(ctx.event_venue_name, ctx.event_venue_address),
        "cid": cid,
        "size": size,
    }
    text, html = _render("ticket_received", **values)
    message = _message(
        ctx, to=ctx.to_email, sender=sender, subject=f"Your ticket for {ctx.event_title}", dedupe_key=dedupe_key
    )
    add_bodies(message, text, html, [(cid, png, f"ticket-{ctx.ticket_id}.png")])
    ics = build_ics(
        uid=f"{ctx.event_id}@{MESSAGE_ID_DOMAIN}",
        title=ctx.event_title,
        description=ctx.event_description,
        starts_at=ctx.event_starts_at,
        ends_at=ctx.event_ends_at,
        timezone=ctx.event_timezone,
        url=ctx.event_url,
        organizer_name=ctx.organizer_name,
        organizer_email=ctx.organizer_email,
        location=", ".join(venue_lines(ctx.event_venue_name, ctx.event_venue_address)),
    )
    attach_ics(message, ics)
    return message


def render_ticket_handed_on(ctx: TransferEmailContext, *, sender: str, dedupe_key: str) -> EmailMessage:
    """To the previous holder: the ticket is someone else's now, and the code they had no longer admits."""
    from boxoffice.notifications.render import _one_line, _render, when

    values = {
        "t": ctx,
        "o": ctx,
        "greeting_name": _one_line(ctx.from_name) or ctx.from_email,
        "when": when(ctx.event_starts_at, ctx.event_ends_at, ctx.event_timezone),
    }
    text, html = _render("ticket_handed_on", **values)
    message = _message(
        ctx,
        to=ctx.from_email,
        sender=sender,
        subject=f"Your ticket for {ctx.event_title} was handed on",
        dedupe_key=dedupe_key,
    )
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


async def render_transfer_email(
    db: Database, row: EmailRow, *, secret: bytes, sender: str, public_url: str
) -> EmailMessage:
    ctx = await transfer_context(db, transfer_of(row.dedupe_key), secret=secret, public_url=public_url)
    if row.kind == "ticket_received":
        return render_ticket_received(ctx, sender=sender, dedupe_key=row.dedupe_key)
    return render_ticket_handed_on(ctx, sender=sender, dedupe_key=row.dedupe_key)
