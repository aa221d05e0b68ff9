"""Numbers typed into forms are ASCII digits only: ``²`` (which ``str.isdigit`` accepts and ``int`` refuses) and
full-width digits (which both accept) are refused in words with a 4xx, never a 500, and nothing is reserved."""

from __future__ import annotations

import pytest

from boxoffice.sandbox.errors import SandboxError
from boxoffice.sandbox.validation import integer
from boxoffice.web.pages.forms import AmountError, parse_amount, whole_number
from tests.helpers import database_state, make_event, make_ticket
from tests.server import LiveServer

NOT_ASCII = ("\u00b2", "\uff11", "\uff11\uff12", "\u0663", "1\u00b2")  # ², full-width 1 and 12, Arabic-Indic 3


async def test_quantity_that_is_not_ascii_digits_is_explained(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    tt = await make_ticket(site.box.db, event.id, title="Standing")
    before = await database_state(site.box.db)
    for qty in NOT_ASCII:
        r = await site.client.post(f"/e/{event.id}/checkout", data={f"qty_{tt.id}": qty, "email": "a@example.com"})
        assert r.status_code == 422, (qty, r.status_code)
        assert "Please enter a whole number of tickets for Standing" in r.text
    assert await database_state(site.box.db) == before


async def test_amounts_that_are_not_ascii_digits_are_explained(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    flex = await make_ticket(
        site.box.db, event.id, title="Supporter", pricing_model="flexible", minimum_price_cents=0, tippable=True
    )
    before = await database_state(site.box.db)
    for amount in (*NOT_ASCII, "\uff11\uff12.\uff15\uff10", "1_000", "1e3"):
        for name, words in ((f"price_{flex.id}", "your price for Supporter"), ("tip", "your tip")):
            data = {f"qty_{flex.id}": "1", f"price_{flex.id}": "5", "email": "a@example.com"}
            r = await site.client.post(f"/e/{event.id}/checkout", data=data | {name: amount})
            assert r.status_code == 422, (name, amount, r.status_code)
            assert f"Please enter {words} as an amount such as 12.50" in r.text
    assert await database_state(site.box.db) == before


def test_parsers_take_ascii_digits_only() -> None:
    assert whole_number("12") == 12 and parse_amount("12.50", "usd") == 1250
    for text in NOT_ASCII:
        assert whole_number(text) is None
        with pytest.raises(AmountError):
            parse_amount(text, "usd")
        with pytest.raises(SandboxError):
            integer(text, "amount")
    assert integer("-12", "amount") == -12
