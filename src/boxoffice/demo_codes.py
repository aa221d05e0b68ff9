"""The demo's codes (``boxoffice demo``): a 20 % voucher on the visible tickets and an access code that unlocks a
hidden "Crew" ticket type, free with the code. Made once per demo event (a second run finds them), through the same
services as the API and the console."""

from __future__ import annotations

from boxoffice.db import Database
from boxoffice.ticketing.ticket_types import create_ticket_type, list_ticket_types
from boxoffice.ticketing.voucher_codes import create_vouchers, list_vouchers

DISCOUNT_CODE = "MEMBERS20"
ACCESS_CODE = "CREW"
CREW_TITLE = "Crew"


async def ensure_demo_codes(db: Database, event_id: str, public_url: str) -> list[str]:
    """Create the demo's hidden ticket type and codes when missing; return the lines that say how to use them."""
    tickets = await list_ticket_types(db, event_id)
    crew = next((t for t in tickets if t.title == CREW_TITLE), None)
    if crew is None:
        crew = await create_ticket_type(
            db,
            event_id,
            {
                "title": CREW_TITLE,
                "base_price_cents": 1000,
                "currency": tickets[0].currency if tickets else "eur",
                "quantity": 20,
                "hidden": True,
                "description": "For the crew only: shown with the crew's access code.",
                "position": 9,
            },
        )
    codes = {v.code for v in await list_vouchers(db, event_id, kind="voucher")}
    if DISCOUNT_CODE not in codes:
        await create_vouchers(
            db, event_id, {"code": DISCOUNT_CODE, "discount": {"percent": 20}, "max_uses": 100, "note": "demo"}
        )
    if ACCESS_CODE not in codes:
        await create_vouchers(
            db,
            event_id,
            {"code": ACCESS_CODE, "unlocks": [crew.id], "discount": {"price_cents": 0}, "max_uses": 20, "note": "demo"},
        )
    page = f"{public_url}/e/{event_id}"
    return [
        f"Voucher:        {page}?voucher={DISCOUNT_CODE} ({DISCOUNT_CODE}: 20% off; or type it on the page)",
        f"Access code:    {page}?voucher={ACCESS_CODE} ({ACCESS_CODE}: shows the hidden Crew ticket, free)",
    ]
