"""The sandbox's HTTP face: Stripe's ``/v1`` API (form-encoded in, JSON out), the hosted checkout page, and a
control API under ``/_sandbox`` for tests and tools (no authentication: a test tool, never exposed in production)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from boxoffice.money import format_money
from boxoffice.sandbox.forms import parse_form
from boxoffice.sandbox.state import OUTCOMES, Sandbox, SandboxError, public

Handler = Callable[[Request, dict[str, Any]], Awaitable[dict[str, Any]]]


def _request_id() -> str:
    return "req_" + secrets.token_hex(7)


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"Request-Id": _request_id(), **(headers or {})})


def _api_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value).decode().split(":", 1)[0] or None
        except (ValueError, UnicodeDecodeError):
            return None
    return None


def _list(items: list[dict[str, Any]], url: str, params: dict[str, Any]) -> dict[str, Any]:
    try:
        limit = max(1, min(100, int(params.get("limit", 10))))
    except ValueError:
        raise SandboxError(400, "Invalid integer", code="parameter_invalid_integer", param="limit") from None
    after = params.get("starting_after")
    if after:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return {"object": "list", "data": items[:limit], "has_more": len(items) > limit, "url": url}


def _expanded(sandbox: Sandbox, session: dict[str, Any], expand: list[str]) -> dict[str, Any]:
    out = public(session)
    if "line_items" in expand:
        out["line_items"] = _list(
            sandbox.line_items[session["id"]], f"/v1/checkout/sessions/{session['id']}/line_items", {"limit": 100}
        )
    if "payment_intent" in expand and session.get("payment_intent"):
        out["payment_intent"] = sandbox.payment_intents[session["payment_intent"]]
    return out


def create_sandbox_app(sandbox: Sandbox) -> Starlette:
    def api(handler: Handler, *, idempotent: bool = False) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            faults = sandbox.faults
            try:
                key = sandbox.check_key(_api_key(request))
                if faults.hang_next > 0:
                    faults.hang_next -= 1
                    await asyncio.sleep(faults.hang_seconds)
                if faults.fail_next > 0:
                    faults.fail_next -= 1
                    raise SandboxError(faults.fail_status, "An unknown error occurred", type="api_error")
                raw = await request.body() if request.method == "POST" else request.url.query.encode()
                params = parse_form(raw)
            except SandboxError as exc:
                return _json(exc.body(), exc.status)
            except ValueError as exc:
                return _json(SandboxError(400, str(exc)).body(), 400)
            idem = request.headers.get("idempotency-key") if request.method == "POST" else None
            slot = (key, idem) if idem else None
            fingerprint = hashlib.sha256(f"{request.url.path}\n{raw.decode()}".encode()).hexdigest()
            if slot is not None:
                stored = sandbox.idempotency.get(slot)
                if stored is not None:
                    if stored["fingerprint"] != fingerprint:
                        error = SandboxError(
                            400,
                            "Keys for idempotent requests can only be used with the same parameters they were first "
                            f"used with. Try using a key other than '{idem}' if you meant to execute a different "
                            "request.",
                            type="idempotency_error",
                        )
                        return _json(error.body(), 400)
                    return _json(stored["body"], stored["status"], {"Idempotent-Replayed": "true"})
                if slot in sandbox._in_flight:
                    error = SandboxError(
                        409,
                        "There is currently another in-progress request using this Idempotent Key.",
                        type="invalid_request_error",
                        code="idempotency_key_in_use",
                    )
                    return _json(error.body(), 409)
                sandbox._in_flight.add(slot)
            try:
                try:
                    body, status = await handler(request, params), 200
                except SandboxError as exc:
                    if exc.status < 500 and exc.status != 402:
                        return _json(exc.body(), exc.status)  # validation failures are not stored
                    body, status = exc.body(), exc.status
                if slot is not None:
                    sandbox.idempotency[slot] = {"fingerprint": fingerprint, "status": status, "body": body}
                return _json(body, status)
            finally:
                if slot is not None:
                    sandbox._in_flight.discard(slot)

        return endpoint

    async def create_session(request: Request, params: dict[str, Any]) -> dict[str, Any]:
        if sandbox.faults.checkout_latency_ms:
            await asyncio.sleep(sandbox.faults.checkout_latency_ms / 1000)
        return public(sandbox.create_session(params))

    async def list_sessions(request: Request, params: dict[str, Any]) -> dict[str, Any]:
        items = [public(s) for s in reversed(list(sandbox.sessions.values()))]
        if params.get("payment_intent"):
            items = [s for s in items if s.get("payment_intent") == params["payment_intent"]]
        if params.get("status"):
            items = [s for s in items if s["status"] == params["status"]]
        return _list(items, "/v1/checkout/sessions", params)

    async def get_session(request: Request, params: dict[str, Any]) -> dict[str, Any]:
        expand = params.get("expand") or []
        return _expanded(
            sandbox, sandbox.session(request.path_params["id"]), expand if isinstance(expand, list) else [expand]
        )

    async def expire(request: Request, params: dict[str, Any]) -> dict[str, Any]:
        return public(await sandbox.expire_session(request.path_params["id"]))

    async def line_items(request: Request, params: dict[str, Any]) -> dict[str, Any]:
        session = sandbox.session(request.path_params["id"])
        return _list(sandbox.line_items[session["id"]], f"/v1/checkout/sessions/{session['id']}/line_items", params)

    async def get_intent(request: Request, params: dict[str, Any]) -> dict[str, Any]:
        return sandbox.get(sandbox.payment_intents, request.path_params["id"], "payment_intent")

    async def get_charge(request: Request, params: dict[str, Any]) -> dict[str, Any]:
        return sandbox.get(sandbox.charges, request.path_params["id"], "charge")

    async def create_refund(request: Request, params: dict[str, Any]) -> dict[str, Any]:
        return await sandbox.create_refund(params)

    async def get_refund(request: Request, params: dict[str, Any]) -> dict[str, Any]:
        return sandbox.get(sandbox.refunds, request.path_params["id"], "refund")

    async def get_event(request: Request, params: dict[str, Any]) -> dict[str, Any]:
        return sandbox.get(sandbox.events, request.path_params["id"], "event")

    # -- hosted checkout page ----------------------------------------------------------------------------------

    async def page(request: Request) -> Response:
        session = sandbox.sessions.get(request.path_params["id"])
        if session is None:
            return HTMLResponse(_page("Checkout not found", "<p>This checkout link is not valid.</p>"), status_code=404)
        if request.method == "POST":
            form = parse_form(await request.body())
            outcome = str(form.get("outcome", ""))
            if outcome == "abandon":
                return RedirectResponse(session.get("cancel_url") or sandbox.public_url, status_code=303)
            try:
                await sandbox.complete_session(session["id"], outcome)
            except SandboxError as exc:
                return HTMLResponse(_checkout(sandbox, session, error=exc.message), status_code=400)
            if outcome == "decline":
                return HTMLResponse(
                    _checkout(sandbox, session, error="Your card was declined. Try another card."), status_code=402
                )
            target = (session.get("success_url") or sandbox.public_url).replace("{CHECKOUT_SESSION_ID}", session["id"])
            return RedirectResponse(target, status_code=303)
        return HTMLResponse(_checkout(sandbox, session))

    # -- control API --------------------------------------------------------------------------------------------

    async def control(request: Request) -> Response:
        action = request.path_params["action"]
        data: dict[str, Any] = {}
        if request.method == "POST" and (raw := await request.body()):
            try:
                data = json.loads(raw)
            except ValueError:
                return JSONResponse({"error": "body must be JSON"}, status_code=400)
        try:
            if action == "health":
                return JSONResponse({"status": "ok"})
            if action == "faults":
                if request.method == "POST":
                    sandbox.faults.update(data)
                return JSONResponse(vars(sandbox.faults))
            if action == "complete":
                await sandbox.complete_session(data["session_id"], data.get("outcome", "pay"))
            elif action == "expire":
                await sandbox.expire_session(data["session_id"])
            elif action == "resolve_delayed":
                await sandbox.resolve_delayed_payments()
            elif action == "flush_webhooks":
                sandbox.flush_webhooks()
            elif action == "revoke_key":
                sandbox.revoke_key(data["key"])
            elif action == "add_key":
                sandbox.add_key(data["key"])
            elif action == "events":
                return JSONResponse({"data": [{"id": e["id"], "type": e["type"]} for e in sandbox.events.values()]})
            elif action == "deliveries":
                return JSONResponse({"data": [vars(d) for d in sandbox.deliveries]})
            elif action == "sessions":
                return JSONResponse({"data": [public(s) for s in sandbox.sessions.values()]})
            else:
                return JSONResponse({"error": f"unknown action {action}"}, status_code=404)
        except SandboxError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        except KeyError as exc:
            return JSONResponse({"error": f"missing {exc}"}, status_code=400)
        return JSONResponse({"ok": True})

    routes = [
        Route("/v1/checkout/sessions", api(create_session, idempotent=True), methods=["POST"]),
        Route("/v1/checkout/sessions", api(list_sessions), methods=["GET"]),
        Route("/v1/checkout/sessions/{id}", api(get_session), methods=["GET"]),
        Route("/v1/checkout/sessions/{id}/expire", api(expire, idempotent=True), methods=["POST"]),
        Route("/v1/checkout/sessions/{id}/line_items", api(line_items), methods=["GET"]),
        Route("/v1/payment_intents/{id}", api(get_intent), methods=["GET"]),
        Route("/v1/charges/{id}", api(get_charge), methods=["GET"]),
        Route("/v1/refunds", api(create_refund, idempotent=True), methods=["POST"]),
        Route("/v1/refunds/{id}", api(get_refund), methods=["GET"]),
        Route("/v1/events/{id}", api(get_event), methods=["GET"]),
        Route("/pay/{id}", page, methods=["GET", "POST"]),
        Route("/_sandbox/{action}", control, methods=["GET", "POST"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        error = SandboxError(404, f"Unrecognized request URL ({request.method}: {request.url.path}).")
        return _json(error.body(), 404)

    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})


def _money(amount: int, currency: str) -> str:
    return format_money(amount, currency)


def _page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 34rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }}
.banner {{ background: #fff3cd; border: 1px solid #b58900; padding: .5rem .75rem; border-radius: .25rem; }}
table {{ width: 100%; border-collapse: collapse; margin: 1rem 0; }} td, th {{ padding: .3rem; text-align: left; }}
td.amount, th.amount {{ text-align: right; }}
button {{ display: block; width: 100%; margin: .4rem 0; padding: .7rem; font-size: 1rem; border-radius: .3rem;
  border: 1px solid #444; background: #fff; cursor: pointer; }}
button.primary {{ background: #1a56db; color: #fff; border-color: #1a56db; }}
.error {{ color: #9b1c1c; font-weight: bold; }}
</style></head>
<body><main>
<p class="banner" role="note"><strong>TEST MODE</strong>: Stripe sandbox. No real payment is made.</p>
{body}
</main></body></html>"""


def _checkout(sandbox: Sandbox, session: dict[str, Any], *, error: str | None = None) -> str:
    currency = session["currency"] or "usd"
    rows = "".join(
        f"<tr><td>{escape(item['description'])}</td><td>{item['quantity']}</td>"
        f"<td class='amount'>{_money(item['amount_total'], currency)}</td></tr>"
        for item in sandbox.line_items[session["id"]]
    )
    summary = (
        "<table><caption>Order summary</caption><thead><tr><th scope='col'>Item</th><th scope='col'>Qty</th>"
        f"<th scope='col' class='amount'>Amount</th></tr></thead><tbody>{rows}</tbody>"
        f"<tfoot><tr><th scope='row' colspan='2'>Total</th><td class='amount'><strong id='total'>"
        f"{_money(session['amount_total'], currency)}</strong></td></tr></tfoot></table>"
    )
    if session["status"] != "open":
        state = "has expired" if session["status"] == "expired" else "is already complete"
        return _page("Checkout", f"<h1>Checkout</h1>{summary}<p>This checkout {state}.</p>")
    message = f"<p class='error' role='alert'>{escape(error)}</p>" if error else ""
    labels = {
        "pay": ("Pay", "primary"),
        "decline": ("Pay with a card that is declined", ""),
        "delayed_success": ("Pay by bank debit (succeeds later)", ""),
        "delayed_failure": ("Pay by bank debit (fails later)", ""),
    }
    buttons = "".join(
        f"<button type='submit' name='outcome' value='{o}' class='{labels[o][1]}'>{labels[o][0]}</button>"
        for o in OUTCOMES
    )
    email = escape(session.get("customer_email") or "")
    return _page(
        "Checkout",
        f"<h1>Checkout</h1>{summary}{message}<p>Paying as {email}</p>"
        f"<form method='post' action='{escape(sandbox.public_url)}/pay/{session['id']}'>{buttons}"
        "<button type='submit' name='outcome' value='abandon'>Cancel and go back</button></form>",
    )
