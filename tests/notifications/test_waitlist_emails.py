"""Waiting-list emails through the outbox to a real SMTP server: the confirmation of joining (place in line, the
link to leave) and the offer (its code, the link that fills it in, until when), each once."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

from boxoffice.db import Database
from boxoffice.notifications.delivery import list_emails
from boxoffice.ticketing import waitlist, waitlist_offers
from boxoffice.ticketing.orders import expire_order
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.tokens import entry_token_opens
from tests.helpers import make_event, make_ticket, order_request, unique_email
from tests.notifications.conftest import SMTPServer, reparse
from tests.notifications.test_delivery import SECRET, drain, mailer


async def test_joining_and_the_offer_are_emailed_once_with_their_links(db: Database, smtp_server: SMTPServer) -> None:
    port = smtp_server.port
    event = await make_event(db, title="Sold Out Show")
    tt = await make_ticket(db, event.id, title="Balcony", quantity=2)
    held = await reserve(db, order_request(event.id, (tt.id, 2)))
    email = unique_email("wait")
    entry = await waitlist.join(db, event.id, email=email, name="Wai", ticket_type_id=tt.id, quantity=2)
    await drain(db)
    send = mailer(db, port)

    async def deliver_all() -> None:  # other tests' emails may be due too (a round sends 20)
        while await send.deliver_due(limit=100):
            pass

    await deliver_all()

    def mine() -> list[EmailMessage]:  # other tests' emails may share the server
        received = [reparse(envelope.content) for envelope in smtp_server.inbox.received]  # type: ignore[arg-type]
        return [m for m in received if m["To"] == email]

    (joined,) = mine()
    assert joined["Subject"] == "You are on the waiting list for Sold Out Show"
    text = joined.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "2 Balcony tickets" in text and "number 1 in line" in text
    leave = next(word for word in text.split() if "/waiting-list/" in word)
    token = parse_qs(urlsplit(leave).query)["token"][0]
    assert urlsplit(leave).path == f"/waiting-list/{entry.entry.id}/leave"
    assert entry_token_opens(entry.entry.id, token, [SECRET])

    await expire_order(db, held.id, force=True)
    await waitlist_offers.hand_out(db, tt.id)
    await drain(db)
    await drain(db)  # a second pass queues nothing new
    await deliver_all()
    await deliver_all()
    assert len(mine()) == 2
    offer = mine()[1]
    assert offer["Subject"] == "Tickets for Sold Out Show are held for you"
    code = (await waitlist.get_entry(db, entry.entry.id)).code
    assert code is not None
    body = offer.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert f"Your code: {code}" in body and f"/e/{event.id}?voucher={code}" in body
    html = offer.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert f"/e/{event.id}?voucher={code}" in html
    emails = await list_emails(db, event.id)
    assert [(e.kind, e.order_id, e.waiting_list_entry_id, e.status) for e in emails] == [
        ("waitlist_joined", None, entry.entry.id, "sent"),
        ("waitlist_offer", None, entry.entry.id, "sent"),
    ]
