"""The hosted checkout page: plain server-rendered HTML that works without JavaScript.

``GET {public_url}/pay/{session_id}`` shows the order and one button per outcome; the form POSTs back to the same
URL and is answered with a 303 redirect (to ``success_url``, to ``cancel_url``, or back to the page with a
decline message), so reloading never pays twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from boxoffice.money import format_money
from boxoffice.sandbox.validation import CheckoutRequest

THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
DECLINE_MESSAGES = {"card_declined": "Your card was declined. Try again, or choose another way to pay."}
ABANDON = "abandon"

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    hint: str
    primary: bool = False


CHOICES = (
    Choice("pay", "Pay", "The card payment succeeds at once.", primary=True),
    Choice("decline", "Pay with a declined card", "The card is declined; you stay on this page and may try again."),
    Choice(
        "delayed_success",
        "Pay by bank debit (succeeds later)",
        "The order is placed now; the payment succeeds after a short delay.",
    ),
    Choice(
        "delayed_failure",
        "Pay by bank debit (fails later)",
        "The order is placed now; the payment fails after a short delay.",
    ),
    Choice(ABANDON, "Cancel and go back", "Nothing is paid; the checkout stays open until it expires."),
)


def format_amount(amount: int, currency: str) -> str:
    """An amount in minor units for people: ``$33.00``, ``¥1,500`` (zero-decimal), ``5.120 KWD`` (three)."""
    code = currency.lower()
    if code in THREE_DECIMAL:
        whole, fraction = divmod(abs(amount), 1000)
        return f"{'-' if amount < 0 else ''}{whole:,}.{fraction:03d} {code.upper()}"
    return format_money(amount, code)  # zero-decimal currencies (JPY, KRW, ...) have no decimals


def render_checkout(
    session: dict[str, Any], order: CheckoutRequest, *, action: str, error_code: str | None = None
) -> str:
    currency = session["currency"]
    items = [
        {
            "name": item.name,
            "description": item.description,
            "quantity": item.quantity,
            "amount": format_amount(item.unit_amount * item.quantity, currency),
        }
        for item in order.line_items
    ]
    state_message, continue_url = None, None
    if session["status"] == "expired":
        state_message = "This checkout session has expired. Nothing was paid; start again from the merchant's site."
        continue_url = session["cancel_url"]
    elif session["status"] == "complete":
        state_message = "This checkout session is complete: the payment was submitted."
        continue_url = session["success_url"] and session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
    submit = session["custom_text"]["submit"]
    return _templates.get_template("checkout.html").render(
        lang=(session["locale"] or "en") if session["locale"] != "auto" else "en",
        title="Checkout",
        session=session,
        items=items,
        total=format_amount(session["amount_total"], currency),
        error=DECLINE_MESSAGES.get(error_code or "") if session["status"] == "open" else None,
        state_message=state_message,
        continue_url=continue_url,
        submit_message=submit["message"] if submit else None,
        action=action,
        default_name="",  # Stripe gets no name from us (only customer_email): the buyer types it, as on Stripe
        choices=CHOICES,
    )


def render_not_found() -> str:
    return _templates.get_template("checkout.html").render(
        lang="en",
        title="Checkout not found",
        session=None,
        state_message="This checkout link is not valid.",
        choices=(),
    )
