"""Migrations: from empty to head, from every previous revision, data kept, schema equal to the models."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, Connection, inspect, text

from boxoffice import migrate
from boxoffice.db import Base, Database
from boxoffice.events import service as events
from boxoffice.models import load_all_models
from boxoffice.ticketing.orders import confirm_order, get_order, get_order_with_token, list_tickets, record_refund
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.ticket_types import get_ticket_type
from tests.helpers import counters, order_request

load_all_models()


def normalized_check(sqltext: str) -> str:
    """A CHECK's condition as both databases give it back: PostgreSQL adds parentheses, SQLite keeps the text."""
    return re.sub(r"[\s()]", "", sqltext).lower()


def model_checks() -> dict[str, dict[str, str]]:
    """Per table, the models' CHECK constraints: {name as created (naming convention applied): condition}."""
    checks: dict[str, dict[str, str]] = {}
    for table in Base.metadata.sorted_tables:
        found = {
            str(c.name): normalized_check(str(c.sqltext))
            for c in table.constraints
            if isinstance(c, CheckConstraint) and c.name is not None
        }
        if found:
            checks[table.name] = found
    return checks


def database_checks(conn: Connection) -> dict[str, dict[str, str]]:
    """Per table, the CHECK constraints the migrated database has (alembic's compare_metadata ignores them)."""
    inspector = inspect(conn)
    checks: dict[str, dict[str, str]] = {}
    for table in inspector.get_table_names():
        found = {str(c["name"]): normalized_check(c["sqltext"]) for c in inspector.get_check_constraints(table)}
        if found:
            checks[table] = found
    return checks


def test_the_models_name_the_checks_the_sale_relies_on() -> None:
    """The comparison above is not vacuous: the oversell, counter, quantity and refund checks are all there."""
    assert model_checks() == {
        "ticket_types": {
            "ck_ticket_types_quantity_positive": "quantity>=1",
            "ck_ticket_types_counters_non_negative": "sold_count>=0andheld_count>=0",
            "ck_ticket_types_no_oversell": "sold_count+held_count+reserved_count<=quantity",
            "ck_ticket_types_reserved_counters": (
                "reserved_count>=0andwaitlist_count>=0andwaitlist_count<=reserved_count"
            ),
        },
        "refunds": {"ck_refunds_amount_positive": "amount_cents>0"},
        "vouchers": {
            "ck_vouchers_counters_non_negative": "uses_taken>=0andreserved_left>=0andreserve>=0",
            "ck_vouchers_within_max_uses": "max_usesisnulloruses_taken<=max_uses",
            "ck_vouchers_reserved_within_reserve": "reserved_left<=reserve",
        },
        "voucher_uses": {"ck_voucher_uses_quantities": "quantity>=1andreserved>=0andreserved<=quantity"},
        "waiting_list_entries": {"ck_waiting_list_entries_quantity_positive": "quantity>=1"},
    }


def revisions() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


async def test_upgrade_from_empty_matches_models_and_downgrades(empty_url: str) -> None:
    await migrate.upgrade(empty_url)
    assert await migrate.is_current(empty_url)
    db = Database(empty_url)
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
        )
        checks = await conn.run_sync(lambda c: database_checks(c))
    await db.dispose()
    assert diff == []
    assert checks == model_checks()
    await migrate.downgrade(empty_url, "base")
    assert await migrate.current_revision(empty_url) is None
    await migrate.upgrade(empty_url)
    assert await migrate.is_current(empty_url)


async def test_each_revision_upgrades_from_the_previous_one(empty_url: str) -> None:
    for revision in revisions():
        await migrate.upgrade(empty_url, revision)
        assert await migrate.current_revision(empty_url) == revision
    for previous in reversed(["base", *revisions()[:-1]]):
        await migrate.downgrade(empty_url, previous)
    await migrate.upgrade(empty_url)


async def test_basic_tickets_and_orders_still_sell_after_upgrade(empty_url: str) -> None:
    await migrate.upgrade(empty_url, "0001")
    db = Database(empty_url)
    now = datetime.now(UTC)
    starts = now + timedelta(days=10)
    naive = db.is_sqlite

    def ts(value: datetime) -> object:
        return value.replace(tzinfo=None) if naive else value

    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO persons (id, email, email_normalized, name, created_at, updated_at) VALUES "
                "('per_org', 'org@example.com', 'org@example.com', 'Org', :now, :now), "
                "('per_buyer', 'Buyer@example.com', 'buyer@example.com', 'Buyer', :now, :now)"
            ),
            {"now": ts(now)},
        )
        await conn.execute(
            text(
                "INSERT INTO events (id, organizer_id, title, description, starts_at, ends_at, timezone, status, "
                "created_at, updated_at) VALUES ('ev_old', 'per_org', 'Old show', '', :s, :e, 'UTC', 'published', "
                ":now, :now)"
            ),
            {"s": ts(starts), "e": ts(starts + timedelta(hours=2)), "now": ts(now)},
        )
        await conn.execute(
            text(
                "INSERT INTO ticket_types (id, event_id, title, description, price_cents, currency, quantity, "
                "sold_count, held_count, created_at, updated_at) VALUES "
                "('tt_old', 'ev_old', 'Standard', '', 2500, 'usd', 10, 2, 0, :now, :now)"
            ),
            {"now": ts(now)},
        )
        await conn.execute(
            text(
                "INSERT INTO orders (id, event_id, person_id, email, name, status, currency, total_cents, "
                "access_token, expires_at, confirmed_at, created_at, updated_at) VALUES "
                "('ord_old', 'ev_old', 'per_buyer', 'Buyer@example.com', 'Buyer', 'confirmed', 'usd', 5000, 'tok', "
                ":now, :now, :now, :now)"
            ),
            {"now": ts(now)},
        )
        await conn.execute(
            text(
                "INSERT INTO order_lines (id, order_id, ticket_type_id, quantity, unit_price_cents, line_total_cents) "
                "VALUES ('ol_old', 'ord_old', 'tt_old', 2, 2500, 5000)"
            )
        )
    await db.dispose()

    await migrate.upgrade(empty_url)
    db = Database(empty_url)
    try:
        tt = await get_ticket_type(db, "tt_old")
        assert (tt.pricing_model, tt.base_price_cents, tt.currency) == ("fixed", 2500, "usd")
        old = await get_order(db, "ord_old")
        assert (old.subtotal_cents, old.tip_cents, old.total_cents) == (5000, 0, 5000)
        assert old.pricing_snapshot["legacy"] is True
        assert old.lines[0].unit_prices == [2500, 2500]
        assert len(await list_tickets(db, "ord_old")) == 2
        # its random token, stored in plaintext before 0010, is kept only as a hash and still opens the order
        assert (await get_order_with_token(db, "ord_old", "tok", [b"any key"])).id == "ord_old"
        assert old.token_hash is not None and "tok" not in old.token_hash

        order = await reserve(db, order_request("ev_old", ("tt_old", 3)))
        assert order.total_cents == 7500
        assert (await confirm_order(db, order.id)).status == "confirmed"
        assert await counters(db, "tt_old") == (10, 5, 0)
        refunded = await record_refund(db, "ord_old", 5000)
        assert refunded.status == "refunded"
        assert await counters(db, "tt_old") == (10, 3, 0)
    finally:
        await db.dispose()


async def test_events_take_the_currency_of_their_ticket_types_and_mixed_ones_are_reported(
    empty_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await migrate.upgrade(empty_url, "0011")
    db = Database(empty_url)
    now = datetime.now(UTC)
    stamp: object = now.replace(tzinfo=None) if db.is_sqlite else now
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO persons (id, email, email_normalized, name, created_at, updated_at) VALUES "
                "('per_o', 'o@example.com', 'o@example.com', 'O', :now, :now)"
            ),
            {"now": stamp},
        )
        for event_id in ("ev_eur", "ev_mixed", "ev_empty"):
            await conn.execute(
                text(
                    "INSERT INTO events (id, organizer_id, title, description, starts_at, ends_at, timezone, status, "
                    "created_at, updated_at) VALUES (:id, 'per_o', 'Show', '', :now, :now, 'UTC', 'published', "
                    ":now, :now)"
                ),
                {"id": event_id, "now": stamp},
            )
        for n, (event_id, currency) in enumerate(
            [("ev_eur", "eur"), ("ev_mixed", "usd"), ("ev_mixed", "gbp"), ("ev_mixed", "usd")]
        ):
            await conn.execute(
                text(
                    "INSERT INTO ticket_types (id, event_id, title, description, pricing_model, base_price_cents, "
                    "currency, quantity, sold_count, held_count, tippable, position, created_at, updated_at) VALUES "
                    "(:id, :event, 'T', '', 'fixed', 1000, :currency, 10, 0, 0, false, 0, :now, :now)"
                ),
                {"id": f"tt_{n}", "event": event_id, "currency": currency, "now": stamp},
            )
    await db.dispose()
    with caplog.at_level("WARNING"):
        await migrate.upgrade(empty_url)
    db = Database(empty_url)
    try:
        assert [(await events.get_event(db, e)).currency for e in ("ev_eur", "ev_mixed", "ev_empty")] == [
            "eur",
            "usd",  # two of its three ticket types
            None,  # set by its first ticket type
        ]
    finally:
        await db.dispose()
    reported = [r.getMessage() for r in caplog.records if "several currencies" in r.getMessage()]
    assert len(reported) == 1 and "ev_mixed" in reported[0] and "gbp (1)" in reported[0]
