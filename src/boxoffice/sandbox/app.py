"""The sandbox over HTTP: Stripe's ``/v1`` API (form-encoded in, JSON out), the hosted checkout page under
``/pay/{id}``, and a JSON control API under ``/_sandbox/``.

The control API has NO authentication: the sandbox is a test tool and must never be exposed in production.
Every link is built from ``SandboxConfig.public_url``, so the app works mounted under a path prefix.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from boxoffice.sandbox import page
from boxoffice.sandbox.errors import SandboxError, api_error
from boxoffice.sandbox.forms import FormError, parse_form
from boxoffice.sandbox.idempotency import fingerprint
from boxoffice.sandbox.objects import RequestRef, list_object, request_id
from boxoffice.sandbox.state import Sandbox
from boxoffice.sandbox.validation import integer

log = logging.getLogger("boxoffice.sandbox")
DEFAULT_LIMIT = 10
MAX_LIMIT = 100


@dataclass(frozen=True)
class ApiCall:
    request: Request
    params: dict[str, Any]
    ref: RequestRef

    @property
    def object_id(self) -> str:
        return str(self.request.path_params["id"])

    @property
    def expand(self) -> list[str]:
        value = self.params.get("expand") or []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]


Handler = Callable[[ApiCall], Awaitable[dict[str, Any]]]


class RequestIdMiddleware:
    """Gives every response a ``Request-Id`` header (API handlers set their own, used in ``event.request``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"request-id" for name, _ in headers):
                    headers.append((b"request-id", request_id().encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def api_key_of(request: Request) -> str | None:
    """The key from ``Authorization: Bearer <key>`` or HTTP Basic with the key as user name."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            user = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user or None
    return None


def _json(body: dict[str, Any], status: int, req_id: str, *, replayed: bool = False) -> JSONResponse:
    headers = {"Request-Id": req_id, "Stripe-Version": "2026-10-28.endive"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status_code=status, headers=headers)


def _error(exc: SandboxError, req_id: str) -> JSONResponse:
    return _json(exc.body(), exc.status, req_id)


def paginate(items: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
    """A list object page: ``limit`` (1-100), ``starting_after`` / ``ending_before`` cursors, newest first."""
    limit = DEFAULT_LIMIT
    if params.get("limit") not in (None, ""):
        limit = integer(params["limit"], "limit")
        if not 1 <= limit <= MAX_LIMIT:
            raise SandboxError(
                400,
                f"Invalid limit: must be between 1 and {MAX_LIMIT}",
                code="parameter_invalid_integer",
                param="limit",
            )
    ids = [item["id"] for item in items]
    for cursor in ("starting_after", "ending_before"):
        value = params.get(cursor)
        if value and value not in ids:
            raise SandboxError(400, f"No such object: '{value}'", code="resource_missing", param=cursor)
    if params.get("starting_after"):
        rest = items[ids.index(params["starting_after"]) + 1 :]
        return list_object(rest[:limit], url, has_more=len(rest) > limit)
    if params.get("ending_before"):
        before = items[: ids.index(params["ending_before"])]
        return list_object(before[-limit:], url, has_more=len(before) > limit)
    return list_object(items[:limit], url, has_more=len(items) > limit)


def _created_filter(value: Any) -> Callable[[int], bool] | None:
    """``created=<ts>`` or ``created[gt|gte|lt|lte]=<ts>``."""
    if value in (None, ""):
        return None
    if not isinstance(value, dict):
        exact = integer(value, "created")
        return lambda ts: ts == exact
    bounds = {op: integer(v, f"created[{op}]") for op, v in value.items()}
    checks: dict[str, Callable[[int, int], bool]] = {
        "gt": lambda ts, b: ts > b,
        "gte": lambda ts, b: ts >= b,
        "lt": lambda ts, b: ts < b,
        "lte": lambda ts, b: ts <= b,
    }
    for op in bounds:
        if op not in checks:
            raise SandboxError(400, f"Received unknown parameter: created[{op}]", code="parameter_unknown")
    return lambda ts: all(checks[op](ts, bound) for op, bound in bounds.items())


def create_sandbox_app(sandbox: Sandbox) -> Starlette:
    """The sandbox's ASGI app, to serve or to mount. Lifespan-free: the owner calls ``sandbox.start/stop``."""
    faults = sandbox.faults

    def line_items_url(session_id: str) -> str:
        return f"/v1/checkout/sessions/{session_id}/line_items"

    def expanded(obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
        result = copy.deepcopy(obj)
        for path in paths:
            node = result
            parts = path.split(".")
            for depth, field in enumerate(parts):
                if field == "line_items" and node.get("object") == "checkout.session" and depth == len(parts) - 1:
                    items = sandbox.line_items[node["id"]]
                    node["line_items"] = list_object(copy.deepcopy(items), line_items_url(node["id"]), has_more=False)
                    break
                value = node.get(field)
                if isinstance(value, str) and (target := sandbox.find(value)) is not None:
                    value = node[field] = copy.deepcopy(target)
                if value is None and field in node:
                    break  # an empty expandable field stays null
                if not isinstance(value, dict):
                    raise SandboxError(400, f"This property cannot be expanded ({path}).", param="expand")
                node = value
        return result

    # -- API handlers -------------------------------------------------------------------------------------------

    async def create_session(call: ApiCall) -> dict[str, Any]:
        session = sandbox.create_session(call.params)
        if faults.checkout_latency_ms:
            await asyncio.sleep(faults.checkout_latency_ms / 1000)
        return expanded(session, call.expand)

    async def list_sessions(call: ApiCall) -> dict[str, Any]:
        details = call.params.get("customer_details")
        sessions = sandbox.list_sessions(
            status=call.params.get("status") or None,
            payment_intent=call.params.get("payment_intent") or None,
            customer_email=details.get("email") if isinstance(details, dict) else None,
            created=_created_filter(call.params.get("created")),
        )
        listed = paginate(sessions, call.params, "/v1/checkout/sessions")
        listed["data"] = [expanded(s, [p.removeprefix("data.") for p in call.expand]) for s in listed["data"]]
        return listed

    async def retrieve_session(call: ApiCall) -> dict[str, Any]:
        return expanded(sandbox.session(call.object_id), call.expand)

    async def expire_session(call: ApiCall) -> dict[str, Any]:
        return expanded(await sandbox.expire_session(call.object_id, call.ref), call.expand)

    async def list_line_items(call: ApiCall) -> dict[str, Any]:
        session = sandbox.session(call.object_id)
        return paginate(copy.deepcopy(sandbox.line_items[session["id"]]), call.params, line_items_url(session["id"]))

    async def retrieve_payment_intent(call: ApiCall) -> dict[str, Any]:
        return expanded(sandbox.payment_intent(call.object_id), call.expand)

    async def retrieve_charge(call: ApiCall) -> dict[str, Any]:
        return expanded(sandbox.charge(call.object_id), call.expand)

    async def create_refund(call: ApiCall) -> dict[str, Any]:
        return expanded(sandbox.create_refund(call.params, call.ref), call.expand)

    async def retrieve_refund(call: ApiCall) -> dict[str, Any]:
        return expanded(sandbox.refund(call.object_id), call.expand)

    async def retrieve_event(call: ApiCall) -> dict[str, Any]:
        return copy.deepcopy(sandbox.event(call.object_id))

    async def run(handler: Handler, call: ApiCall) -> tuple[int, dict[str, Any], bool]:
        """Status, body, and whether an idempotent request stores it (not for 4xx: validation failures)."""
        try:
            return 200, await handler(call), True
        except SandboxError as exc:
            return exc.status, exc.body(), exc.status >= 500
        except Exception:
            log.exception("sandbox endpoint %s failed", call.request.url.path)
            return 500, api_error().body(), True

    def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            req_id = request_id()
            try:
                key = sandbox.check_key(api_key_of(request))
                if faults.hang_next > 0:
                    faults.hang_next -= 1
                    await asyncio.sleep(faults.hang_seconds)
                if faults.fail_next > 0:  # before the endpoint starts: nothing is stored, a retry can succeed
                    faults.fail_next -= 1
                    raise api_error(faults.fail_status)
                raw = await request.body() if request.method == "POST" else request.url.query.encode()
                params = parse_form(raw)
            except SandboxError as exc:
                return _error(exc, req_id)
            except (FormError, UnicodeDecodeError) as exc:
                return _error(SandboxError(400, f"Invalid request: {exc}"), req_id)
            idempotency_key = request.headers.get("idempotency-key") if request.method == "POST" else None
            call = ApiCall(request, params, RequestRef(req_id, idempotency_key))
            if not idempotency_key:
                status, body, _ = await run(handler, call)
                return _json(body, status, req_id)
            slot = (key, idempotency_key)
            identity = fingerprint(request.method, request.url.path, params)
            try:
                stored = sandbox.idempotency.begin(slot, identity)
            except SandboxError as exc:
                return _error(exc, req_id)
            if stored is not None:
                return _json(stored.body, stored.status, req_id, replayed=True)
            try:
                status, body, keep = await run(handler, call)
            except BaseException:
                sandbox.idempotency.release(slot)
                raise
            if keep:
                sandbox.idempotency.finish(slot, identity, status, body)
            else:
                sandbox.idempotency.release(slot)
            return _json(body, status, req_id)

        return endpoint

    # -- hosted checkout page -----------------------------------------------------------------------------------

    def page_url(session_id: str, **query: str) -> str:
        url = f"{sandbox.public_url}/pay/{session_id}"
        return f"{url}?{urlencode(query)}" if query else url

    async def checkout_page(request: Request) -> Response:
        session = sandbox.sessions.get(request.path_params["id"])
        if session is None:
            return HTMLResponse(page.render_not_found(), status_code=404)
        html = page.render_checkout(
            session,
            sandbox.checkout_requests[session["id"]],
            action=page_url(session["id"]),
            error_code=request.query_params.get("error"),
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def checkout_submit(request: Request) -> Response:
        session = sandbox.sessions.get(request.path_params["id"])
        if session is None:
            return HTMLResponse(page.render_not_found(), status_code=404)
        try:
            form = parse_form(await request.body())
        except (FormError, UnicodeDecodeError):
            form = {}
        outcome = str(form.get("outcome", ""))
        if session["status"] != "open":
            return RedirectResponse(page_url(session["id"]), status_code=303)
        if outcome == page.ABANDON:
            return RedirectResponse(session["cancel_url"] or page_url(session["id"]), status_code=303)
        name = str(form.get("name") or "").strip() or "Sandbox Buyer"
        email = str(form.get("email") or "").strip() or None
        try:
            await sandbox.complete_session(session["id"], outcome, name=name[:200], email=email)
        except SandboxError:
            return RedirectResponse(page_url(session["id"]), status_code=303)
        if outcome == "decline":
            return RedirectResponse(page_url(session["id"], error="card_declined"), status_code=303)
        success = session["success_url"]
        target = success.replace("{CHECKOUT_SESSION_ID}", session["id"]) if success else page_url(session["id"])
        return RedirectResponse(target, status_code=303)

    # -- control API (no authentication: a test tool) -------------------------------------------------------------

    def ok(body: dict[str, Any], status: int = 200) -> JSONResponse:
        return JSONResponse(body, status_code=status)

    def control(handler: Callable[[Request, dict[str, Any]], Awaitable[dict[str, Any]]]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            data: dict[str, Any] = {}
            raw = await request.body()
            if raw.strip():
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    return ok(SandboxError(400, "The body must be a JSON object.").body(), 400)
                if not isinstance(parsed, dict):
                    return ok(SandboxError(400, "The body must be a JSON object.").body(), 400)
                data = parsed
            try:
                return ok(await handler(request, data))
            except SandboxError as exc:
                return ok(exc.body(), exc.status)

        return endpoint

    def required(data: dict[str, Any], name: str) -> str:
        value = data.get(name)
        if not isinstance(value, str) or not value:
            raise SandboxError(400, f"Missing required field: {name}.", code="parameter_missing", param=name)
        return value

    async def health(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        return {"status": "ok"}

    async def get_faults(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        return faults.as_dict()

    async def set_faults(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        faults.update(data)
        return faults.as_dict()

    async def reset_faults(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        faults.reset()
        return faults.as_dict()

    async def list_events(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        kind = request.query_params.get("type")
        return {"data": [e for e in sandbox.events.values() if kind is None or e["type"] == kind]}

    async def list_deliveries(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        return {"data": [d.as_dict() for d in sandbox.deliveries], "held": sandbox.webhooks.held}

    async def list_all_sessions(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        return {"data": list(sandbox.sessions.values())}

    async def get_session(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        return sandbox.session(request.path_params["id"])

    async def complete(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        session_id = request.path_params.get("id") or required(data, "session_id")
        outcome = data.get("outcome", "pay")
        return await sandbox.complete_session(session_id, str(outcome))

    async def expire(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        return await sandbox.expire_session(request.path_params["id"])

    async def expire_due(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        return {"expired": sandbox.expire_due_sessions()}

    async def resolve_delayed(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        return {"resolved": await sandbox.resolve_delayed_payments()}

    async def add_key(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        sandbox.add_key(required(data, "key"))
        return {"ok": True}

    async def revoke_key(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        sandbox.revoke_key(required(data, "key"))
        return {"ok": True}

    async def flush_webhooks(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        return {"released": sandbox.flush_webhooks()}

    async def retry_webhooks(request: Request, data: dict[str, Any]) -> dict[str, Any]:
        return {"requeued": sandbox.retry_deliveries()}

    routes: list[BaseRoute] = [
        Route("/v1/checkout/sessions", api(create_session), methods=["POST"]),
        Route("/v1/checkout/sessions", api(list_sessions), methods=["GET"]),
        Route("/v1/checkout/sessions/{id}", api(retrieve_session), methods=["GET"]),
        Route("/v1/checkout/sessions/{id}/expire", api(expire_session), methods=["POST"]),
        Route("/v1/checkout/sessions/{id}/line_items", api(list_line_items), methods=["GET"]),
        Route("/v1/payment_intents/{id}", api(retrieve_payment_intent), methods=["GET"]),
        Route("/v1/charges/{id}", api(retrieve_charge), methods=["GET"]),
        Route("/v1/refunds", api(create_refund), methods=["POST"]),
        Route("/v1/refunds/{id}", api(retrieve_refund), methods=["GET"]),
        Route("/v1/events/{id}", api(retrieve_event), methods=["GET"]),
        Route("/pay/{id}", checkout_page, methods=["GET"]),
        Route("/pay/{id}", checkout_submit, methods=["POST"]),
        Route("/_sandbox/health", control(health), methods=["GET"]),
        Route("/_sandbox/faults", control(get_faults), methods=["GET"]),
        Route("/_sandbox/faults", control(set_faults), methods=["POST"]),
        Route("/_sandbox/faults", control(reset_faults), methods=["DELETE"]),
        Route("/_sandbox/events", control(list_events), methods=["GET"]),
        Route("/_sandbox/deliveries", control(list_deliveries), methods=["GET"]),
        Route("/_sandbox/sessions", control(list_all_sessions), methods=["GET"]),
        Route("/_sandbox/sessions/{id}", control(get_session), methods=["GET"]),
        Route("/_sandbox/sessions/{id}/complete", control(complete), methods=["POST"]),
        Route("/_sandbox/sessions/{id}/expire", control(expire), methods=["POST"]),
        Route("/_sandbox/expire_due", control(expire_due), methods=["POST"]),
        Route("/_sandbox/delayed_payments/resolve", control(resolve_delayed), methods=["POST"]),
        Route("/_sandbox/keys", control(add_key), methods=["POST"]),
        Route("/_sandbox/keys/revoke", control(revoke_key), methods=["POST"]),
        Route("/_sandbox/webhooks/flush", control(flush_webhooks), methods=["POST"]),
        Route("/_sandbox/webhooks/retry", control(retry_webhooks), methods=["POST"]),
        Route("/_sandbox/complete", control(complete), methods=["POST"]),  # {"session_id", "outcome"}; older form
    ]

    async def unrecognized(request: Request, exc: Exception) -> Response:
        error = SandboxError(
            404,
            f"Unrecognized request URL ({request.method}: {request.url.path}). Please see https://stripe.com/docs or "
            "we can help at https://support.stripe.com/.",
        )
        return _error(error, request_id())

    return Starlette(
        routes=routes,
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={404: unrecognized, 405: unrecognized},
    )
