"""Health, readiness and the Stripe webhook endpoint."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice import migrate
from boxoffice.container import Boxoffice
from boxoffice.payments.webhooks import LivemodeMismatch, SignatureError
from boxoffice.web.problems import problem

log = logging.getLogger("boxoffice.http")
router = APIRouter()
MAX_WEBHOOK_BYTES = 512 * 1024


def app_of(request: Request) -> Boxoffice:
    box: Boxoffice = request.app.state.box
    return box


@router.get("/healthz", tags=["system"], summary="Alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


READY_CACHE_SECONDS = 2.0


class Readiness:
    """``/readyz``'s answer. What costs a database round trip (the database and migration checks) is computed at
    most once per ``ttl`` seconds however often it is asked (load balancers and orchestrators poll it; concurrent
    callers share one computation); the Stripe key and pub/sub states are flags in memory, read fresh each time.

    The database check runs on a connection of the service's own pool. The migration scripts are read once (the head
    revision does not change while the process runs) and the database's revision is read until it is current, then
    no more: migrations are applied before a release starts, never behind a running one's back."""

    def __init__(self, box: Boxoffice, *, ttl: float = READY_CACHE_SECONDS) -> None:
        self.box = box
        self.ttl = ttl
        self.clock: Callable[[], float] = time.monotonic
        self._head: str | None = None
        self._migrations_current = False
        self._database: tuple[float, dict[str, str]] | None = None
        self._lock = asyncio.Lock()

    async def warm(self) -> None:
        """Check the migrations once at start (a failure is reported by the first ``/readyz`` instead)."""
        try:
            async with self.box.db.read() as session:
                await self._check_migrations(session)
        except Exception:
            log.warning("could not check the migrations at start; /readyz will tell", exc_info=True)

    async def answer(self) -> tuple[int, dict[str, Any]]:
        box = self.box
        checks = dict(await self._database_checks())
        if box.gateway.key_rejected:
            checks["stripe"] = f"key rejected by Stripe ({box.stripe.mode} mode)"
        else:
            checks["stripe"] = f"ok ({box.stripe.mode} mode)"
        checks["pubsub"] = "ok" if box.broker.healthy else "degraded (live updates paused; sales unaffected)"
        ready = all(v.startswith("ok") for k, v in checks.items() if k != "pubsub")
        return (200 if ready else 503), {"status": "ready" if ready else "not ready", "checks": checks}

    async def _database_checks(self) -> dict[str, str]:
        cached = self._fresh()
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._fresh()  # another caller may have checked while this one waited
            if cached is not None:
                return cached
            checks = await self._check_database()
            self._database = (self.clock(), checks)
            return checks

    def _fresh(self) -> dict[str, str] | None:
        if self._database is None:
            return None
        at, checks = self._database
        return checks if self.clock() - at < self.ttl else None

    async def _check_migrations(self, session: AsyncSession) -> bool:
        if not self._migrations_current:
            if self._head is None:
                self._head = migrate.head_revision()
            self._migrations_current = await migrate.revision_on(await session.connection()) == self._head
        return self._migrations_current

    async def _check_database(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            async with self.box.db.read() as session:
                await session.execute(text("SELECT 1"))
                checks["database"] = "ok"
                try:
                    current = await self._check_migrations(session)
                    checks["migrations"] = "ok" if current else "pending: run boxoffice migrate"
                except Exception as exc:
                    checks["migrations"] = f"unknown ({type(exc).__name__})"
        except Exception as exc:  # the point of this endpoint is to report, not raise
            checks["database"] = f"unreachable ({type(exc).__name__})"
            checks.setdefault("migrations", "unknown")
        return checks


def readiness_of(app: FastAPI) -> Readiness:
    """The app's one ``Readiness`` (made on first use)."""
    if getattr(app.state, "readiness", None) is None:
        app.state.readiness = Readiness(app.state.box)
    readiness: Readiness = app.state.readiness
    return readiness


@router.get("/readyz", tags=["system"], summary="Ready: database reachable, migrations current, Stripe accepted")
async def readyz(request: Request) -> JSONResponse:
    status, body = await readiness_of(request.app).answer()
    return JSONResponse(body, status_code=status)


@router.post("/webhooks/stripe", tags=["payments"], summary="Stripe webhook endpoint", include_in_schema=False)
async def stripe_webhook(request: Request) -> JSONResponse:
    box = app_of(request)
    body = bytearray()
    async for chunk in request.stream():  # counted as it arrives: an oversized body is never held whole
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            return problem(413, "too-large", "Payload too large", "webhook body too large")
    try:
        outcome = await box.webhooks.receive(bytes(body), request.headers.get("stripe-signature"))
    except SignatureError as exc:
        log.warning("webhook signature rejected: %s", exc)
        return problem(400, "bad-signature", "Invalid signature", str(exc))
    except LivemodeMismatch as exc:  # logged once per event by the processor, not at every retry
        return problem(400, "livemode-mismatch", "Event mode does not match the Stripe key", str(exc))
    except ValueError as exc:
        return problem(400, "bad-webhook", "Invalid webhook", str(exc))
    return JSONResponse({"received": True, "event": outcome.event_id, "outcome": outcome.outcome})
