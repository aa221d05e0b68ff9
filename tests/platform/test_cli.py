"""The boxoffice command: migrate, apikey create (the key alone on the last line), demo, and refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from boxoffice.accounts.service import authenticate
from boxoffice.db import Database
from boxoffice.events.service import get_public_event
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.ticket_types import list_ticket_types
from boxoffice.ticketing.voucher_codes import list_vouchers

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration  # the command in child processes, on databases of their own


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
    pairing = next(line for line in lines if line.startswith("Door scanner:")).split()[-1]
    assert pairing.startswith("http://127.0.0.1:8111/door/#list=cl_") and "&token=bodev_" in pairing
    db = Database(url)
    try:
        assert (await authenticate(db, key)).email_normalized == "org@example.com"
        assert (await authenticate(db, lines[-1])).email_normalized == "demo-organizer@example.com"
        event_id = event_url.rsplit("/", 1)[-1]
        types = await list_ticket_types(db, event_id)
        assert sorted((t.pricing_model, t.hidden) for t in types) == [
            ("dynamic", False),
            ("fixed", False),
            ("fixed", True),  # Crew: shown with the access code
            ("flexible", False),
        ]
        codes = {v.code: v for v in await list_vouchers(db, event_id)}
        assert codes["MEMBERS20"].discount == {"percent": 20}
        assert codes["CREW"].unlocks == [next(t.id for t in types if t.hidden)]
        assert f"{event_url}?voucher=MEMBERS20" in demo.stdout and f"{event_url}?voucher=CREW" in demo.stdout
        shown = await get_public_event(db, event_url.rsplit("/", 1)[-1])  # published: buyers see it
        assert shown.status == "published" and shown.venue_name == "Demo Hall"
    finally:
        await db.dispose()
    again = run("demo", env=env)
    assert event_url in again.stdout and "voucher=CREW" in again.stdout  # the demo event is reused, with a fresh key
    db = Database(url)
    try:
        assert len(await list_vouchers(db, event_id)) == 2 and len(await list_ticket_types(db, event_id)) == 4
    finally:
        await db.dispose()


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


def test_serve_refuses_several_workers_on_the_in_process_sandbox(tmp_path: Path) -> None:
    """Each worker would get a sandbox of its own and a Stripe call would land on any of them: refused with the
    commands that run the sandbox apart (PostgreSQL, so that the refusal is about the sandbox)."""
    env = {
        "BOXOFFICE_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/none",
        "STRIPE_SECRET_KEY": "",
        "BOXOFFICE_ENV": "development",
    }
    refused = run("serve", "--port", "8123", "--workers", "2", env=env)
    assert refused.returncode == 2
    assert "cannot share the in-process Stripe sandbox" in refused.stderr
    assert (
        "boxoffice sandbox --port 12111" in refused.stderr
        and "STRIPE_API_BASE=http://127.0.0.1:12111" in refused.stderr
    )


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
        order = await reserve(db, order_request(event.id, (tt.id, 1), email="worker@example.com"))
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


def test_secret_prints_a_new_key_that_production_accepts() -> None:
    from boxoffice.settings import Settings

    first, second = run("secret", env={}), run("secret", env={})
    assert first.returncode == 0 and second.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert len(key.encode()) >= 32 and key != second.stdout.strip() and "\n" not in key
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, env="production", secret_key=key, stripe_secret_key="sk_test_abcdefghijklmnop"
    )
    assert settings.secret_bytes == key.encode()


def test_production_start_refuses_unsafe_configurations(tmp_path: Path) -> None:
    safe = {
        "BOXOFFICE_ENV": "production",
        "BOXOFFICE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'prod.db'}",
        "BOXOFFICE_SECRET_KEY": "a-production-secret-of-at-least-32-bytes-0123456789",
        "STRIPE_SECRET_KEY": "sk_test_abcdefghijklmnop",
        "STRIPE_WEBHOOK_SECRETS": "whsec_abcdefghijkl",
    }
    unsafe = {
        "no Stripe key": ({"STRIPE_SECRET_KEY": "", "STRIPE_WEBHOOK_SECRETS": ""}, "STRIPE_SECRET_KEY is required"),
        "no key, API base set": (
            {"STRIPE_SECRET_KEY": "", "STRIPE_API_BASE": "http://127.0.0.1:8000/_sandbox/stripe"},
            "STRIPE_SECRET_KEY is required",
        ),
        "API base at the in-process sandbox": (
            {"STRIPE_API_BASE": "http://127.0.0.1:8000/_sandbox/stripe"},
            "STRIPE_API_BASE points at the in-process Stripe sandbox",
        ),
        "default secret": ({"BOXOFFICE_SECRET_KEY": ""}, "BOXOFFICE_SECRET_KEY is the public development default"),
        "short secret": ({"BOXOFFICE_SECRET_KEY": "too-short-SECRET-value"}, "shorter than 32 bytes"),
    }
    for name, (change, message) in unsafe.items():
        env = {**safe, **change}
        if env["BOXOFFICE_SECRET_KEY"] == "":
            del env["BOXOFFICE_SECRET_KEY"]
        for command in (["serve", "--port", "1"], ["worker"]):
            refused = run(*command, env=env)
            assert refused.returncode == 2, (name, command, refused.stderr)
            assert message in refused.stderr, (name, command, refused.stderr)
            out = refused.stderr + refused.stdout
            assert "too-short-SECRET-value" not in out and "sk_test_abcdefghijklmnop" not in out, name


async def test_a_production_server_never_serves_the_sandbox(tmp_path: Path) -> None:
    import httpx

    from tests.processes import Proc, free_port, wait_up

    port = free_port()
    env = {
        "BOXOFFICE_ENV": "production",
        "BOXOFFICE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'prod.db'}",
        "BOXOFFICE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "BOXOFFICE_SECRET_KEY": "a-production-secret-of-at-least-32-bytes-0123456789",
        "BOXOFFICE_MAIL_DIR": str(tmp_path / "mail"),
        "STRIPE_SECRET_KEY": "sk_test_abcdefghijklmnop",
        "STRIPE_WEBHOOK_SECRETS": "whsec_abcdefghijkl",
        "STRIPE_API_BASE": "http://127.0.0.1:9",  # a standalone Stripe double elsewhere (never called here)
    }
    server = Proc(["-m", "boxoffice.cli", "serve", "--port", str(port)], env, tmp_path / "serve.log").start()
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_up(f"{base}/healthz")
        async with httpx.AsyncClient(base_url=base) as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["checks"]["stripe"] == "ok (test mode)", ready.text
            for path in ("/_sandbox/stripe/_sandbox/sessions", "/_sandbox/stripe/_sandbox/faults"):
                assert (await client.get(path)).status_code == 404
    finally:
        server.stop()
