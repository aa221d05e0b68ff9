"""The order the one-statement reservation answers with is built as if read back (``db.as_loaded``): the same
values as the order the general path builds and flushes, readable like it, with nothing for a session to write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect

from boxoffice.db import Database
from boxoffice.ticketing.models import Order, OrderLine
from boxoffice.ticketing.plan import _load_plan, _new_order, _price_lines
from tests.helpers import make_event, make_ticket, order_request


async def test_an_order_built_as_written_has_the_values_of_one_built_to_flush(sqlite_db: Database) -> None:
    db = sqlite_db
    event = await make_event(db)
    fixed = await make_ticket(db, event.id, quantity=10, base_price_cents=1500, tippable=True)
    flexible = await make_ticket(db, event.id, quantity=10, pricing_model="flexible", minimum_price_cents=500)
    now = datetime.now(UTC)
    request = order_request(event.id, (fixed.id, 2), (flexible.id, 1, 900), tip_cents=100)
    plan = await _load_plan(db, request, now)
    priced, totals = _price_lines(request, plan, dict.fromkeys(plan.takings, 0), now)
    built = [
        _new_order(request, plan, "per_x", priced, totals, now, timedelta(minutes=10), as_written=written)
        for written in (False, True)
    ]

    def values(order: Order) -> tuple[dict[str, object], list[dict[str, object]]]:
        def of(row: Order | OrderLine, skip: set[str]) -> dict[str, object]:
            return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in skip}

        return of(order, {"id"}), [of(line, {"id", "order_id"}) for line in order.lines]

    assert values(built[0]) == values(built[1])
    written = built[1]
    assert written.total_cents == 1500 * 2 + 900 + 100 and written.status == "pending"
    assert [line.position for line in written.lines] == [0, 1]
    assert all(line.order_id == written.id for line in written.lines)
    assert written.confirmed_at is None and written.checkout_url is None  # never given: as a fresh row reads
    state = inspect(written)
    assert state.transient and not state.modified
    assert all(not inspect(line).modified for line in written.lines)
