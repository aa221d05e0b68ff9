"""The event page with a code (``/e/{event_id}?voucher=CODE``, or the page's "Have a code?" field): the prices with
it, the hidden ticket types it unlocks and the tickets set aside for it, before checkout. No JavaScript needed: the
code travels in the query string and, once applied, in the checkout form."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boxoffice import money
from boxoffice.container import Boxoffice
from boxoffice.errors import ErrorCode, FieldError, InvalidInput, VoucherUnavailable
from boxoffice.events.models import Event
from boxoffice.ticketing import voucher_uses
from boxoffice.ticketing import vouchers as rules
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.ticket_types import Availability
from boxoffice.ticketing.voucher_models import Voucher

MAX_CODE = 64
# the code's refusals that are about its state (answered 409), not the code typed (422)
REFUSED_LATER = frozenset({ErrorCode.VOUCHER_EXPIRED, ErrorCode.VOUCHER_NOT_YET_VALID, ErrorCode.VOUCHER_USED_UP})


async def read_code(
    box: Boxoffice, event: Event, code: str | None, now: datetime
) -> tuple[Voucher | None, FieldError | None]:
    """The voucher a buyer typed (trimmed), or the refusal to show at the code field."""
    code = (code or "").strip()[:MAX_CODE]
    if not code:
        return None, None
    try:
        return await voucher_uses.voucher_for_holder(box.db, event.id, code, now), None
    except (InvalidInput, VoucherUnavailable) as exc:
        return None, exc.field_errors()[0]


def shown(holder: Voucher | None, tt: TicketType) -> bool:
    """A hidden ticket type is shown only with a code that unlocks it."""
    return not tt.hidden or (holder is not None and tt.id in (holder.unlocks or []))


def apply_code(view: Any, holder: Voucher, tt: TicketType, a: Availability, now: datetime) -> None:
    """What the holder of the code sees of a ticket type (``view``: the event page's ticket view, changed in place):
    the price with the code and a note naming it, and the tickets set aside for it among those left."""
    seen = voucher_uses.holder_ticket(holder, tt, available=a.available, price_cents=a.price_cents, now=now)
    if not seen.applies:
        return
    discount = rules.discount_from_json(holder.discount)
    if tt.pricing_model == "flexible":
        if discount is not None and discount.kind == "price":
            view.code_note = f"With code {holder.code}: {money.format_money(discount.value, tt.currency)} a ticket"
        elif discount is not None:
            view.code_note = f"With code {holder.code}: {discount.describe(tt.currency)} the price you choose"
        else:
            view.code_note = f"Unlocked by code {holder.code}"
    elif seen.price_cents != a.price_cents:
        view.code_note = f"With code {holder.code}, instead of {money.format_money(a.price_cents, tt.currency)}"
        view.price_cents = seen.price_cents
        view.step_text = ""
    else:
        view.code_note = f"Unlocked by code {holder.code}" if tt.hidden else ""
    view.code_held = seen.available - a.available
    view.available = seen.available
    view.max_qty = max(min(view.per_order, seen.available), 0)
    if view.state in ("on_sale", "sold_out"):
        view.state = "on_sale" if seen.available > 0 else "sold_out"
