"""A zero-decimal currency (JPY) end to end, through the official SDK and the sandbox over HTTP: the Checkout
Session's amounts are the order's yen (never multiplied by 100), the webhook confirms it, a partial refund moves
exactly that many yen, and the emails and the order page show yen without decimals. A three-decimal currency (KWD)
is refused when the ticket type is made: Boxoffice does not sell in them."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from boxoffice.accounts.service import create_api_key
from boxoffice.errors import InvalidInput
from boxoffice.ticketing import orders as lifecycle
from boxoffice.ticketing import ticket_types
from tests.helpers import eventually, make_event, make_ticket, order_request, unique_email
from tests.server import LiveServer

pytestmark = pytest.mark.postgres


def emails_of(shop: LiveServer, order_id: str) -> list[tuple[str, str, str]]:
    """(subject, plain text, html) of every email written for the order."""
    found = []
    for path in sorted(Path(shop.box.settings.mail_dir).rglob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        plain = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        text = plain.get_content() if plain is not None else ""  # type: ignore[attr-defined]
        if order_id in text:
            found.append((str(message["Subject"]), text, html.get_content() if html is not None else ""))  # type: ignore[attr-defined]
    return found


async def test_yen_through_checkout_webhook_partial_refund_and_the_emails(shop: LiveServer) -> None:
    box, sandbox = shop.box, shop.box.sandbox
    assert sandbox is not None
    organizer = unique_email("org")
    event = await make_event(box.db, organizer=organizer, title="Tokyo Night")
    _, key = await create_api_key(box.db, organizer)
    tt = await make_ticket(
        box.db, event.id, title="Arena", base_price_cents=4500, currency="JPY", quantity=10, tippable=True
    )
    assert tt.currency == "jpy"
    placed = await box.payments.place_order(order_request(event.id, (tt.id, 2), tip_cents=500))
    order = placed.order
    assert (order.currency, order.subtotal_cents, order.tip_cents, order.total_cents) == ("jpy", 9000, 500, 9500)

    # what Stripe was asked for: yen as they are
    assert order.stripe_checkout_session_id
    session = sandbox.session(order.stripe_checkout_session_id)
    assert (session["currency"], session["amount_subtotal"], session["amount_total"]) == ("jpy", 9500, 9500)
    items = sandbox.line_items[order.stripe_checkout_session_id]
    assert sorted((i["quantity"], i["price"]["unit_amount"], i["amount_total"]) for i in items) == [
        (1, 500, 500),
        (2, 4500, 9000),
    ]
    assert {i["currency"] for i in items} == {"jpy"}

    await sandbox.complete_session(order.stripe_checkout_session_id, "pay")

    async def confirmed() -> str | None:
        current = await lifecycle.get_order(box.db, order.id)
        return current.stripe_payment_intent_id if current.status == "confirmed" else None

    intent_id = await eventually(confirmed)
    intent = sandbox.payment_intent(intent_id)
    assert (intent["amount"], intent["amount_received"], intent["currency"]) == (9500, 9500, "jpy")

    answer = await shop.client.post(
        f"/api/v1/orders/{order.id}/refunds", json={"amount_cents": 1200}, headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["amount_cents"] == 1200
    assert sandbox.charge(intent["latest_charge"])["amount_refunded"] == 1200

    async def partially_refunded() -> bool:
        return (await lifecycle.get_order(box.db, order.id)).status == "partially_refunded"

    await eventually(partially_refunded)
    refunded = await lifecycle.get_order(box.db, order.id)
    assert (refunded.refunded_cents, refunded.total_cents) == (1200, 9500)

    async def both_emails() -> list[tuple[str, str, str]] | None:
        found = emails_of(shop, order.id)
        return found if len(found) == 2 else None

    mails = await eventually(both_emails)
    confirmation = next(text for subject, text, _ in mails if "¥4,500" in text)
    for shown in ("2 x Arena (¥4,500 each): ¥9,000", "Subtotal: ¥9,000", "Tip: ¥500", "Total: ¥9,500"):
        assert shown in confirmation, confirmation
    refund = next(text for subject, text, _ in mails if text is not confirmation)
    assert "¥1,200" in refund, refund
    for text in (confirmation, refund):
        assert "¥95.00" not in text and "9500.00" not in text and "¥12.00" not in text
        assert not any(f"¥{n}." in text for n in ("9,500", "4,500", "1,200", "500"))
    for _, _, html in mails:
        assert ("¥9,500" in html) or ("¥1,200" in html)

    page = await shop.client.get(
        f"/orders/{order.id}", params={"token": box.payments.order_token(order)}, follow_redirects=True
    )
    assert page.status_code == 200 and "¥9,500" in page.text and "¥1,200" in page.text


@pytest.mark.parametrize("code", ["kwd", "bhd", "jod", "omr", "tnd"])
async def test_a_three_decimal_currency_is_refused_when_the_ticket_is_made(shop: LiveServer, code: str) -> None:
    """Stripe's three-decimal currencies need amounts in thousandths with a last digit of 0; Boxoffice has no
    such rule, so it does not offer them (money.SUPPORTED_CURRENCIES): refused with the field at fault."""
    event = await make_event(shop.box.db)
    before = await ticket_types.list_ticket_types(shop.box.db, event.id)
    with pytest.raises(InvalidInput) as refused:
        await make_ticket(shop.box.db, event.id, base_price_cents=5120, currency=code)
    assert [e.field for e in refused.value.errors] == ["currency"]
    assert await ticket_types.list_ticket_types(shop.box.db, event.id) == before == []
    with pytest.raises(InvalidInput):
        tt = await make_ticket(shop.box.db, event.id, base_price_cents=5120, currency="usd")
        await ticket_types.update_ticket_type(shop.box.db, tt.id, {"currency": code})
    assert [t.currency for t in await ticket_types.list_ticket_types(shop.box.db, event.id)] == ["usd"]
