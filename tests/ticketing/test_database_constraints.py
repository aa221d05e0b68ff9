"""The guarantees the database keeps by itself, attacked with plain SQL on PostgreSQL: every statement that would
oversell, drive a counter negative, duplicate a Stripe id or an idempotency key, refund a non-positive amount or
point at nothing is refused by the named constraint, and its whole transaction changes nothing."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from boxoffice.accounts.service import create_api_key
from boxoffice.db import Base, Database
from boxoffice.models import load_all_models
from boxoffice.ticketing import checkout as checkout_rows
from boxoffice.ticketing import orders as lifecycle
from boxoffice.ticketing import plan, refunds, ticket_types
from boxoffice.ticketing import reserve as reservations
from tests.helpers import make_event, make_ticket, order_request, unique_email

pytestmark = pytest.mark.postgres
load_all_models()


@dataclass(frozen=True)
class Rows:
    event: str
    tt: str  # 2 sold, 1 held of 10
    empty_tt: str  # nothing sold
    order: str  # confirmed, with a checkout session, a payment intent and an idempotency key
    other: str  # pending, with a checkout session and another idempotency key
    line: str
    refund: str  # with an idempotency key and a Stripe refund id
    person: str


@pytest.fixture
async def rows(pg_db: Database) -> Rows:
    organizer = unique_email("org")
    event = await make_event(pg_db, organizer=organizer)
    await create_api_key(pg_db, organizer)
    tt = await make_ticket(pg_db, event.id, quantity=10)
    empty = await make_ticket(pg_db, event.id, title="Empty", quantity=5)
    sfx = secrets.token_hex(6)
    order = await _reserve(pg_db, event.id, tt.id, 2, f"idem-a-{sfx}")
    other = await _reserve(pg_db, event.id, tt.id, 1, f"idem-b-{sfx}")
    await checkout_rows.set_checkout_sessions(
        pg_db,
        [
            checkout_rows.CheckoutSession(order.id, f"cs_test_a_{sfx}", "https://pay.example/a"),
            checkout_rows.CheckoutSession(other.id, f"cs_test_b_{sfx}", "https://pay.example/b"),
        ],
    )
    await lifecycle.confirm_order(pg_db, order.id, payment_intent_id=f"pi_a_{sfx}")
    opened = await refunds.open_refund(pg_db, order.id, 500, idempotency_key=f"rk-{sfx}", fingerprint="f")
    await refunds.settle_refund(pg_db, opened.refund.id, status="succeeded", stripe_refund_id=f"re_{sfx}")
    return Rows(event.id, tt.id, empty.id, order.id, other.id, order.lines[0].id, opened.refund.id, order.person_id)


async def _reserve(db: Database, event_id: str, tt_id: str, quantity: int, key: str) -> Any:
    request = order_request(event_id, (tt_id, quantity))
    return await reservations.reserve(
        db,
        plan.OrderRequest(
            event_id=request.event_id,
            email=request.email,
            lines=request.lines,
            name=request.name,
            idempotency_key=key,
            fingerprint="fp",
        ),
    )


def copy_row(table: str, overrides: dict[str, str], where: str) -> str:
    """INSERT a copy of one row of ``table`` with some columns replaced by SQL expressions."""
    columns = [c.name for c in Base.metadata.tables[table].columns]
    values = [overrides.get(c, c) for c in columns]
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {table} WHERE {where}"


async def everything(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (what "changes nothing" is checked against)."""
    async with db.read() as session:
        dump = {}
        for table in Base.metadata.sorted_tables:
            order_by = "id" if "id" in table.columns else "1"
            dump[table.name] = [
                tuple(r) for r in await session.execute(text(f"SELECT * FROM {table.name} ORDER BY {order_by}"))
            ]
        return dump


def constraint_of(exc: IntegrityError) -> str | None:
    cause = exc.orig.__cause__ if exc.orig is not None else None
    return getattr(cause, "constraint_name", None)


ATTACKS: list[tuple[str, str | tuple[str, ...], Sequence[str]]] = [
    # (what, constraint refusing it, statements run in one transaction; params from Rows and :sfx)
    (
        "oversell by holding more",
        "ck_ticket_types_no_oversell",
        ["UPDATE ticket_types SET held_count = 9 WHERE id = :tt"],
    ),
    (
        "oversell by selling more",
        "ck_ticket_types_no_oversell",
        ["UPDATE ticket_types SET sold_count = 10 WHERE id = :tt"],
    ),
    (
        "oversell by lowering the quantity",
        "ck_ticket_types_no_oversell",
        ["UPDATE ticket_types SET quantity = 2 WHERE id = :tt"],
    ),
    (
        "oversell hidden after a valid change",
        "ck_ticket_types_no_oversell",
        [
            "UPDATE ticket_types SET held_count = held_count + 1 WHERE id = :tt",
            "UPDATE ticket_types SET sold_count = sold_count + 7 WHERE id = :tt",
        ],
    ),
    (
        "a new ticket type already oversold",
        "ck_ticket_types_no_oversell",
        [
            copy_row(
                "ticket_types", {"id": "'tt_x' || :sfx", "sold_count": "quantity + 1", "held_count": "0"}, "id = :tt"
            )
        ],
    ),
    (
        "a negative held count",
        "ck_ticket_types_counters_non_negative",
        ["UPDATE ticket_types SET held_count = -1 WHERE id = :empty_tt"],
    ),
    (
        "a negative sold count",
        "ck_ticket_types_counters_non_negative",
        ["UPDATE ticket_types SET sold_count = -1 WHERE id = :empty_tt"],
    ),
    (
        "a zero quantity",
        "ck_ticket_types_quantity_positive",
        ["UPDATE ticket_types SET quantity = 0 WHERE id = :empty_tt"],
    ),
    (
        "a new ticket type of no quantity",
        "ck_ticket_types_quantity_positive",
        [
            copy_row(
                "ticket_types",
                {"id": "'tt_y' || :sfx", "quantity": "0", "sold_count": "0", "held_count": "0"},
                "id = :tt",
            )
        ],
    ),
    (
        "a second order with the same Checkout Session",
        "uq_orders_stripe_checkout_session_id",
        [
            "UPDATE orders SET stripe_checkout_session_id = "
            "(SELECT stripe_checkout_session_id FROM orders WHERE id = :order) WHERE id = :other"
        ],
    ),
    (
        "a second order with the same PaymentIntent",
        "uq_orders_stripe_payment_intent_id",
        [
            "UPDATE orders SET stripe_payment_intent_id = "
            "(SELECT stripe_payment_intent_id FROM orders WHERE id = :order) WHERE id = :other"
        ],
    ),
    (
        "a second order with the same Idempotency-Key",
        "uq_orders_idempotency_key",
        [
            copy_row(
                "orders",
                {"id": "'ord_x' || :sfx", "stripe_checkout_session_id": "NULL", "stripe_payment_intent_id": "NULL"},
                "id = :order",
            )
        ],
    ),
    ("a refund of nothing", "ck_refunds_amount_positive", ["UPDATE refunds SET amount_cents = 0 WHERE id = :refund"]),
    (
        "a negative refund",
        "ck_refunds_amount_positive",
        [
            copy_row(
                "refunds",
                {"id": "'rf_x' || :sfx", "amount_cents": "-100", "idempotency_key": "NULL", "stripe_refund_id": "NULL"},
                "id = :refund",
            )
        ],
    ),
    (
        "a second refund with the same idempotency key",
        "uq_refunds_idempotency_key",
        [copy_row("refunds", {"id": "'rf_y' || :sfx", "stripe_refund_id": "NULL"}, "id = :refund")],
    ),
    (
        "a second refund with the same Stripe refund",
        "uq_refunds_stripe_refund_id",
        [copy_row("refunds", {"id": "'rf_z' || :sfx", "idempotency_key": "NULL"}, "id = :refund")],
    ),
    (
        "a refund of no order",
        "fk_refunds_order_id_orders",
        [
            copy_row(
                "refunds",
                {
                    "id": "'rf_w' || :sfx",
                    "order_id": "'ord_missing'",
                    "idempotency_key": "NULL",
                    "stripe_refund_id": "NULL",
                },
                "id = :refund",
            )
        ],
    ),
    (
        "an order line of no order",
        "fk_order_lines_order_id_orders",
        [copy_row("order_lines", {"id": "'ol_x' || :sfx", "order_id": "'ord_missing'"}, "id = :line")],
    ),
    (
        "an order line of no ticket type",
        "fk_order_lines_ticket_type_id_ticket_types",
        [copy_row("order_lines", {"id": "'ol_y' || :sfx", "ticket_type_id": "'tt_missing'"}, "id = :line")],
    ),
    (
        "a ticket of no order line",
        "fk_tickets_order_line_id_order_lines",
        [copy_row("tickets", {"id": "'tkt_x' || :sfx", "order_line_id": "'ol_missing'"}, "order_id = :order LIMIT 1")],
    ),
    (
        "an order of no event",
        "fk_orders_event_id_events",
        [
            copy_row(
                "orders",
                {
                    "id": "'ord_y' || :sfx",
                    "event_id": "'ev_missing'",
                    "idempotency_key": "NULL",
                    "stripe_checkout_session_id": "NULL",
                    "stripe_payment_intent_id": "NULL",
                },
                "id = :order",
            )
        ],
    ),
    (
        "deleting a ticket type that has orders",
        "fk_order_lines_ticket_type_id_ticket_types",
        ["DELETE FROM ticket_types WHERE id = :tt"],
    ),
    ("deleting an order that has tickets", "fk_order_lines_order_id_orders", ["DELETE FROM orders WHERE id = :other"]),
    (
        "deleting an event that has orders",
        ("fk_event_participants_event_id_events", "fk_ticket_types_event_id_events", "fk_orders_event_id_events"),
        ["DELETE FROM events WHERE id = :event"],
    ),
    (
        "a second person with the same email",
        "uq_persons_email_normalized",
        [copy_row("persons", {"id": "'per_x' || :sfx"}, "id = :person")],
    ),
    (
        "a second ticket holder row for one person",
        "uq_event_participants_event_person",
        [copy_row("event_participants", {"id": "'ep_x' || :sfx"}, "event_id = :event AND person_id = :person")],
    ),
    (
        "a second API key with the same hash",
        "uq_api_keys_key_hash",
        [
            copy_row(
                "api_keys", {"id": "'key_x' || :sfx"}, "person_id = (SELECT organizer_id FROM events WHERE id = :event)"
            )
        ],
    ),
]


@pytest.mark.parametrize(("what", "constraint", "statements"), ATTACKS, ids=[a[0] for a in ATTACKS])
async def test_the_database_refuses(
    pg_db: Database, rows: Rows, what: str, constraint: str | tuple[str, ...], statements: Sequence[str]
) -> None:
    params = {**rows.__dict__, "sfx": secrets.token_hex(4)}
    before = await everything(pg_db)
    with pytest.raises(IntegrityError) as refused:
        async with pg_db.engine.begin() as conn:
            for statement in statements:
                used = {k: v for k, v in params.items() if f":{k}" in statement}
                await conn.execute(text(statement), used)
    # refused by that constraint, not by another (a NOT NULL, say) that would make the attack prove nothing
    allowed = constraint if isinstance(constraint, tuple) else (constraint,)
    assert constraint_of(refused.value) in allowed, refused.value
    assert await everything(pg_db) == before


async def test_the_attacks_are_refused_only_for_what_they_break(pg_db: Database, rows: Rows) -> None:
    """The same statements without the breaking part are accepted (so each refusal above is the constraint's)."""
    async with pg_db.engine.begin() as conn:
        await conn.execute(text("UPDATE ticket_types SET held_count = 8 WHERE id = :tt"), {"tt": rows.tt})
        await conn.execute(text("UPDATE ticket_types SET quantity = 10 WHERE id = :tt"), {"tt": rows.tt})
        await conn.execute(text("UPDATE refunds SET amount_cents = 1 WHERE id = :r"), {"r": rows.refund})
        await conn.execute(
            text(
                copy_row(
                    "refunds",
                    {"id": "'rf_ok' || :sfx", "idempotency_key": "NULL", "stripe_refund_id": "NULL"},
                    "id = :refund",
                )
            ),
            {"sfx": secrets.token_hex(4), "refund": rows.refund},
        )
        await conn.execute(text("UPDATE ticket_types SET quantity = 1 WHERE id = :tt"), {"tt": rows.empty_tt})
    tt = await ticket_types.get_ticket_type(pg_db, rows.tt)
    assert (tt.quantity, tt.sold_count, tt.held_count) == (10, 2, 8)
