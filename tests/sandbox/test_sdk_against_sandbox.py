"""The official stripe SDK (StripeClient, async, HTTPX) against the sandbox; responses checked against Stripe's
OpenAPI schemas (shared/stripe/openapi-subset.json)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from functools import cache
from typing import Any

import httpx
import jsonschema
import pytest
import stripe

from boxoffice.sandbox import RunningSandbox, run_sandbox
from tests.helpers import SHARED

KEY = "sk_test_sdk00000000000000000001"
SPEC = SHARED / "stripe" / "openapi-subset.json"


@pytest.fixture(scope="module")
async def sb() -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(api_keys={KEY}) as running:
        yield running


def client(sb: RunningSandbox, key: str = KEY, **kw: Any) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": sb.url}, http_client=stripe.HTTPXClient(**kw))


def params(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 2,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 1500,
                    "product_data": {"name": "GA", "description": "Main hall"},
                },
            },
            {"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 300, "product_data": {"name": "Tip"}}},
        ],
        "customer_email": "a@example.com",
        "client_reference_id": "ord_1",
        "metadata": {"order_id": "ord_1", "event_id": "ev_1"},
        "payment_intent_data": {"metadata": {"order_id": "ord_1", "event_id": "ev_1"}},
        "success_url": "https://t.example/ok?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://t.example/cancel",
        "expires_at": int(time.time()) + 31 * 60,
        "submit_type": "book",
    }
    base.update(over)
    return base


@cache
def spec() -> dict[str, Any]:
    assert SPEC.is_file(), f"missing {SPEC}"
    data: dict[str, Any] = json.loads(SPEC.read_text())
    return data


def _convert(node: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema: ``nullable`` becomes a null alternative; refs point into components."""
    if isinstance(node, list):
        return [_convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: _convert(v)
        for k, v in node.items()
        if k
        not in ("nullable", "x-expandableFields", "x-resourceId", "x-stripeBypassValidation", "x-expansionResources")
    }
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/definitions/")
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def validate(obj: dict[str, Any], schema_name: str) -> None:
    schemas = spec()["components"]["schemas"]
    schema = {"$ref": f"#/definitions/{schema_name}", "definitions": {k: _convert(v) for k, v in schemas.items()}}
    jsonschema.validate(obj, schema)


async def raw(sb: RunningSandbox, method: str, path: str, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sb.url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        return await http.request(method, path, **kw)


async def test_session_lifecycle_through_the_sdk(sb: RunningSandbox) -> None:
    c = client(sb)
    session = await c.v1.checkout.sessions.create_async(params(), {"idempotency_key": "k-lifecycle"})
    assert session.id.startswith("cs_test_") and session.status == "open" and session.amount_total == 3300
    assert session.url and session.url.startswith(sb.url + "/pay/")
    again = await c.v1.checkout.sessions.retrieve_async(session.id, {"expand": ["line_items"]})
    assert again.line_items is not None and [li.quantity for li in again.line_items.data] == [2, 1]
    items = await c.v1.checkout.sessions.line_items.list_async(session.id)
    assert [li.amount_total for li in items.data] == [3000, 300]
    listed = await c.v1.checkout.sessions.list_async({"limit": 100, "status": "open"})
    assert session.id in [s.id for s in listed.data]
    expired = await c.v1.checkout.sessions.expire_async(session.id)
    assert expired.status == "expired" and expired.url is None
    with pytest.raises(stripe.InvalidRequestError):
        await c.v1.checkout.sessions.expire_async(session.id)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await c.v1.checkout.sessions.retrieve_async("cs_test_nope")
    assert missing.value.code == "resource_missing"


async def test_pay_refund_and_events(sb: RunningSandbox) -> None:
    c = client(sb)
    session = await c.v1.checkout.sessions.create_async(params())
    await sb.sandbox.complete_session(session.id, "pay")
    paid = await c.v1.checkout.sessions.retrieve_async(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    assert isinstance(paid.payment_intent, str)
    intent = await c.v1.payment_intents.retrieve_async(paid.payment_intent)
    assert intent.status == "succeeded" and intent.amount_received == 3300
    assert intent.metadata["order_id"] == "ord_1"
    partial = await c.v1.refunds.create_async({"payment_intent": intent.id, "amount": 1000}, {"idempotency_key": "r1"})
    assert partial.amount == 1000 and partial.status == "succeeded"
    again = await c.v1.refunds.create_async({"payment_intent": intent.id, "amount": 1000}, {"idempotency_key": "r1"})
    assert again.id == partial.id
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        await c.v1.refunds.create_async({"payment_intent": intent.id, "amount": 5000})
    assert too_much.value.code == "amount_too_large"
    rest = await c.v1.refunds.create_async({"payment_intent": intent.id})
    assert rest.amount == 2300
    with pytest.raises(stripe.InvalidRequestError) as done:
        await c.v1.refunds.create_async({"payment_intent": intent.id})
    assert done.value.code == "charge_already_refunded"
    kinds = [
        e["type"]
        for e in sb.sandbox.events.values()
        if e["data"]["object"].get("id") in (session.id, intent.id)
        or e["data"]["object"].get("payment_intent") == intent.id
    ]
    assert "checkout.session.completed" in kinds and "charge.refunded" in kinds and "refund.created" in kinds
    some = next(iter(sb.sandbox.events))
    assert (await c.v1.events.retrieve_async(some)).id == some


async def test_idempotency_replay_and_mismatch(sb: RunningSandbox) -> None:
    c = client(sb)
    first = await c.v1.checkout.sessions.create_async(params(), {"idempotency_key": "same-key"})
    second = await c.v1.checkout.sessions.create_async(params(), {"idempotency_key": "same-key"})
    assert first.id == second.id
    with pytest.raises(stripe.IdempotencyError):
        await c.v1.checkout.sessions.create_async(params(client_reference_id="other"), {"idempotency_key": "same-key"})


async def test_validation_errors_are_not_stored(sb: RunningSandbox) -> None:
    c = client(sb)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await c.v1.checkout.sessions.create_async(params(expires_at=int(time.time()) + 60), {"idempotency_key": "v1"})
    assert exc.value.param == "expires_at"
    ok = await c.v1.checkout.sessions.create_async(params(), {"idempotency_key": "v1"})
    assert ok.status == "open"
    bad_items = params(
        line_items=[{"quantity": 1, "price_data": {"currency": "USD", "unit_amount": 5, "product_data": {"name": "x"}}}]
    )
    with pytest.raises(stripe.InvalidRequestError):
        await c.v1.checkout.sessions.create_async(bad_items)


async def test_authentication(sb: RunningSandbox) -> None:
    with pytest.raises(stripe.AuthenticationError):
        await client(sb, "sk_test_wrong0000000000000").v1.checkout.sessions.list_async()
    response = await raw(sb, "GET", "/v1/checkout/sessions", headers={"Authorization": ""})
    assert response.status_code == 401 and "did not provide an API key" in response.json()["error"]["message"]
    sb.sandbox.add_key("sk_test_revoke_me_0000000001")
    await client(sb, "sk_test_revoke_me_0000000001").v1.checkout.sessions.list_async()
    sb.sandbox.revoke_key("sk_test_revoke_me_0000000001")
    with pytest.raises(stripe.AuthenticationError):
        await client(sb, "sk_test_revoke_me_0000000001").v1.checkout.sessions.list_async()


async def test_faults_5xx_timeout_latency(sb: RunningSandbox) -> None:
    faults = sb.sandbox.faults
    faults.fail_next = 1
    with pytest.raises(stripe.APIError):
        await client(sb).v1.checkout.sessions.create_async(params())
    faults.fail_next = 2
    retrying = stripe.StripeClient(
        KEY, base_addresses={"api": sb.url}, http_client=stripe.HTTPXClient(), max_network_retries=3
    )
    before = len(sb.sandbox.sessions)
    created = await retrying.v1.checkout.sessions.create_async(params(), {"idempotency_key": "retry-me"})
    assert created.id and len(sb.sandbox.sessions) == before + 1
    faults.hang_next, faults.hang_seconds = 1, 2.0
    with pytest.raises(stripe.APIConnectionError):
        await client(sb, timeout=0.5).v1.checkout.sessions.list_async()
    faults.checkout_latency_ms = 200
    t0 = time.perf_counter()
    await client(sb).v1.checkout.sessions.create_async(params())
    assert time.perf_counter() - t0 >= 0.2  # the injected latency is applied (a lower bound, never an upper one)
    faults.checkout_latency_ms = 0


async def test_mounted_under_a_prefix(sb: RunningSandbox) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from boxoffice.sandbox import Sandbox, SandboxConfig, create_sandbox_app

    inner = Sandbox(SandboxConfig(api_keys={KEY}, public_url="http://testserver/_stripe"))
    app = Starlette(routes=[Mount("/_stripe", create_sandbox_app(inner))])
    http = stripe.HTTPXClient()
    http._client_async = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))  # type: ignore[attr-defined]
    c = stripe.StripeClient(KEY, base_addresses={"api": "http://testserver/_stripe"}, http_client=http)
    session = await c.v1.checkout.sessions.create_async(params())
    assert session.url == f"http://testserver/_stripe/pay/{session.id}"


async def test_responses_match_stripe_openapi_schemas(sb: RunningSandbox) -> None:
    session = (
        await raw(
            sb,
            "POST",
            "/v1/checkout/sessions",
            content=_form(params()),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    ).json()
    validate(session, "checkout.session")
    await sb.sandbox.complete_session(session["id"], "pay")
    session = (await raw(sb, "GET", f"/v1/checkout/sessions/{session['id']}")).json()
    validate(session, "checkout.session")
    intent = (await raw(sb, "GET", f"/v1/payment_intents/{session['payment_intent']}")).json()
    validate(intent, "payment_intent")
    charge = sb.sandbox.charges[intent["latest_charge"]]
    validate(charge, "charge")
    refund = (
        await raw(
            sb,
            "POST",
            "/v1/refunds",
            content=f"payment_intent={intent['id']}&amount=100",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    ).json()
    validate(refund, "refund")
    listed = (await raw(sb, "GET", f"/v1/checkout/sessions/{session['id']}/line_items")).json()
    for item in listed["data"]:
        validate(item, "item")
    for event in list(sb.sandbox.events.values())[-3:]:
        validate(event, "event")
    error = (await raw(sb, "GET", "/v1/refunds/re_missing")).json()
    validate(error, "error")


def test_accepted_create_parameters_exist_in_the_spec_or_the_sdk_drift() -> None:
    body = spec()["paths"]["/v1/checkout/sessions"]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"
    ]["schema"]
    known = set(body["properties"]) | {"ui_mode", "allowed_payment_method_types", "return_url"}
    assert set(params()) <= known


def _form(data: dict[str, Any], prefix: str = "") -> str:
    from urllib.parse import urlencode

    flat: list[tuple[str, str]] = []

    def walk(value: Any, key: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}[{k}]" if key else k)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]")
        else:
            flat.append((key, str(value)))

    walk(data, prefix)
    return urlencode(flat)
