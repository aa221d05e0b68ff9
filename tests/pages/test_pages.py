"""Buyer pages over HTTP: the event page, the checkout form and its errors in words, the order page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from html.parser import HTMLParser

import pytest

from boxoffice.ticketing import service as ticketing
from tests.helpers import counters, database_state, eventually, make_event, make_ticket, order_status
from tests.server import LiveServer, live_server


@pytest.fixture(scope="module")
async def site(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    async with live_server(sqlite_url, mail_dir=str(tmp_path_factory.mktemp("mail"))) as srv:
        yield srv


class Labels(HTMLParser):
    """Collects input ids and the ``for`` of labels, to check that every input is labelled."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: set[str] = set()
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("type") != "hidden" and a.get("id"):
            self.inputs.add(str(a["id"]))
        if tag == "label" and a.get("for"):
            self.labelled.add(str(a["for"]))


async def test_event_page_lists_tickets_with_labels_and_prices(site: LiveServer) -> None:
    event = await make_event(site.box.db, title="Jazz <Night>")
    fixed = await make_ticket(site.box.db, event.id, title="GA", quantity=7)
    flex = await make_ticket(
        site.box.db,
        event.id,
        title="Supporter",
        pricing_model="flexible",
        base_price_cents=None,
        minimum_price_cents=500,
        suggested_price_cents=2000,
        tippable=True,
    )
    r = await site.client.get(f"/e/{event.id}")
    assert r.status_code == 200
    html = r.text
    assert "Jazz &lt;Night&gt;" in html and "Test mode" in html
    assert "7 left" in html and "$15.00" in html
    assert f'id="price-{flex.id}"' in html and 'value="20.00"' in html and "at least $5.00" in html
    assert 'id="tip"' in html
    parser = Labels()
    parser.feed(html)
    assert parser.inputs and parser.inputs <= parser.labelled
    assert f'data-left="{fixed.id}"' in html and 'aria-live="polite"' in html
    assert (await site.client.get("/e/ev_nope")).status_code == 404


async def test_checkout_form_holds_and_redirects_to_the_sandbox(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    tt = await make_ticket(site.box.db, event.id, quantity=5)
    r = await site.client.post(
        f"/e/{event.id}/checkout", data={f"qty_{tt.id}": "2", "name": "Ada", "email": "ada@example.com"}
    )
    assert r.status_code == 303 and "/_sandbox/stripe/pay/cs_test_" in r.headers["location"]
    assert await counters(site.box.db, tt.id) == (5, 0, 2)
    pay = await site.client.post(r.headers["location"], data={"outcome": "pay"})
    assert pay.status_code == 303
    order_url = pay.headers["location"]
    order_id = order_url.split("/orders/")[1].split("?")[0]

    async def confirmed() -> bool:
        return await order_status(site.box.db, order_id) == "confirmed"

    await eventually(confirmed)
    page = await site.client.get(order_url)
    assert "Confirmed" in page.text and page.text.count('class="issued"') == 2 and "<svg" in page.text


async def test_too_low_price_is_explained_and_nothing_changes(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    flex = await make_ticket(
        site.box.db,
        event.id,
        title="Supporter",
        pricing_model="flexible",
        base_price_cents=None,
        minimum_price_cents=500,
    )
    before = await database_state(site.box.db)
    r = await site.client.post(
        f"/e/{event.id}/checkout", data={f"qty_{flex.id}": "1", f"price_{flex.id}": "2.00", "email": "a@example.com"}
    )
    assert r.status_code == 422
    assert "Supporter: your price must be at least the minimum price of $5.00" in r.text
    assert 'value="2.00"' in r.text and 'value="a@example.com"' in r.text
    for data, text in [
        ({f"qty_{flex.id}": "1", f"price_{flex.id}": "abc", "email": "a@example.com"}, "Please enter an amount"),
        ({f"qty_{flex.id}": "0", "email": "a@example.com"}, "Please choose at least one ticket"),
        ({f"qty_{flex.id}": "1", "email": "nope"}, "Email: is not a valid email address"),
    ]:
        r = await site.client.post(f"/e/{event.id}/checkout", data=data)
        assert r.status_code == 422 and text in r.text
    assert await database_state(site.box.db) == before


async def test_sold_out_in_words(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    tt = await make_ticket(site.box.db, event.id, title="Balcony", quantity=2)
    r = await site.client.post(f"/e/{event.id}/checkout", data={f"qty_{tt.id}": "3", "email": "a@example.com"})
    assert r.status_code == 409 and "Only 2 tickets left for Balcony." in r.text


async def test_free_order_goes_straight_to_the_confirmed_order(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    tt = await make_ticket(site.box.db, event.id, base_price_cents=0, quantity=5)
    r = await site.client.post(f"/e/{event.id}/checkout", data={f"qty_{tt.id}": "1", "email": "free@example.com"})
    assert r.status_code == 303 and r.headers["location"].startswith("/orders/")
    page = await site.client.get(r.headers["location"])
    assert "Confirmed" in page.text


async def test_order_page_token_cancel_and_resume(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    tt = await make_ticket(site.box.db, event.id, quantity=5)
    placed = await site.box.payments.place_order(
        ticketing.OrderRequest(event_id=event.id, email="c@example.com", lines=[ticketing.LineRequest(tt.id, 1)])
    )
    order = placed.order
    assert (await site.client.get(f"/orders/{order.id}?token=wrong")).status_code == 404
    page = await site.client.get(f"/orders/{order.id}?token={order.access_token}&checkout=canceled")
    assert "Checkout was canceled" in page.text and "Continue to payment" in page.text
    resume = await site.client.post(f"/orders/{order.id}/checkout", data={"token": order.access_token})
    assert resume.status_code == 303 and resume.headers["location"] == placed.checkout_url
    cancel = await site.client.post(f"/orders/{order.id}/cancel", data={"token": order.access_token})
    assert cancel.status_code == 303
    assert await order_status(site.box.db, order.id) == "canceled"
    assert await counters(site.box.db, tt.id) == (5, 0, 0)
