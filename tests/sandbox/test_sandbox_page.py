"""The hosted checkout page: plain HTML forms, no JavaScript, 303 redirects after every choice."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx
import pytest

from boxoffice.sandbox import RunningSandbox
from boxoffice.sandbox.page import format_amount
from tests.sandbox.support import checkout_params, sdk


@pytest.fixture
async def browser(sb: RunningSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False) as http:
        yield http


async def new_session(sb: RunningSandbox, **overrides: object) -> str:
    session = await sdk(sb.url).v1.checkout.sessions.create_async(checkout_params(**overrides))
    return session.id


class Form(HTMLParser):
    """The labels, inputs and buttons of a page, as a screen reader would announce them."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: dict[str, str] = {}
        self.inputs: list[str] = []
        self.buttons: list[tuple[str, str]] = []
        self._label: str | None = None
        self._button: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self._label, self._text = a.get("for") or "", ""
        elif tag == "input":
            self.inputs.append(a.get("id") or "")
        elif tag == "button":
            self._button, self._text = a.get("value") or "", ""

    def handle_data(self, data: str) -> None:
        self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._label is not None:
            self.labels[self._label] = self._text.strip()
            self._label = None
        elif tag == "button" and self._button is not None:
            self.buttons.append((self._button, self._text.strip()))
            self._button = None


async def test_the_page_shows_the_order_and_every_choice(sb: RunningSandbox, browser: httpx.AsyncClient) -> None:
    session_id = await new_session(sb)
    page = await browser.get(f"{sb.url}/pay/{session_id}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "TEST MODE" in html and "sandbox" in html.lower()
    assert re.search(r'<strong id="total">\$33\.00</strong>', html)
    assert "GA ticket" in html and "Main hall" in html and "$30.00" in html and "$3.00" in html
    assert "buyer@example.com" in html and "Tickets are sent to this email address." in html
    form = Form()
    form.feed(html)
    assert [value for value, _ in form.buttons] == ["pay", "decline", "delayed_success", "delayed_failure", "abandon"]
    assert dict(form.buttons)["pay"] == "Pay" and dict(form.buttons)["abandon"] == "Cancel and go back"
    assert all(form.labels.get(i) for i in form.inputs)  # every input has a label
    assert f'action="{sb.url}/pay/{session_id}"' in html and "<script" not in html
    # the session's email is prefilled; no made-up name is (Stripe gets none from us: the buyer types it)
    assert 'value="buyer@example.com" readonly' in html and "Sandbox Buyer" not in html
    assert re.search(r'<input id="name"[^>]*value=""', html)


@pytest.mark.parametrize(
    ("currency", "unit_amount", "expected"),
    [("jpy", 1500, "¥3,000"), ("krw", 15000, "₩30,000"), ("eur", 1250, "€25.00"), ("chf", 5, "0.10 CHF")],
)
async def test_totals_respect_the_currency_exponent(
    sb: RunningSandbox, browser: httpx.AsyncClient, currency: str, unit_amount: int, expected: str
) -> None:
    item = {
        "quantity": 2,
        "price_data": {"currency": currency, "unit_amount": unit_amount, "product_data": {"name": "x"}},
    }
    session_id = await new_session(sb, line_items=[item])
    page = await browser.get(f"{sb.url}/pay/{session_id}")
    assert f'<strong id="total">{expected}</strong>' in page.text


def test_three_decimal_currencies() -> None:
    assert format_amount(5120, "kwd") == "5.120 KWD"
    assert format_amount(150000, "jpy") == "¥150,000"


async def test_pay_redirects_to_the_success_url(sb: RunningSandbox, browser: httpx.AsyncClient) -> None:
    session_id = await new_session(sb)
    paid = await browser.post(f"{sb.url}/pay/{session_id}", data={"outcome": "pay", "name": "Ada Lovelace"})
    assert paid.status_code == 303
    assert paid.headers["location"] == f"https://tickets.example/orders/ord_1?session_id={session_id}"
    session = sb.sandbox.sessions[session_id]
    assert (session["status"], session["payment_status"]) == ("complete", "paid")
    assert session["customer_details"]["name"] == "Ada Lovelace"
    again = await browser.get(f"{sb.url}/pay/{session_id}")
    assert "is complete" in again.text and "<form" not in again.text
    twice = await browser.post(f"{sb.url}/pay/{session_id}", data={"outcome": "pay"})
    assert twice.status_code == 303 and twice.headers["location"] == f"{sb.url}/pay/{session_id}"
    assert len(sb.sandbox.charges) == 1  # a resubmitted form never pays twice


async def test_decline_returns_to_the_page_with_a_message(sb: RunningSandbox, browser: httpx.AsyncClient) -> None:
    session_id = await new_session(sb)
    declined = await browser.post(f"{sb.url}/pay/{session_id}", data={"outcome": "decline"})
    assert declined.status_code == 303
    assert declined.headers["location"] == f"{sb.url}/pay/{session_id}?error=card_declined"
    page = await browser.get(declined.headers["location"])
    assert 'role="alert"' in page.text and "Your card was declined" in page.text and "<form" in page.text
    assert sb.sandbox.sessions[session_id]["status"] == "open"
    forged = await browser.get(f"{sb.url}/pay/{session_id}?error=<script>alert(1)</script>")
    assert "<script>" not in forged.text and 'role="alert"' not in forged.text


async def test_delayed_methods_complete_unpaid(sb: RunningSandbox, browser: httpx.AsyncClient) -> None:
    session_id = await new_session(sb)
    done = await browser.post(f"{sb.url}/pay/{session_id}", data={"outcome": "delayed_failure"})
    assert done.status_code == 303 and done.headers["location"].endswith(session_id)
    session = sb.sandbox.sessions[session_id]
    assert (session["status"], session["payment_status"]) == ("complete", "unpaid")


async def test_abandon_goes_back_and_changes_nothing(sb: RunningSandbox, browser: httpx.AsyncClient) -> None:
    session_id = await new_session(sb)
    back = await browser.post(f"{sb.url}/pay/{session_id}", data={"outcome": "abandon"})
    assert (
        back.status_code == 303 and back.headers["location"] == "https://tickets.example/orders/ord_1?checkout=canceled"
    )
    assert sb.sandbox.sessions[session_id]["status"] == "open" and sb.sandbox.events == {}


async def test_expired_and_unknown_sessions(sb: RunningSandbox, browser: httpx.AsyncClient) -> None:
    session_id = await new_session(sb)
    await sb.sandbox.expire_session(session_id)
    page = await browser.get(f"{sb.url}/pay/{session_id}")
    assert "has expired" in page.text and "<form" not in page.text
    late = await browser.post(f"{sb.url}/pay/{session_id}", data={"outcome": "pay"})
    assert late.status_code == 303 and sb.sandbox.sessions[session_id]["payment_status"] == "unpaid"
    missing = await browser.get(f"{sb.url}/pay/cs_test_nope")
    assert missing.status_code == 404 and "not valid" in missing.text
