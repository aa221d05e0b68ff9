"""Upgrading a database that has data, from every revision (not only the first), on SQLite and PostgreSQL: rows
written as each revision's schema had them (an organizer with an API key, a published event, a ticket type, a paid
order with its lines and tickets, an expired hold, and the newer columns where the revision has them) read back
correctly through the current services at head, and the sale goes on. And head -> previous -> head on an empty
database."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection

from boxoffice import migrate
from boxoffice.accounts.service import authenticate
from boxoffice.db import Database
from boxoffice.ticketing import orders as lifecycle
from boxoffice.ticketing import refunds, ticket_types, tokens
from boxoffice.ticketing import reserve as reservations
from tests.helpers import counters, order_request
from tests.platform.test_migrations import database_checks, model_checks, revisions

KEY = "bo_an-api-key-made-before-the-upgrade"
SECRET = b"the signing key of the upgraded deployment"


def rows_of_the_past(now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Every column any revision ever had, per table; each revision's insert takes the columns it has."""
    starts = now + timedelta(days=10)
    snapshot = {
        "currency": "usd",
        "lines": [
            {
                "ticket_type_id": "tt_old",
                "title": "Standard",
                "pricing_model": "fixed",
                "base_price_cents": 2500,
                "quantity": 2,
                "unit_prices": [2500, 2500],
            }
        ],
        "tip_cents": 0,
        "subtotal_cents": 5000,
        "total_cents": 5000,
    }
    base_order = {
        "event_id": "ev_old",
        "person_id": "per_buyer",
        "email": "Buyer@example.com",
        "name": "Buyer",
        "currency": "usd",
        "tip_cents": 0,
        "checkout_attempt": 0,
        "created_at": now - timedelta(hours=1),
        "updated_at": now,
    }
    return {
        "persons": [
            {"id": "per_org", "email": "org@example.com", "email_normalized": "org@example.com", "name": "Org"},
            {"id": "per_buyer", "email": "Buyer@example.com", "email_normalized": "buyer@example.com", "name": "B"},
        ],
        "api_keys": [
            {
                "id": "key_old",
                "person_id": "per_org",
                "name": "old key",
                "prefix": KEY[:10],
                "key_hash": hashlib.sha256(KEY.encode()).hexdigest(),
                "created_at": now,
                "revoked_at": None,
            }
        ],
        "events": [
            {
                "id": "ev_old",
                "organizer_id": "per_org",
                "title": "Old show",
                "description": "",
                "starts_at": starts,
                "ends_at": starts + timedelta(hours=2),
                "timezone": "UTC",
                "status": "published",
                "revision": 3,
            }
        ],
        "ticket_types": [
            {
                "id": "tt_old",
                "event_id": "ev_old",
                "title": "Standard",
                "description": "Seats",
                "price_cents": 2500,
                "pricing_model": "fixed",
                "base_price_cents": 2500,
                "tippable": False,
                "position": 0,
                "currency": "usd",
                "quantity": 10,
                "sold_count": 2,
                "held_count": 1,
                "revision": 2,
            }
        ],
        "orders": [
            base_order
            | {
                "id": "ord_paid",
                "status": "confirmed",
                "total_cents": 5000,
                "subtotal_cents": 5000,
                "refunded_cents": 0,
                "pricing_snapshot": json.dumps(snapshot),
                "access_token": "tok-paid",
                "expires_at": now - timedelta(minutes=30),
                "confirmed_at": now - timedelta(minutes=50),
                "stripe_checkout_session_id": "cs_test_old_paid",
                "stripe_payment_intent_id": "pi_old_paid",
                "checkout_url": "https://checkout.example/old",
                "idempotency_key": None,
            },
            base_order
            | {
                "id": "ord_held",
                "status": "pending",
                "total_cents": 2500,
                "subtotal_cents": 2500,
                "refunded_cents": 0,
                "pricing_snapshot": json.dumps(
                    snapshot
                    | {
                        "lines": [snapshot["lines"][0] | {"quantity": 1, "unit_prices": [2500]}],  # type: ignore[index]
                        "subtotal_cents": 2500,
                        "total_cents": 2500,
                    }
                ),
                "access_token": "tok-held",
                "expires_at": now - timedelta(minutes=1),  # its hold has ended; nobody swept it yet
                "stripe_checkout_session_id": "cs_test_old_held",
                "idempotency_key": hashlib.sha256(b"orders:ev_old\x00retry-key").hexdigest(),
                "request_fingerprint": "f" * 64,
            },
        ],
        "order_lines": [
            {
                "id": "ol_paid",
                "order_id": "ord_paid",
                "ticket_type_id": "tt_old",
                "position": 0,
                "title": "Standard",
                "quantity": 2,
                "unit_price_cents": 2500,
                "unit_prices": json.dumps([2500, 2500]),
                "line_total_cents": 5000,
            },
            {
                "id": "ol_held",
                "order_id": "ord_held",
                "ticket_type_id": "tt_old",
                "position": 0,
                "title": "Standard",
                "quantity": 1,
                "unit_price_cents": 2500,
                "unit_prices": json.dumps([2500]),
                "line_total_cents": 2500,
            },
        ],
        "tickets": [
            {
                "id": f"tkt_old{n}",
                "order_id": "ord_paid",
                "order_line_id": "ol_paid",
                "ticket_type_id": "tt_old",
                "unit_price_cents": 2500,
                "status": "valid",
                "created_at": now,
            }
            for n in range(2)
        ],
        "event_participants": [
            {
                "id": "ep_old",
                "event_id": "ev_old",
                "person_id": "per_buyer",
                "role": "ticket_holder",
                "status": "active",
                "source": "order",
                "metadata": json.dumps({"order_ids": ["ord_paid"]}),
            }
        ],
    }


async def write_rows(conn: AsyncConnection, db: Database, now: datetime) -> dict[str, set[str]]:
    """Insert the rows with the columns the current schema has; returns the columns each table had."""
    tables = await conn.run_sync(
        lambda c: {t: {col["name"] for col in inspect(c).get_columns(t)} for t in inspect(c).get_table_names()}
    )
    for table, rows in rows_of_the_past(now).items():
        if table not in tables:
            continue
        for row in rows:
            values = {"created_at": now, "updated_at": now} | row
            values = {k: v for k, v in values.items() if k in tables[table]}
            if db.is_sqlite:
                values = {k: v.replace(tzinfo=None) if isinstance(v, datetime) else v for k, v in values.items()}
            columns = ", ".join(values)
            params = ", ".join(f":{k}" for k in values)
            await conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({params})"), values)
    return tables


@pytest.mark.parametrize("revision", revisions())
async def test_rows_written_at_a_revision_read_back_at_head(empty_url: str, revision: str) -> None:
    await migrate.upgrade(empty_url, revision)
    now = datetime.now(UTC).replace(microsecond=0)
    db = Database(empty_url)
    async with db.engine.begin() as conn:
        had = await write_rows(conn, db, now)
    await db.dispose()

    await migrate.upgrade(empty_url)
    assert await migrate.is_current(empty_url)
    db = Database(empty_url)
    try:
        await check_at_head(db, had, now)
    finally:
        await db.dispose()


async def check_at_head(db: Database, had: dict[str, set[str]], now: datetime) -> None:
    tt = await ticket_types.get_ticket_type(db, "tt_old")
    assert (tt.pricing_model, tt.base_price_cents, tt.currency, tt.title, tt.description) == (
        "fixed",
        2500,
        "usd",
        "Standard",
        "Seats",
    )
    assert await counters(db, "tt_old") == (10, 2, 1)

    paid = await lifecycle.get_order(db, "ord_paid")
    assert (paid.status, paid.subtotal_cents, paid.tip_cents, paid.total_cents, paid.refunded_cents) == (
        "confirmed",
        5000,
        0,
        5000,
        0,
    )
    assert (paid.stripe_checkout_session_id, paid.stripe_payment_intent_id) == ("cs_test_old_paid", "pi_old_paid")
    assert paid.created_at == now - timedelta(hours=1) and paid.confirmed_at == now - timedelta(minutes=50)
    assert [(line.title, line.quantity, line.unit_prices) for line in paid.lines] == [("Standard", 2, [2500, 2500])]
    assert paid.pricing_snapshot["total_cents"] == 5000
    assert paid.pricing_snapshot["lines"][0]["unit_prices"] == [2500, 2500]
    assert [(t.status, t.unit_price_cents) for t in await lifecycle.list_tickets(db, "ord_paid")] == [
        ("valid", 2500)
    ] * 2
    # the order still opens: with the token it was given before 0010 (kept as a hash), else with the derived one
    token = "tok-paid" if "access_token" in had["orders"] else tokens.order_token("ord_paid", SECRET)
    assert (await lifecycle.get_order_with_token(db, "ord_paid", token, [SECRET])).id == "ord_paid"
    assert await lifecycle.find_order_by_payment(db, payment_intent_id="pi_old_paid") is not None
    organizer = await authenticate(db, KEY) if "api_keys" in had else None
    assert organizer is None or organizer.id == "per_org"

    held = await lifecycle.get_order(db, "ord_held")
    assert held.status == "pending" and held.lines[0].quantity == 1
    if "idempotency_key" in had["orders"]:
        found = await reservations.find_order_by_idempotency_key(db, held.idempotency_key or "")
        assert found is not None and found.id == "ord_held"

    # its hold has ended: availability does not count it, the sweeper releases it once
    (available,) = await ticket_types.availability(db, "ev_old")
    assert (available.sold, available.available, available.price_cents) == (2, 8, 2500)
    assert await lifecycle.release_expired_holds(db) == 1
    assert await lifecycle.release_expired_holds(db) == 0
    assert (await lifecycle.get_order(db, "ord_held")).status == "expired"
    assert await counters(db, "tt_old") == (10, 2, 0)

    # the sale goes on, and the old paid order can be refunded
    order = await reservations.reserve(db, order_request("ev_old", ("tt_old", 3)))
    assert (order.total_cents, order.pricing_snapshot["lines"][0]["unit_prices"]) == (7500, [2500] * 3)
    assert (await lifecycle.confirm_order(db, order.id, payment_intent_id="pi_new")).status == "confirmed"
    assert await counters(db, "tt_old") == (10, 5, 0)
    opened = await refunds.open_refund(db, "ord_paid", 1000)
    assert (opened.refund.amount_cents, opened.refund.currency) == (1000, "usd")
    assert (await lifecycle.record_refund(db, "ord_paid", 5000)).status == "refunded"
    assert await counters(db, "tt_old") == (10, 3, 0)
    assert [t.status for t in await lifecycle.list_tickets(db, "ord_paid")] == ["void", "void"]
    updated = await ticket_types.update_ticket_type(db, "tt_old", {"base_price_cents": 3000})
    assert updated.revision == (3 if "revision" in had["ticket_types"] else 1)
    again = await reservations.reserve(db, order_request("ev_old", ("tt_old", 1)))
    assert again.total_cents == 3000


async def test_head_down_one_and_up_again_on_an_empty_database(empty_url: str) -> None:
    every = revisions()
    await migrate.upgrade(empty_url)
    await migrate.downgrade(empty_url, every[-2])
    assert await migrate.current_revision(empty_url) == every[-2]
    await migrate.upgrade(empty_url)
    assert await migrate.current_revision(empty_url) == every[-1]
    db = Database(empty_url)
    try:
        async with db.engine.connect() as conn:
            assert await conn.run_sync(database_checks) == model_checks()
    finally:
        await db.dispose()
