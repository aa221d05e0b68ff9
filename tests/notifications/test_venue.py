"""Where the event takes place, in the confirmation email (text and HTML) and as ``LOCATION`` in its calendar file:
escaped and folded as RFC 5545 says, absent when the organizer said nothing, and taken from the event as it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from boxoffice.db import Database
from boxoffice.events import service as events
from boxoffice.notifications.delivery import Mailer
from boxoffice.notifications.ics import build_ics
from boxoffice.notifications.render import render_confirmation
from boxoffice.notifications.transport import FileTransport
from boxoffice.ticketing.orders import confirm_order
from boxoffice.ticketing.reserve import reserve
from tests.helpers import make_event, make_ticket, order_request
from tests.notifications.conftest import SENDER, make_context, reparse
from tests.notifications.test_render import bodies, parts

WHERE = {"event_venue_name": "Club <Le Caveau>; cellar", "event_venue_address": "12, rue de la Huchette\n75005 Paris"}


def calendar_lines(message: EmailMessage) -> tuple[bytes, list[str]]:
    (ics,) = parts(message, "text/calendar")
    raw = ics.get_payload(decode=True)
    assert isinstance(raw, bytes)
    return raw, raw.decode("utf-8").replace("\r\n ", "").split("\r\n")


def test_the_confirmation_says_where_in_text_html_and_calendar() -> None:
    message = reparse(render_confirmation(make_context(**WHERE), sender=SENDER, dedupe_key="k"))
    text, html = bodies(message)
    assert "Where: Club <Le Caveau>; cellar, 12, rue de la Huchette, 75005 Paris" in text
    assert "<strong>Where:</strong> Club &lt;Le Caveau&gt;; cellar<br>12, rue de la Huchette<br>75005 Paris" in html
    _, lines = calendar_lines(message)
    assert "LOCATION:Club <Le Caveau>\\; cellar\\, 12\\, rue de la Huchette\\, 75005 Paris" in lines
    assert lines.index("DESCRIPTION:Music\\nand more") < lines.index(next(x for x in lines if x.startswith("LOCATION")))


def test_nothing_about_where_when_the_organizer_said_nothing() -> None:
    message = reparse(render_confirmation(make_context(), sender=SENDER, dedupe_key="k"))
    text, html = bodies(message)
    assert "Where:" not in text and "Where:" not in html
    _, lines = calendar_lines(message)
    assert not any(line.startswith("LOCATION") for line in lines)


def test_a_long_location_folds_at_75_octets_without_splitting_characters() -> None:
    venue = {
        "event_venue_name": "Großer Saal der Philharmonie 🎻 " * 4,
        "event_venue_address": "Straße 1\n\n10785 Berlin",
    }
    message = reparse(render_confirmation(make_context(**venue), sender=SENDER, dedupe_key="k"))
    raw, lines = calendar_lines(message)
    physical = raw.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in physical)
    for line in physical:
        line.decode("utf-8")
    location = next(line for line in lines if line.startswith("LOCATION:"))
    assert location == "LOCATION:" + ("Großer Saal der Philharmonie 🎻 " * 4).strip() + "\\, Straße 1\\, 10785 Berlin"


def test_build_ics_escapes_a_location_and_keeps_it_on_one_line() -> None:
    start = datetime(2027, 7, 1, 19, tzinfo=UTC)
    ics = build_ics(
        "ev@boxoffice",
        "Gala",
        "",
        start,
        start + timedelta(hours=2),
        "UTC",
        "https://example.com/o",
        "Org",
        "org@example.com",
        location="Hall A; B, \\ back\nyard",
        stamp=start,
    )
    assert "LOCATION:Hall A\\; B\\, \\\\ back\\nyard\r\n" in ics
    assert "LOCATION" not in build_ics(
        "ev@boxoffice", "Gala", "", start, start, "UTC", "https://example.com/o", "Org", "org@example.com", location=" "
    )


async def test_the_email_takes_the_venue_from_the_event(sqlite_db: Database, tmp_path: Path) -> None:
    event = await make_event(sqlite_db, venue_name="Rooftop Hall", venue_address="Alexanderplatz 1\n10178 Berlin")
    tt = await make_ticket(sqlite_db, event.id, quantity=5)
    order = await reserve(sqlite_db, order_request(event.id, (tt.id, 1)))
    await confirm_order(sqlite_db, order.id)
    mailer = Mailer(
        sqlite_db,
        FileTransport(tmp_path),
        secret=b"venue-test-secret",
        sender=SENDER,
        public_url="http://127.0.0.1:8000",
    )
    ctx = await mailer.context(order.id)
    assert (ctx.event_venue_name, ctx.event_venue_address) == ("Rooftop Hall", "Alexanderplatz 1\n10178 Berlin")
    # an organizer's later change is what the next email says
    await events.update_event(sqlite_db, event.id, events.EventInput(venue_name="Rooftop Hall, 5th floor"))
    text, _ = bodies(render_confirmation(await mailer.context(order.id), sender=SENDER, dedupe_key="k"))
    assert "Where: Rooftop Hall, 5th floor, Alexanderplatz 1, 10178 Berlin" in text
