"""The ``boxoffice`` command: serve, migrate, worker, apikey, user, demo, secret."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import signal
import sys
import tempfile
import types
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from boxoffice import heap
from boxoffice import migrate as migrations
from boxoffice.cli_accounts import apikey_app, user_app
from boxoffice.settings import Settings, get_settings

if TYPE_CHECKING:
    from boxoffice.web.metrics_port import MetricsListener

app = typer.Typer(help="Boxoffice: event ticketing.", no_args_is_help=True, add_completion=False)
app.add_typer(apikey_app, name="apikey")
app.add_typer(user_app, name="user")

DEMO_ORGANIZER = "demo-organizer@example.com"
DEMO_TITLE = "Boxoffice Demo Night"


def _settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # pydantic's message names the variable at fault
        typer.echo(f"Configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Uvicorn worker processes (PostgreSQL only for more than one).")] = 1,
) -> None:
    """Run the HTTP service with Uvicorn (an embedded SQLite database is migrated on first start)."""
    if "BOXOFFICE_PUBLIC_URL" not in os.environ:
        os.environ["BOXOFFICE_PUBLIC_URL"] = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        get_settings.cache_clear()
    settings = _settings()
    sandboxed = _check_stripe(settings)
    if workers > 1 and sandboxed:
        # Each worker would mount a sandbox of its own (its own key, sessions and webhooks), and a Stripe call would
        # land on whichever worker takes the connection: refused rather than half working.
        typer.echo(
            "Several workers cannot share the in-process Stripe sandbox. Run it apart and point every worker at it:\n"
            "  boxoffice sandbox --port 12111 --api-key sk_test_local --webhook-secret whsec_local "
            f"--webhook-url http://127.0.0.1:{port}/webhooks/stripe &\n"
            "  STRIPE_SECRET_KEY=sk_test_local STRIPE_WEBHOOK_SECRETS=whsec_local "
            f"STRIPE_API_BASE=http://127.0.0.1:12111 boxoffice serve --workers {workers}",
            err=True,
        )
        raise typer.Exit(2)
    if workers > 1 and settings.is_sqlite:
        typer.echo("Several workers need PostgreSQL (BOXOFFICE_DATABASE_URL); SQLite serves one process.", err=True)
        raise typer.Exit(2)
    if settings.metrics_port is not None and settings.metrics_port == port:
        typer.echo(f"BOXOFFICE_METRICS_PORT must differ from the service's port ({port}).", err=True)
        raise typer.Exit(2)
    if not settings.is_sqlite:
        asyncio.run(migrations.upgrade(settings.database_dsn))
    _share_metrics(workers, settings)
    listener = _metrics_listener(settings)
    try:
        _run_uvicorn(host, port, workers, settings)
    finally:
        if listener is not None:
            listener.stop()


@contextmanager
def _main_not_rerun_in_workers() -> Iterator[None]:
    """Uvicorn starts its workers with multiprocessing's ``spawn``, which first runs the parent's main module again in
    each of them (as ``__mp_main__``): this CLI, Typer and what they import, 1.5 MB per web worker that it never uses
    (a worker is handed the app's import string). While inside, ``__main__`` is an empty module, which ``spawn``
    leaves alone; the real one is back on the way out. Only with several workers: one is served in this process."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _run_uvicorn(host: str, port: int, workers: int, settings: Settings) -> None:
    import uvicorn

    from boxoffice.web.serving import WS_PROTOCOL

    with _main_not_rerun_in_workers() if workers > 1 else nullcontext():
        uvicorn.run(
            "boxoffice.web.app:serve_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # The client address is the socket peer, or BOXOFFICE_TRUSTED_PROXY_HEADER (web/clients.py): Uvicorn's own
            # X-Forwarded-For handling would let any client on a trusted IP choose its address for the order limits.
            proxy_headers=False,
            log_level=settings.log_level.lower(),
            access_log=False,
            server_header=False,  # no "server: uvicorn" banner
            ws=WS_PROTOCOL,  # Uvicorn's own, imported on a first upgrade request, not in every worker (web/serving.py)
            # Live streams (SSE) never end by themselves: on shutdown, give requests this long, then close what is left.
            timeout_graceful_shutdown=10,
        )


def _metrics_listener(settings: Settings) -> MetricsListener | None:
    """With BOXOFFICE_METRICS_PORT, /metrics without a token on 127.0.0.1:<port>, from this process (after
    ``_share_metrics``: with several workers it reads their shared folder). Exits when the port is taken."""
    if settings.metrics_port is None:
        return None
    from boxoffice.web.metrics_port import MetricsListener, bind

    try:
        sock = bind(settings.metrics_port)
    except OSError as exc:
        typer.echo(f"BOXOFFICE_METRICS_PORT: cannot listen on 127.0.0.1:{settings.metrics_port} ({exc})", err=True)
        raise typer.Exit(2) from None
    listener = MetricsListener(settings.database_dsn, sock, log_level=settings.log_level).start()
    typer.echo(f"metrics on http://127.0.0.1:{settings.metrics_port}/metrics (no token: this host only)", err=True)
    return listener


def _share_metrics(workers: int, settings: Settings) -> None:
    """Several workers answer /metrics with every worker's figures: prometheus_client's multiprocess mode, in a
    folder made for this run (removed at exit) unless PROMETHEUS_MULTIPROC_DIR names one. The workers are processes
    spawned after this, so they see the variable from their start (README, "Metrics and alerts")."""
    served = settings.metrics_token is not None or settings.metrics_port is not None
    if workers < 2 or not served or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    folder = tempfile.mkdtemp(prefix="boxoffice-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


def _check_stripe(settings: Settings) -> bool:
    """Exit on a bad Stripe configuration; True when payments go to the in-process sandbox."""
    from boxoffice.payments.keys import StripeConfigError, load_stripe_config

    try:
        config = load_stripe_config(settings)
    except StripeConfigError as exc:
        typer.echo(f"Stripe configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    if config.is_sandbox:
        typer.echo("Stripe: sandbox mode (no STRIPE_SECRET_KEY): payments go to the local Stripe sandbox.", err=True)
    else:
        typer.echo(f"Stripe: {config.mode} mode.", err=True)
    return config.is_sandbox


@app.command()
def secret() -> None:
    """Print a new random BOXOFFICE_SECRET_KEY (256 bits, URL-safe), e.g. BOXOFFICE_SECRET_KEY=$(boxoffice secret)."""
    import secrets

    typer.echo(secrets.token_urlsafe(32))


@app.command()
def migrate() -> None:
    """Apply every pending schema migration."""
    settings = _settings()
    asyncio.run(migrations.upgrade(settings.database_dsn))
    typer.echo(f"database at revision {migrations.head_revision()}")


@app.command()
def worker() -> None:
    """Run the outbox (pub/sub, emails) and the hold sweeper apart from the web processes."""
    from boxoffice.container import Boxoffice
    from boxoffice.logs import configure_logging

    settings = _settings()
    _check_stripe(settings)
    configure_logging(settings.log_level)

    async def run() -> None:
        box = Boxoffice(settings)
        if settings.is_sqlite:
            await migrations.upgrade(settings.database_dsn)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await box.start(run_worker=True)
        heap.settle()
        typer.echo("worker running: outbox, emails, hold expiry (Ctrl-C to stop)", err=True)
        await stop.wait()
        await box.stop()

    asyncio.run(run())


@apikey_app.command("create")
def apikey_create(
    organizer: Annotated[str, typer.Option("--organizer", help="The organizer's email (created when new).")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
) -> None:
    """Create an API key for an organizer. The key is printed once, alone on the last line."""
    settings = _settings()

    async def run() -> str:
        from boxoffice.accounts.service import create_api_key
        from boxoffice.db import Database

        db = Database(settings.database_dsn)
        try:
            if settings.is_sqlite:
                await migrations.upgrade(settings.database_dsn)
            key, raw = await create_api_key(db, organizer, name=name)
            typer.echo(f"API key {key.prefix}... created for {organizer}. Store it now: it is not shown again.")
            return raw
        finally:
            await db.dispose()

    typer.echo(asyncio.run(run()))


@app.command()
def demo() -> None:
    """Create a demo organizer and event (fixed, pay-what-you-want and dynamic tickets, a hidden Crew ticket, a 20 %
    voucher and an access code) and its owner user; print URLs, the codes, the owner's link to set a password and
    sign in, and an API key (on the last line)."""
    settings = _settings()

    async def run() -> None:
        from sqlalchemy import select

        from boxoffice.accounts.roles import Role
        from boxoffice.accounts.service import create_api_key
        from boxoffice.accounts.users import password_link, user_with_membership
        from boxoffice.checkin.devices import create_device
        from boxoffice.checkin.lists import ensure_default_list
        from boxoffice.checkin.rules import Scanner
        from boxoffice.db import Database
        from boxoffice.demo_codes import ensure_demo_codes
        from boxoffice.events import service as events
        from boxoffice.events.models import Event
        from boxoffice.ticketing.ticket_types import create_ticket_type

        db = Database(settings.database_dsn)
        try:
            await migrations.upgrade(settings.database_dsn)
            async with db.read() as session:
                organizer = await events.find_person(session, DEMO_ORGANIZER)
                existing = None
                if organizer is not None:
                    existing = (
                        await session.scalars(
                            select(Event).where(Event.organizer_id == organizer.id, Event.title == DEMO_TITLE)
                        )
                    ).first()
            if existing is None or existing.ends_at < datetime.now(UTC):
                start = (datetime.now(UTC) + timedelta(days=21)).replace(hour=18, minute=0, second=0, microsecond=0)
                event = await events.create_event(
                    db,
                    DEMO_ORGANIZER,
                    events.EventInput(
                        title=DEMO_TITLE,
                        description="Live music, a pay-what-you-want supporter tier, and early-bird prices.",
                        starts_at=start,
                        ends_at=start + timedelta(hours=5),
                        timezone="Europe/Berlin",
                        venue_name="Demo Hall",
                        venue_address="Am Spreeufer 1\n10178 Berlin",
                    ),
                    organizer_name="Demo Organizer",
                )
                await create_ticket_type(
                    db,
                    event.id,
                    {
                        "title": "General admission",
                        "base_price_cents": 2500,
                        "currency": "eur",
                        "quantity": 200,
                        "max_per_order": 10,
                        "position": 1,
                    },
                )
                await create_ticket_type(
                    db,
                    event.id,
                    {
                        "title": "Supporter (pay what you want)",
                        "pricing_model": "flexible",
                        "currency": "eur",
                        "minimum_price_cents": 1000,
                        "suggested_price_cents": 3500,
                        "quantity": 50,
                        "tippable": True,
                        "description": "Pay what you can; everything above the minimum supports the artists.",
                        "position": 2,
                    },
                )
                await create_ticket_type(
                    db,
                    event.id,
                    {
                        "title": "Early bird",
                        "pricing_model": "dynamic",
                        "currency": "eur",
                        "quantity": 100,
                        "price_tiers": [
                            {"price_cents": 1500, "up_to": 20},
                            {"price_cents": 2000, "up_to": 60},
                            {"price_cents": 2200},
                        ],
                        "description": "The first 20 at 15 EUR, the next 40 at 20 EUR, then 22 EUR.",
                        "position": 3,
                    },
                )
            else:
                event = existing
            await ensure_default_list(db, event.id)
            code_lines = await ensure_demo_codes(db, event.id, settings.public_url.rstrip("/"))
            door = await create_device(
                db, event.id, "Demo door", Scanner(organizer_id=event.organizer_id, can_undo=True, can_manage=True)
            )
            _, raw = await create_api_key(db, DEMO_ORGANIZER, name="demo")
            _, _, link = await user_with_membership(
                db, DEMO_ORGANIZER, DEMO_ORGANIZER, Role.OWNER, settings.secret_bytes
            )
        finally:
            await db.dispose()
        base = settings.public_url.rstrip("/")
        typer.echo(f"Demo event:     {base}/e/{event.id}")
        for line in code_lines:
            typer.echo(line)
        typer.echo(f"Console:        {base}/manage (sign in as {DEMO_ORGANIZER}, an owner)")
        typer.echo(f"Set a password: {password_link(base, link)} (once, within 24 hours; then sign in)")
        typer.echo(f"API docs:       {base}/docs")
        typer.echo(f"Organizer API:  curl -H 'Authorization: Bearer <key>' {base}/api/v1/events/{event.id}/orders")
        typer.echo(f"Door scanner:   {base}/door/#list={door.device.list_id}&token={door.token}")
        typer.echo(f"Organizer:      {DEMO_ORGANIZER}")
        typer.echo("Organizer API key (shown once):")
        typer.echo(raw)

    asyncio.run(run())


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 12111,
    api_key: Annotated[list[str], typer.Option("--api-key", help="An accepted secret key (repeatable).")] = [],  # noqa: B006
    webhook_url: Annotated[str | None, typer.Option(help="Where to deliver signed webhooks.")] = None,
    webhook_secret: Annotated[list[str], typer.Option("--webhook-secret", help="Signing secret (repeatable).")] = [],  # noqa: B006
    checkout_latency_ms: Annotated[int, typer.Option(help="Delay before answering a Checkout Session create.")] = 0,
) -> None:
    """Run the local Stripe sandbox on its own (point STRIPE_API_BASE at it). A test tool: never expose it."""
    from contextlib import asynccontextmanager

    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from boxoffice.sandbox import Sandbox, SandboxConfig, create_sandbox_app

    keys = set(api_key) or {"sk_test_sandbox"}
    state = Sandbox(
        SandboxConfig(
            api_keys=keys,
            public_url=f"http://{host}:{port}",
            webhook_url=webhook_url,
            webhook_secrets=list(webhook_secret),
        )
    )
    state.faults.checkout_latency_ms = checkout_latency_ms

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await state.start()
        yield
        await state.stop()

    server = Starlette(routes=[Mount("/", create_sandbox_app(state))], lifespan=lifespan)
    typer.echo(
        f"Stripe sandbox on http://{host}:{port} (keys: {len(keys)}, webhooks: {webhook_url or 'off'})", err=True
    )
    uvicorn.run(server, host=host, port=port, log_level="warning", access_log=False, server_header=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
