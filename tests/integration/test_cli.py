"""The boxoffice command: migrate, apikey create (the key alone on the last line), demo, and refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from boxoffice.accounts.service import authenticate
from boxoffice.db import Database
from boxoffice.ticketing import service as ticketing

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "boxoffice.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_migrate_apikey_and_demo(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = {"BOXOFFICE_DATABASE_URL": url, "BOXOFFICE_PUBLIC_URL": "http://127.0.0.1:8111"}
    migrated = run("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "database at revision" in migrated.stdout
    created = run("apikey", "create", "--organizer", "Org@Example.com", "--name", "ci", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("bo_") and " " not in key
    demo = run("demo", env=env)
    assert demo.returncode == 0, demo.stderr
    lines = demo.stdout.strip().splitlines()
    event_url = next(line for line in lines if line.startswith("Demo event:")).split()[-1]
    assert event_url.startswith("http://127.0.0.1:8111/e/ev_")
    db = Database(url)
    try:
        assert (await authenticate(db, key)).email_normalized == "org@example.com"
        assert (await authenticate(db, lines[-1])).email_normalized == "demo-organizer@example.com"
        types = await ticketing.list_ticket_types(db, event_url.rsplit("/", 1)[-1])
        assert sorted(t.pricing_model for t in types) == ["dynamic", "fixed", "flexible"]
    finally:
        await db.dispose()
    again = run("demo", env=env)
    assert event_url in again.stdout  # the demo event is reused, with a fresh key


def test_serve_refuses_bad_stripe_configuration(tmp_path: Path) -> None:
    env = {
        "BOXOFFICE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        "STRIPE_SECRET_KEY": "sk_live_abcdefghijklmnop",
    }
    refused = run("serve", "--port", "1", env={**env, "STRIPE_WEBHOOK_SECRETS": "whsec_abcdefghijkl"})
    assert refused.returncode == 2
    assert "live key but BOXOFFICE_ENV is not 'production'" in refused.stderr
    assert "sk_live_abcdefghijklmnop" not in refused.stderr + refused.stdout
    malformed = run("serve", "--port", "1", env={**env, "STRIPE_SECRET_KEY": "nope"})
    assert malformed.returncode == 2 and "malformed" in malformed.stderr


async def test_worker_runs_the_outbox_and_emails_apart_from_the_web(tmp_path: Path) -> None:
    from boxoffice import migrate
    from tests.helpers import eventually, make_event, make_ticket, order_request
    from tests.processes import Proc

    url = f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}"
    await migrate.upgrade(url)
    db = Database(url)
    try:
        event = await make_event(db)
        tt = await make_ticket(db, event.id, base_price_cents=0, quantity=3)
        order = await ticketing.reserve(db, order_request(event.id, (tt.id, 1), email="worker@example.com"))
        assert order.status == "confirmed"
        mail = tmp_path / "mail"
        worker = Proc(
            ["-m", "boxoffice.cli", "worker"],
            {"BOXOFFICE_DATABASE_URL": url, "BOXOFFICE_MAIL_DIR": str(mail)},
            tmp_path / "worker.log",
        ).start()
        try:

            async def emailed() -> bool:
                return any(order.id in p.name for p in mail.glob("*.eml"))

            await eventually(emailed, timeout=30)
        finally:
            worker.stop()
    finally:
        await db.dispose()
