"""Buyer pages over HTTP: the event page, the checkout form and its errors in words, the order page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from boxoffice.notifications.codes import verify_ticket_code
from boxoffice.ticketing.checkout import await_async_payment
from boxoffice.ticketing.orders import find_order_by_payment
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from boxoffice.ticketing.reserve import reserve
from boxoffice.web.pages.forms import parse_amount
from tests.helpers import counters, database_state, eventually, make_event, make_ticket, order_status
from tests.server import LiveServer

BANNER = "Test mode: payments go to the local Stripe sandbox; no real money moves"


class Page(HTMLParser):
    """What the accessibility checks need: inputs, labels, landmarks, live regions, links and ids."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.labelled: set[str] = set()
        self.ids: set[str] = set()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.inputs[str(a.get("id"))] = a
        if tag == "label" and a.get("for"):
            self.labelled.add(str(a["for"]))

    def count(self, tag: str, **attrs: str) -> int:
        return sum(1 for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items()))

    def live_regions(self) -> list[dict[str, str | None]]:
        return [a for _, a in self.tags if a.get("aria-live") == "polite"]


def assert_accessible(html: str) -> Page:
    page = Page(html)
    assert page.count("main") == 1
    assert set(page.inputs) <= page.labelled, set(page.inputs) - page.labelled
    for _, attrs in page.tags:  # every aria-describedby points at something on the page
        for ref in (attrs.get("aria-describedby") or "").split():
            assert ref in page.ids, ref
    assert "Traceback" not in html
    return page


async def flexible(site: LiveServer, event_id: str, **kw: Any) -> Any:
    fields: dict[str, Any] = {
        "title": "Supporter",
        "pricing_model": "flexible",
        "minimum_price_cents": 500,
        "suggested_price_cents": 2000,
        "tippable": True,
        "quantity": 10,
    }
    fields.update(kw)
    return await make_ticket(site.box.db, event_id, **fields)


async def test_event_page_shows_tickets_availability_prices_and_labels(site: LiveServer) -> None:
    starts = datetime(2031, 3, 14, 18, 0, tzinfo=UTC)  # 19:00 in Berlin (CET)
    event = await make_event(
        site.box.db,
        title="Jazz <Night>",
        description="First paragraph.\n\nSecond & last.",
        starts_at=starts,
        ends_at=starts + timedelta(hours=4),
        timezone="Europe/Berlin",
    )
    fixed = await make_ticket(site.box.db, event.id, title="General admission", quantity=7)
    flex = await flexible(site, event.id)
    r = await site.client.get(f"/e/{event.id}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    page = assert_accessible(html)
    assert "Jazz &lt;Night&gt;" in html and "Second &amp; last." in html
    assert "Friday 14 March 2031, 19:00 to 23:00 CET (Europe/Berlin)" in html
    assert BANNER in html
    assert "7 left" in html and "10 left" in html and "$15.00" in html
    assert page.inputs[f"price-{flex.id}"]["value"] == "20.00"  # suggested price prefilled
    assert "at least $5.00" in html  # the minimum shown
    # one tip for the order, near the total, labelled as a tip to the organizer (a ticket here accepts tips)
    assert "tip" in page.inputs and f"tip-{flex.id}" not in page.inputs
    assert "Tip for the organizer (USD, optional)" in html and "it goes with Supporter" in html
    assert html.index('id="tip"') > html.index('id="email"')  # after the tickets and details, by the total
    assert f"price-{fixed.id}" not in page.inputs
    assert {"name", "email", f"qty-{fixed.id}", f"qty-{flex.id}"} <= set(page.inputs)
    live = [a.get("data-left") for a in page.live_regions()]
    assert fixed.id in live and flex.id in live
    assert f'action="/e/{event.id}/checkout"' in html and 'method="post"' in html
    assert f'data-stream="/api/v1/events/{event.id}/stream"' in html
    assert box_secrets(site).isdisjoint(re.findall(r"[A-Za-z0-9_]{20,}", html))


async def test_zero_decimal_currency_has_no_decimals(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    yen = await make_ticket(site.box.db, event.id, title="Seat", currency="jpy", base_price_cents=1500)
    pwyw = await flexible(
        site, event.id, currency="jpy", minimum_price_cents=500, suggested_price_cents=2000, title="Backer"
    )
    html = (await site.client.get(f"/e/{event.id}")).text
    page = Page(html)
    assert "¥1,500" in html and "at least ¥500" in html
    assert page.inputs[f"price-{pwyw.id}"]["value"] == "2000"
    assert 'data-exponent="0"' in html
    r = await site.client.post(
        f"/e/{event.id}/checkout",
        data={f"qty_{yen.id}": "1", f"qty_{pwyw.id}": "1", f"price_{pwyw.id}": "499", "email": "y@example.com"},
    )
    assert r.status_code == 422 and "Please enter at least ¥500 for Backer" in r.text


async def test_missing_and_draft_events_are_not_found(site: LiveServer) -> None:
    r = await site.client.get("/e/ev_nope")
    assert r.status_code == 404 and "Event not found" in r.text and BANNER in r.text
    draft = await make_event(site.box.db, status="draft")
    assert (await site.client.get(f"/e/{draft.id}")).status_code == 404


async def test_checkout_holds_redirects_to_the_sandbox_and_the_order_confirms(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    flex = await flexible(site, event.id)
    r = await site.client.post(
        f"/e/{event.id}/checkout",
        data={
            f"qty_{flex.id}": "2",
            f"price_{flex.id}": "12.50",
            "tip": "3",
            "name": "Ada Lovelace",
            "email": "ada@example.com",
        },
    )
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith(site.url + "/_sandbox/stripe/pay/cs_test_")
    assert await counters(site.box.db, flex.id) == (10, 0, 2)  # held
    session_id = location.rsplit("/", 1)[1]
    order = await find_order_by_payment(site.box.db, session_id=session_id)
    assert order is not None and order.status == "pending"
    assert (order.subtotal_cents, order.tip_cents, order.total_cents) == (2500, 300, 2800)

    assert site.box.sandbox is not None
    site.box.sandbox.faults.webhook_paused = True  # the buyer is back before the webhook
    try:
        pay = await site.client.post(location, data={"outcome": "pay"})
        assert pay.status_code == 303
        back = pay.headers["location"]
        assert f"/orders/{order.id}?token=" in back and f"session_id={session_id}" in back
        kept = await site.client.get(back)  # the token goes into a cookie and out of the address bar
        assert kept.status_code == 303 and kept.headers["location"] == f"/orders/{order.id}?session_id={session_id}"
        cookie = kept.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        pending = await site.client.get(back, follow_redirects=True)
        assert "token=" not in str(pending.url)
        assert pending.status_code == 200 and "we are confirming your payment" in pending.text
        assert "Payment received" not in pending.text  # nothing claims money arrived before it did
        assert "Awaiting payment" in pending.text and "Release my tickets" not in pending.text
        forged = await site.client.get(back.replace(session_id, "cs_test_someone_else"), follow_redirects=True)
        assert "confirming your payment" not in forged.text and "Release my tickets" in forged.text
    finally:
        site.box.sandbox.faults.webhook_paused = False

    async def confirmed() -> bool:
        return await order_status(site.box.db, order.id) == "confirmed"

    await eventually(confirmed)
    page = await site.client.get(back, follow_redirects=True)
    html = page.text
    assert "Confirmed" in html and "confirming your payment" not in html
    assert html.count('class="issued"') == 2 and html.count("<svg") == 2
    codes = re.findall(r"<code>([^<]+)</code>", html)
    assert len(codes) == 2
    for code in codes:
        assert verify_ticket_code(code, site.box.settings.secret_bytes).startswith("tkt_")
    assert "$25.00" in html and "$3.00" in html and "$28.00" in html
    assert page.headers["cache-control"] == "no-store"
    live = Page(html).live_regions()
    assert any(a.get("id") == "order-live" for a in live)
    assert box_secrets(site).isdisjoint(re.findall(r"[A-Za-z0-9_]{20,}", html))


async def test_too_low_price_is_explained_with_the_input_kept(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    flex = await flexible(site, event.id, suggested_price_cents=None, tippable=False)
    before = await database_state(site.box.db)
    r = await site.client.post(
        f"/e/{event.id}/checkout",
        data={f"qty_{flex.id}": "1", f"price_{flex.id}": "2.00", "name": "Bo", "email": "a@example.com"},
    )
    assert r.status_code == 422
    html = r.text
    assert "Please enter at least $5.00 for Supporter" in html
    assert f'<a href="#price-{flex.id}">Please enter at least $5.00 for Supporter</a>' in html  # summary -> field
    page = assert_accessible(html)
    assert page.inputs[f"price-{flex.id}"]["value"] == "2.00"
    assert page.inputs[f"price-{flex.id}"]["aria-invalid"] == "true"
    assert page.inputs[f"qty-{flex.id}"]["value"] == "1"
    assert page.inputs["email"]["value"] == "a@example.com" and page.inputs["name"]["value"] == "Bo"
    assert "<title>Error: " in html and 'id="error-summary"' in html
    assert await database_state(site.box.db) == before


async def test_other_invalid_input_in_words(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    flex = await flexible(site, event.id)
    fixed = await make_ticket(site.box.db, event.id, title="Standing", max_per_order=4)
    gift = await flexible(site, event.id, title="Donation", minimum_price_cents=0, tippable=False)
    before = await database_state(site.box.db)
    cases = [
        ({f"qty_{flex.id}": "1", f"price_{flex.id}": "abc"}, "Please enter your price for Supporter as an amount"),
        ({f"qty_{flex.id}": "1", f"price_{flex.id}": "5.001"}, "Please enter your price for Supporter as an amount"),
        ({f"qty_{flex.id}": "1", "tip": "-2"}, "Please enter an amount of zero or more for your tip"),
        ({f"qty_{fixed.id}": "1", "tip": "2"}, "A tip goes with a ticket that accepts tips: choose Supporter"),
        ({f"qty_{flex.id}": "two"}, "Please enter a whole number of tickets for Supporter"),
        ({f"qty_{fixed.id}": "5"}, "You can buy at most 4 Standing tickets per order"),
        ({f"qty_{flex.id}": "0"}, "Please choose at least one ticket"),
        ({f"qty_{fixed.id}": "1", "email": "nope"}, "Please enter a valid email address"),
        ({f"qty_{fixed.id}": "1", "email": ""}, "Please enter your email address"),
        ({f"qty_{gift.id}": "1", f"price_{gift.id}": "0.20"}, "A paid order must total at least $0.50"),
    ]
    for data, text in cases:
        data = {"email": "a@example.com", **data}
        r = await site.client.post(f"/e/{event.id}/checkout", data=data)
        assert r.status_code == 422, (data, r.status_code)
        assert text in r.text, (data, re.findall(r'<div class="error-summary".*?</div>', r.text, re.S))
        assert_accessible(r.text)
    assert await database_state(site.box.db) == before


async def test_sold_out_and_sales_closed_in_words(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    tt = await make_ticket(site.box.db, event.id, title="Balcony", quantity=2)
    r = await site.client.post(f"/e/{event.id}/checkout", data={f"qty_{tt.id}": "3", "email": "a@example.com"})
    assert r.status_code == 409 and "Only 2 tickets left for Balcony" in r.text
    assert Page(r.text).inputs[f"qty-{tt.id}"]["value"] == "3"
    await site.box.payments.place_order(
        OrderRequest(event_id=event.id, email="b@example.com", lines=[LineRequest(tt.id, 2)])
    )
    r = await site.client.post(f"/e/{event.id}/checkout", data={f"qty_{tt.id}": "1", "email": "a@example.com"})
    assert r.status_code == 409 and "Balcony is sold out" in r.text
    page = await site.client.get(f"/e/{event.id}")
    assert "Sold out" in page.text and "disabled" in Page(page.text).inputs[f"qty-{tt.id}"]

    past = datetime.now(UTC) - timedelta(days=1)
    closed = await make_ticket(
        site.box.db, event.id, title="Early bird", starts_at=past - timedelta(days=5), ends_at=past
    )
    assert f"qty-{closed.id}" not in Page(page.text).inputs
    r = await site.client.post(f"/e/{event.id}/checkout", data={f"qty_{closed.id}": "1", "email": "a@example.com"})
    assert r.status_code == 409 and "Sales for Early bird have ended" in r.text

    soon = await make_ticket(
        site.box.db, event.id, title="Late release", starts_at=datetime.now(UTC) + timedelta(days=2)
    )
    page = await site.client.get(f"/e/{event.id}")
    assert "On sale from" in page.text and "disabled" in Page(page.text).inputs[f"qty-{soon.id}"]
    r = await site.client.post(f"/e/{event.id}/checkout", data={f"qty_{soon.id}": "1", "email": "a@example.com"})
    assert r.status_code == 409 and "Sales for Late release have not started yet" in r.text


async def test_free_order_goes_straight_to_the_confirmed_order(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    tt = await make_ticket(site.box.db, event.id, title="Open rehearsal", base_price_cents=0, quantity=5)
    assert "Free" in (await site.client.get(f"/e/{event.id}")).text
    r = await site.client.post(f"/e/{event.id}/checkout", data={f"qty_{tt.id}": "1", "email": "free@example.com"})
    assert r.status_code == 303 and r.headers["location"].startswith("/orders/")
    page = await site.client.get(r.headers["location"])
    assert page.status_code == 200 and "Confirmed" in page.text and page.text.count('class="issued"') == 1
    assert await counters(site.box.db, tt.id) == (5, 1, 0)


async def test_order_page_token_canceled_checkout_resume_and_release(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    tt = await make_ticket(site.box.db, event.id, quantity=5)
    placed = await site.box.payments.place_order(
        OrderRequest(event_id=event.id, email="c@example.com", lines=[LineRequest(tt.id, 1)])
    )
    order = placed.order
    token = site.box.payments.order_token(order)
    site.client.cookies.clear()
    for url in (f"/orders/{order.id}?token=wrong", f"/orders/{order.id}", "/orders/ord_nope?token=x"):
        r = await site.client.get(url)
        assert r.status_code == 404 and "Order not found" in r.text and token not in r.text
        assert "set-cookie" not in r.headers
    assert (await site.client.post(f"/orders/{order.id}/cancel?token=wrong")).status_code == 404
    assert (await site.client.post(f"/orders/{order.id}/checkout", data={"token": "wrong"})).status_code == 404
    assert await order_status(site.box.db, order.id) == "pending"
    # the form's token field still works without the cookie (a page saved before it was set)
    by_form = await site.client.post(f"/orders/{order.id}/checkout", data={"token": token})
    assert by_form.status_code == 303 and by_form.headers["location"] == placed.checkout_url

    page = await site.client.get(f"/orders/{order.id}?token={token}&checkout=canceled", follow_redirects=True)
    assert str(page.url).endswith(f"/orders/{order.id}?checkout=canceled")
    assert page.status_code == 200 and "Checkout canceled" in page.text and token not in page.text
    assert "Resume checkout" in page.text and "Release my tickets" in page.text
    assert_accessible(page.text)
    # from here on the cookie carries the token: no URL has it
    resume = await site.client.post(f"/orders/{order.id}/checkout")
    assert resume.status_code == 303 and resume.headers["location"] == placed.checkout_url
    cancel = await site.client.post(f"/orders/{order.id}/cancel")
    assert cancel.status_code == 303
    assert await order_status(site.box.db, order.id) == "canceled"
    assert await counters(site.box.db, tt.id) == (5, 0, 0)
    after = await site.client.get(cancel.headers["location"] + "?checkout=canceled")
    assert "Canceled" in after.text and "Resume checkout" not in after.text
    again = await site.client.post(f"/orders/{order.id}/checkout")  # nothing to resume any more
    assert again.status_code == 303 and again.headers["location"] == f"/orders/{order.id}"
    site.client.cookies.clear()
    assert (await site.client.get(f"/orders/{order.id}")).status_code == 404


def test_parse_amount() -> None:
    assert parse_amount("12.50", "usd") == 1250
    assert parse_amount(" $12,50 ", "usd") == 1250
    assert parse_amount("1,234.5", "usd") == 123450
    assert parse_amount("1,500", "jpy") == 1500
    assert parse_amount("20 EUR", "eur") == 2000
    assert parse_amount("", "usd") is None
    for bad in ("abc", "NaN", "Infinity", "1e400", "-1", "1.234"):
        try:
            parse_amount(bad, "usd")
        except ValueError:
            continue
        raise AssertionError(bad)


def box_secrets(site: LiveServer) -> set[str]:
    stripe = site.box.stripe
    return {
        stripe.secret_key.get_secret_value(),
        *(s.get_secret_value() for s in stripe.webhook_secrets),
        site.box.settings.secret_key.get_secret_value(),
    }


async def test_a_bank_payment_still_processing_says_so(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    tt = await make_ticket(site.box.db, event.id, quantity=5)
    placed = await site.box.payments.place_order(
        OrderRequest(event_id=event.id, email="bank@example.com", lines=[LineRequest(tt.id, 1)])
    )
    order = placed.order
    # Stripe's checkout.session.completed with payment_status "unpaid": a bank debit was submitted, no money yet
    assert await await_async_payment(
        site.box.db, order.id, payment_intent_id="pi_bank_1", until=datetime.now(UTC) + timedelta(days=7)
    )
    page = await site.client.get(
        f"/orders/{order.id}?token={site.box.payments.order_token(order)}&session_id={placed.order.stripe_checkout_session_id}",
        follow_redirects=True,
    )
    assert page.status_code == 200
    assert "Your payment is processing" in page.text and "bank@example.com" in page.text
    assert "Payment received" not in page.text and "confirming your payment" not in page.text
    assert "Release my tickets" not in page.text  # the money may still arrive: no cancel button under it


async def test_dynamic_prices_say_what_comes_next(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    tiers = [{"price_cents": 1500, "up_to": 12}, {"price_cents": 2000, "up_to": 30}, {"price_cents": 2500}]
    ladder = await make_ticket(
        site.box.db, event.id, title="Early bird", pricing_model="dynamic", price_tiers=tiers, quantity=40
    )
    soon = datetime(2031, 1, 1, tzinfo=UTC)
    dated = await make_ticket(
        site.box.db,
        event.id,
        title="Advance",
        pricing_model="dynamic",
        price_tiers=[{"price_cents": 1000, "until": soon.isoformat()}, {"price_cents": 1800}],
        quantity=40,
    )
    html = (await site.client.get(f"/e/{event.id}")).text
    assert "$15.00 for the next 12 tickets, then $20.00" in html
    assert "$10.00 until " in html and ", then $18.00" in html
    await reserve(site.box.db, OrderRequest(event.id, "d@example.com", [LineRequest(ladder.id, 10)]))
    html = (await site.client.get(f"/e/{event.id}")).text
    assert "$15.00 for the next 2 tickets, then $20.00" in html  # the step moves with sales
    await reserve(site.box.db, OrderRequest(event.id, "e@example.com", [LineRequest(ladder.id, 20)]))
    html = (await site.client.get(f"/e/{event.id}")).text
    assert "$25.00" in html and "then" not in html.split("Early bird", 1)[1].split("</fieldset>", 1)[0]
    assert dated.id  # the dated ladder keeps its own text
