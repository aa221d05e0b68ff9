"""What an order's rows cost PostgreSQL when every order of a sale updates them: the one-statement reservation
called directly (no HTTP, no Stripe), ``--clients`` at a time, in one process.

    .venv/bin/python -m benchmarks.hot_rows                 # plain, voucher, and each one at a time
    .venv/bin/python -m benchmarks.hot_rows --rounds 3      # alternated three times

Variants, each on a sale in a PostgreSQL database of its own (found as the tests find it, dropped afterwards):

- ``plain``: one-ticket orders of one ticket type (the flash sale's order): one row, the ticket type's, that every
  order updates.
- ``voucher``: the same orders, each with one code (20 % off): two such rows, the code's and the ticket type's.
- ``plain-statement-alone``, ``voucher-statement-alone``: the reservation statement sent alone, as before
  ``locked_first``'s function (which first locks those rows with small statements, then runs the statement).
- ``plain-one-at-a-time``, ``voucher-one-at-a-time``: the same, but this process sends one reservation statement at a
  time (an ``asyncio.Lock``), so no statement ever waits for a row lock in PostgreSQL. Not a way to sell (this
  process's latency then bounds the rate): it shows what the waiting itself costs PostgreSQL.
- ``voucher-without-its-row`` (measurement only, not exact: the code's uses are then not counted): the voucher
  statement, alone, with the code's row neither locked nor updated, every other row written as before.

Reported per variant: orders/s and the CPU of PostgreSQL's processes and of this process per order. The finding
(benchmarks/README.md, "Why the voucher sale is slower"): a statement that waited for a row updated meanwhile
re-checks it on the row's newest version (PostgreSQL's EvalPlanQual), and that re-check first sets up again every
part of the statement (its CTEs); the voucher order waits on two such rows, so it pays twice. The locking function
waits in small statements instead, and the statement then runs on rows that no longer change under it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks.flash_sale import _postgres_cpu, bench_database, make_sale
from boxoffice.db import Database
from boxoffice.ticketing import locked_first, reserve_pg, voucher_codes
from boxoffice.ticketing import reserve as reservations
from boxoffice.ticketing.caps import BuyerCaps
from boxoffice.ticketing.plan import LineRequest, OrderRequest

VARIANTS = (
    "plain",
    "plain-statement-alone",
    "voucher",
    "voucher-statement-alone",
    "plain-one-at-a-time",
    "voucher-one-at-a-time",
    "voucher-without-its-row",
)
CAPS = BuyerCaps(held_per_email=4)  # the held-tickets cap per email is on, as in the flash sale


@contextmanager
def one_at_a_time() -> Iterator[None]:
    """The one-statement reservation sent one at a time by this process."""
    original = reserve_pg._reserve_fused
    lock = asyncio.Lock()

    async def serialized(*args: Any, **kwargs: Any) -> Any:
        async with lock:
            return await original(*args, **kwargs)

    vars(reserve_pg)["_reserve_fused"] = serialized
    try:
        yield
    finally:
        vars(reserve_pg)["_reserve_fused"] = original


@contextmanager
def statement_alone() -> Iterator[None]:
    """The reservation statement sent alone, not through the function that first locks the rows it updates."""
    locked_first.ENABLED = False
    try:
        yield
    finally:
        locked_first.ENABLED = True


@contextmanager
def without_the_vouchers_row() -> Iterator[None]:
    """The voucher statement (alone) with the code's row read but neither locked nor updated (measurement only)."""
    lock, take = reserve_pg._LOCK_VOUCHER, reserve_pg._TAKE_USES
    update = (
        "UPDATE vouchers SET uses_taken = uses_taken + :voucher_uses, updated_at = :now\n"
        "    WHERE id = :voucher_id AND EXISTS (SELECT 1 FROM o)"
    )
    if "FOR NO KEY UPDATE" not in lock or update not in take:
        raise SystemExit("reserve_pg's voucher statement changed: update this variant to match it")
    statements = dict(reserve_pg._FUSED_RESERVE)
    reserve_pg._LOCK_VOUCHER = lock.replace("FOR NO KEY UPDATE", "")
    # the same parameters stay bound, and nothing is written to the code's row
    reserve_pg._TAKE_USES = take.replace(update, "SELECT 1 WHERE CAST(:voucher_uses AS integer) > 0")
    reserve_pg._FUSED_RESERVE.update({key: reserve_pg._fused_statement(*key) for key in statements})
    for key, statement in reserve_pg._FUSED_RESERVE.items():
        reserve_pg._LOCKED_FIRST[key].statement = statement  # what runs when the statement runs alone
    try:
        with statement_alone():
            yield
    finally:
        reserve_pg._LOCK_VOUCHER, reserve_pg._TAKE_USES = lock, take
        reserve_pg._FUSED_RESERVE.update(statements)
        for key, statement in statements.items():
            reserve_pg._LOCKED_FIRST[key].statement = statement


async def run_variant(db: Database, variant: str, *, clients: int, orders: int) -> dict[str, Any]:
    voucher = variant.startswith("voucher")
    event_id, ids = await make_sale(db, types=1, per_type=orders + clients)
    if voucher:
        await voucher_codes.create_vouchers(
            db, event_id, {"code": "FLASH", "discount": {"percent": 20}, "max_uses": orders + clients}
        )
    counter = iter(range(10**9))

    def request() -> OrderRequest:
        i = next(counter)
        return OrderRequest(
            event_id=event_id,
            email=f"buyer{i}@example.com",
            name=f"Buyer {i}",
            lines=[LineRequest(ids[0], 1)],
            tip_cents=None,
            voucher="flash" if voucher else None,
        )

    for _ in range(clients):  # warm: the kept sale, prepared statements on the pool's connections
        await reservations.reserve(db, request(), caps=CAPS)
    per_client = orders // clients
    paths = {"one statement": 0, "general path": 0}
    fused = reserve_pg._reserve_in_one_statement

    async def counted(*args: Any, **kwargs: Any) -> Any:
        order = await fused(*args, **kwargs)
        paths["one statement" if order is not None else "general path"] += 1
        return order

    async def client() -> None:
        for _ in range(per_client):
            await reservations.reserve(db, request(), caps=CAPS)

    vars(reservations)["_reserve_in_one_statement"] = counted  # as reserve() calls it
    try:
        pg_before, started, cpu_before = _postgres_cpu(), time.perf_counter(), time.process_time()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_before
        pg_after = _postgres_cpu()
    finally:
        vars(reservations)["_reserve_in_one_statement"] = fused
    pg = sum(after - pg_before.get(pid, 0.0) for pid, after in pg_after.items())
    done = per_client * clients
    return {
        "variant": variant,
        "clients": clients,
        "orders": done,
        "orders_per_s": round(done / elapsed, 1),
        "postgres_cpu_ms_per_order": round(pg / done * 1000, 3),
        "python_cpu_ms_per_order": round(cpu / done * 1000, 3),
        "paths": paths,
    }


async def main(args: argparse.Namespace) -> None:
    settings: dict[str, Callable[[], Any]] = {
        "plain-statement-alone": statement_alone,
        "voucher-statement-alone": statement_alone,
        "plain-one-at-a-time": one_at_a_time,
        "voucher-one-at-a-time": one_at_a_time,
        "voucher-without-its-row": without_the_vouchers_row,
    }
    for _ in range(args.rounds):
        for variant in args.variants:
            # a database of its own for each: the previous sales' dead row versions would weigh on the next
            async with bench_database() as (url, _dsn):
                db = Database(url, pool_size=min(args.clients, 20))
                try:
                    with settings.get(variant, contextlib.nullcontext)():
                        result = await run_variant(db, variant, clients=args.clients, orders=args.orders)
                finally:
                    await db.dispose()
            print(json.dumps(result), flush=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--orders", type=int, default=1920, help="orders per variant (a multiple of --clients)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
