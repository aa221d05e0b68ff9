"""Health, readiness and the Stripe webhook endpoint."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

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


@router.get("/readyz", tags=["system"], summary="Ready: database reachable, migrations current, Stripe accepted")
async def readyz(request: Request) -> JSONResponse:
    box = app_of(request)
    checks: dict[str, str] = {}
    try:
        async with box.db.read() as session:
            await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
        checks["migrations"] = "ok" if await migrate.is_current(box.db.url) else "pending: run boxoffice migrate"
    except Exception as exc:  # the point of this endpoint is to report, not raise
        checks["database"] = f"unreachable ({type(exc).__name__})"
        checks["migrations"] = "unknown"
    if box.gateway.key_rejected:
        checks["stripe"] = f"key rejected by Stripe ({box.stripe.mode} mode)"
    else:
        checks["stripe"] = f"ok ({box.stripe.mode} mode)"
    checks["pubsub"] = "ok" if box.broker.healthy else "degraded (live updates paused; sales unaffected)"
    ready = all(v.startswith("ok") for k, v in checks.items() if k != "pubsub")
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.post("/webhooks/stripe", tags=["payments"], summary="Stripe webhook endpoint", include_in_schema=False)
async def stripe_webhook(request: Request) -> JSONResponse:
    box = app_of(request)
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        return problem(413, "too-large", "Payload too large", "webhook body too large")
    try:
        outcome = await box.webhooks.receive(body, request.headers.get("stripe-signature"))
    except SignatureError as exc:
        log.warning("webhook signature rejected: %s", exc)
        return problem(400, "bad-signature", "Invalid signature", str(exc))
    except LivemodeMismatch as exc:  # logged once per event by the processor, not at every retry
        return problem(400, "livemode-mismatch", "Event mode does not match the Stripe key", str(exc))
    except ValueError as exc:
        return problem(400, "bad-webhook", "Invalid webhook", str(exc))
    return JSONResponse({"received": True, "event": outcome.event_id, "outcome": outcome.outcome})
