"""Where the event takes place on the buyer pages (event and order), its image, and paused sales in words: the page
stays visible, its tickets cannot be chosen, and a checkout posted anyway is refused with 409, nothing held."""

from __future__ import annotations

from typing import Any

from boxoffice.events import service as events
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from tests.helpers import counters, make_event, make_ticket
from tests.server import LiveServer
from tests.web.pages.test_pages import Page, assert_accessible

VENUE: dict[str, Any] = {"venue_name": "Rooftop <Hall>", "venue_address": "Alexanderplatz 1\n10178 Berlin"}


async def test_the_event_page_says_where_and_shows_its_image(site: LiveServer) -> None:
    event = await make_event(site.box.db, image_url="https://images.example.com/roof.jpg", **VENUE)
    await make_ticket(site.box.db, event.id)
    r = await site.client.get(f"/e/{event.id}")
    assert r.status_code == 200
    page = assert_accessible(r.text)
    assert '<span class="venue-name">Rooftop &lt;Hall&gt;</span><br>Alexanderplatz 1<br>10178 Berlin' in r.text
    images = [a for tag, a in page.tags if tag == "img" and "event-image" in str(a.get("class"))]
    assert images == [
        {
            "class": "event-image",
            "src": "https://images.example.com/roof.jpg",
            "alt": "",
            "referrerpolicy": "no-referrer",
        }
    ]
    # the page's policy lets an https image load (and nothing else from another host)
    policy = r.headers["content-security-policy"]
    assert "img-src 'self' data: https:;" in policy and "script-src 'self';" in policy
    # without a venue or an image, neither is there
    bare = await make_event(site.box.db)
    await make_ticket(site.box.db, bare.id)
    r = await site.client.get(f"/e/{bare.id}")
    assert 'class="where"' not in r.text and "event-image" not in r.text


async def test_the_order_page_says_where(site: LiveServer) -> None:
    event = await make_event(site.box.db, **VENUE)
    tt = await make_ticket(site.box.db, event.id, base_price_cents=0)
    r = await site.client.post(f"/e/{event.id}/checkout", data={f"qty_{tt.id}": "1", "email": "v@example.com"})
    assert r.status_code == 303
    page = await site.client.get(r.headers["location"])
    assert page.status_code == 200 and "Confirmed" in page.text
    assert "Rooftop &lt;Hall&gt;</span><br>Alexanderplatz 1<br>10178 Berlin" in page.text


async def test_paused_sales_keep_the_page_and_close_checkout(site: LiveServer) -> None:
    event = await make_event(site.box.db, title="Paused Night")
    tt = await make_ticket(site.box.db, event.id, title="Balcony", quantity=4)
    await events.update_event(site.box.db, event.id, events.EventInput(status="sales_paused"))
    r = await site.client.get(f"/e/{event.id}")
    assert r.status_code == 200 and "Paused Night" in r.text and "Balcony" in r.text
    assert "Ticket sales for this event are paused right now" in r.text
    page = assert_accessible(r.text)
    assert "disabled" in page.inputs[f"qty-{tt.id}"]
    assert "email" not in page.inputs and page.count("button", type="submit") == 0  # nothing to check out
    # a checkout posted anyway (an old tab, a script): refused in words, the typed quantity kept, nothing held
    r = await site.client.post(f"/e/{event.id}/checkout", data={f"qty_{tt.id}": "2", "email": "p@example.com"})
    assert r.status_code == 409
    assert "Ticket sales for this event are paused right now, so nothing was reserved" in r.text
    assert 'id="error-summary"' in r.text and Page(r.text).inputs[f"qty-{tt.id}"]["value"] == "2"
    assert await counters(site.box.db, tt.id) == (4, 0, 0)
    # resumed: the same checkout goes through
    await events.update_event(site.box.db, event.id, events.EventInput(status="published"))
    r = await site.client.post(f"/e/{event.id}/checkout", data={f"qty_{tt.id}": "2", "email": "p@example.com"})
    assert r.status_code == 303
    assert await counters(site.box.db, tt.id) == (4, 0, 2)


async def test_an_order_held_before_a_pause_is_still_the_buyers(site: LiveServer) -> None:
    """Pausing stops new reservations; an order already holding tickets keeps them until it is paid or expires."""
    event = await make_event(site.box.db)
    tt = await make_ticket(site.box.db, event.id, quantity=3)
    placed = await site.box.payments.place_order(
        OrderRequest(event_id=event.id, email="early@example.com", lines=[LineRequest(tt.id, 1)])
    )
    await events.update_event(site.box.db, event.id, events.EventInput(status="sales_paused"))
    token = site.box.payments.order_token(placed.order)
    page = await site.client.get(f"/orders/{placed.order.id}", params={"token": token}, follow_redirects=True)
    assert page.status_code == 200 and "held until" in page.text
    assert await counters(site.box.db, tt.id) == (3, 0, 1)
