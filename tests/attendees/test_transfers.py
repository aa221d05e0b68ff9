"""Transfers: the old code stops admitting at the door and the new one admits; concurrent hand-ons of one ticket are
serialized (each a new version, each from the holder before it), and the two emails of a transfer: the new holder
gets the code of the version the transfer gave, the previous holder no code at all."""

from __future__ import annotations

import asyncio
import email
from email.message import EmailMessage

from boxoffice.attendees.rules import AttendeeInput
from boxoffice.checkin.rules import Result
from boxoffice.db import Database
from boxoffice.events.attendee_settings import update_attendee_settings
from boxoffice.notifications.codes import ticket_code
from boxoffice.notifications.models import EmailMessage as EmailRow
from boxoffice.notifications.transfers import render_transfer_email, transfer_dedupe_key
from boxoffice.ticketing import self_service
from boxoffice.ticketing.orders import list_tickets
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from boxoffice.ticketing.reserve import reserve
from tests.checkin.conftest import SECRET as DOOR_SECRET
from tests.checkin.conftest import sold_event
from tests.helpers import make_event, make_ticket, unique_email

SECRET = b"a secret for the transfer emails"


async def free_ticket(db: Database) -> tuple[str, str]:
    event = await make_event(db, venue_name="Hall 7", venue_address="Main Street 1\n10115 Berlin")
    tt = await make_ticket(db, event.id, base_price_cents=0, quantity=5)
    await update_attendee_settings(db, event.id, {"attendee_details": "optional"})
    order = await reserve(
        db,
        OrderRequest(
            event_id=event.id,
            email=unique_email(),
            name="Bea",
            lines=[LineRequest(tt.id, 1, None, [AttendeeInput("Ada", "ada@example.com")])],
        ),
    )
    [ticket] = await list_tickets(db, order.id)
    return order.id, ticket.id


async def test_concurrent_transfers_of_one_ticket_take_turns(pg_db: Database) -> None:
    order_id, ticket_id = await free_ticket(pg_db)
    done = await asyncio.gather(
        *(
            self_service.transfer_ticket(pg_db, order_id, ticket_id, name=f"P{i}", email=f"p{i}@example.com")
            for i in range(4)
        )
    )
    chain = sorted((d.transfer.code_version, d.transfer.from_email, d.transfer.to_email) for d in done)
    assert [version for version, _, _ in chain] == [1, 2, 3, 4]
    assert chain[0][1] == "ada@example.com"
    assert all(chain[i][2] == chain[i + 1][1] for i in range(3))  # each from the holder the one before made
    [ticket] = await list_tickets(pg_db, order_id)
    assert ticket.code_version == 4


async def test_a_transferred_ticket_s_old_code_is_refused_at_the_door_and_its_new_code_admits(db: Database) -> None:
    sold = await sold_event(db, 2)
    old = sold.code(0)
    done = await self_service.transfer_ticket(
        db, sold.order.id, sold.tickets[0].id, name="Zoe", email="zoe@example.com"
    )
    assert done.ticket.code_version == done.transfer.code_version == 1
    refused = await sold.scan(old)
    assert refused.result is Result.REPLACED and refused.checkin is None
    new = ticket_code(sold.tickets[0].id, done.transfer.code_version, DOOR_SECRET)
    assert new != old
    admitted = await sold.scan(new)
    assert admitted.result is Result.OK and admitted.ticket is not None and admitted.ticket.id == sold.tickets[0].id
    assert (await sold.scan(old)).result is Result.REPLACED  # still refused after the new holder came in
    assert (await sold.scan(sold.code(1))).result is Result.OK  # the order's other ticket is untouched


def text_of(message: EmailMessage) -> str:
    parsed = email.message_from_bytes(message.as_bytes())
    return "".join(
        part.get_payload(decode=True).decode()  # type: ignore[union-attr]
        for part in parsed.walk()
        if part.get_content_type() == "text/plain"
    )


async def test_the_emails_of_a_transfer(sqlite_db: Database) -> None:
    order_id, ticket_id = await free_ticket(sqlite_db)
    done = await self_service.transfer_ticket(sqlite_db, order_id, ticket_id, name="Zoe", email="zoe@example.com")
    await self_service.transfer_ticket(sqlite_db, order_id, ticket_id, name="Yan", email="yan@example.com")
    transfer = done.transfer

    def row(kind: str, side: str, to: str) -> EmailRow:
        return EmailRow(
            id="em_x",
            dedupe_key=transfer_dedupe_key(transfer.id, side),
            kind=kind,
            order_id=order_id,
            event_id=transfer.event_id,
            to_email=to,
        )

    received = await render_transfer_email(
        sqlite_db,
        row("ticket_received", "to", "zoe@example.com"),
        secret=SECRET,
        sender="s@example.com",
        public_url="http://x",
    )
    text = text_of(received)
    assert received["To"] == "zoe@example.com" and "Hello Zoe" in text and "Ada handed you a ticket" in text
    assert ticket_code(ticket_id, 1, SECRET) in text  # the code this transfer gave, not the newer one
    assert ticket_code(ticket_id, 2, SECRET) not in received.as_string()
    assert "Where: Hall 7, Main Street 1, 10115 Berlin" in text  # where to go, as in the buyer's email
    [ics] = [part for part in received.walk() if part.get_content_type() == "text/calendar"]
    assert "LOCATION:Hall 7\\, Main Street 1\\, 10115 Berlin" in ics.get_content().replace("\r\n ", "")
    handed = await render_transfer_email(
        sqlite_db,
        row("ticket_handed_on", "from", "ada@example.com"),
        secret=SECRET,
        sender="s@example.com",
        public_url="http://x",
    )
    text = text_of(handed)
    assert handed["To"] == "ada@example.com" and "now held by Zoe" in text
    assert ticket_id not in handed.as_string()  # no code in it
