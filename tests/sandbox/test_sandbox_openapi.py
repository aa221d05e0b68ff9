"""The sandbox against Stripe's own description of the API: responses validate against the OpenAPI component
schemas (API 2023-08-16, newer fields allowed), accepted parameters exist in the spec or in SDK 16.1.0's drift
(``shared/stripe/README.md``), and objects have exactly the keys of Stripe's official fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from boxoffice.sandbox import RunningSandbox
from boxoffice.sandbox.validation import (
    CHECKOUT_CREATE_DRIFT_PARAMS,
    CHECKOUT_CREATE_PARAMS,
    CHECKOUT_CREATE_SPEC_PARAMS,
    LINE_ITEM_PARAMS,
    PRICE_DATA_PARAMS,
    REFUND_CREATE_PARAMS,
)
from tests.sandbox.support import KEY, OpenApi, checkout_params, sdk

FORM = "application/x-www-form-urlencoded"


async def api(sb: RunningSandbox, method: str, path: str, body: str | None = None, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sb.url) as http:
        return await http.request(
            method,
            path,
            content=body,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": FORM, **headers},
        )


def form(params: dict[str, Any]) -> str:
    """Encoded as the SDK encodes it (literal brackets)."""
    from urllib.parse import urlencode

    from stripe._encode import _api_encode

    return urlencode(list(_api_encode(params))).replace("%5B", "[").replace("%5D", "]")


def request_schema(openapi: OpenApi, path: str) -> dict[str, Any]:
    schema: dict[str, Any] = openapi.spec["paths"][path]["post"]["requestBody"]["content"][FORM]["schema"]
    return schema


def readme_drift(shared: Path, row: str) -> set[str]:
    """Parameter names SDK 16.1.0 added since the spec, from the README's Drift table."""
    for line in (shared / "stripe" / "README.md").read_text().splitlines():
        if line.startswith(f"| `{row}` |"):
            added = line.split("|")[2].split(";")[0]
            return {name.strip(" `") for name in added.split(",") if name.strip(" `-")}
    raise AssertionError(f"no Drift row for {row} in the README")


async def test_responses_match_the_openapi_schemas(sb: RunningSandbox, openapi: OpenApi) -> None:
    created = await api(sb, "POST", "/v1/checkout/sessions", form(checkout_params()))
    assert created.status_code == 200
    openapi.validate_component(created.json(), "checkout.session")
    session_id = created.json()["id"]
    declined_id = (await api(sb, "POST", "/v1/checkout/sessions", form(checkout_params()))).json()["id"]
    delayed_id = (await api(sb, "POST", "/v1/checkout/sessions", form(checkout_params()))).json()["id"]
    await sb.sandbox.complete_session(session_id, "pay")
    await sb.sandbox.complete_session(declined_id, "decline")
    await sb.sandbox.complete_session(delayed_id, "delayed_failure")

    for sid in (session_id, declined_id, delayed_id):
        session = (await api(sb, "GET", f"/v1/checkout/sessions/{sid}?expand[]=line_items")).json()
        openapi.validate_component(session, "checkout.session")
        intent = (await api(sb, "GET", f"/v1/payment_intents/{session['payment_intent']}")).json()
        openapi.validate_component(intent, "payment_intent")
        charge = (await api(sb, "GET", f"/v1/charges/{intent['latest_charge']}")).json()
        openapi.validate_component(charge, "charge")
    await sb.sandbox.resolve_delayed_payments()
    openapi.validate_component(
        (await api(sb, "GET", f"/v1/payment_intents/{sb.sandbox.sessions[delayed_id]['payment_intent']}")).json(),
        "payment_intent",
    )

    intent_id = sb.sandbox.sessions[session_id]["payment_intent"]
    refund = (await api(sb, "POST", "/v1/refunds", f"payment_intent={intent_id}&amount=100")).json()
    openapi.validate_component(refund, "refund")
    openapi.validate_component((await api(sb, "GET", f"/v1/refunds/{refund['id']}")).json(), "refund")

    expired_id = (await api(sb, "POST", "/v1/checkout/sessions", form(checkout_params()))).json()["id"]
    expired = await api(sb, "POST", f"/v1/checkout/sessions/{expired_id}/expire")
    openapi.validate_component(expired.json(), "checkout.session")

    listed = (await api(sb, "GET", "/v1/checkout/sessions?limit=3")).json()
    openapi.validate(listed, openapi.response_schema("/v1/checkout/sessions", "get"))
    items = (await api(sb, "GET", f"/v1/checkout/sessions/{session_id}/line_items")).json()
    openapi.validate(items, openapi.response_schema("/v1/checkout/sessions/{session}/line_items", "get"))
    for item in items["data"]:
        openapi.validate_component(item, "item")

    assert len(sb.sandbox.events) >= 12
    for event_id, event in sb.sandbox.events.items():
        openapi.validate_component((await api(sb, "GET", f"/v1/events/{event_id}")).json(), "event")
        kind = event["data"]["object"]["object"]
        openapi.validate_component(event["data"]["object"], kind)


async def test_error_bodies_match_the_error_schema(sb: RunningSandbox, openapi: OpenApi) -> None:
    errors = [
        await api(sb, "GET", "/v1/refunds/re_missing"),
        await api(sb, "POST", "/v1/checkout/sessions", "mode=payment"),
        await api(sb, "GET", "/v1/checkout/sessions", Authorization="Bearer sk_test_nope0000"),
        await api(sb, "GET", "/v1/checkout/sessions", Authorization=""),
        await api(sb, "GET", "/v1/nothing_here"),
    ]
    good = form(checkout_params())
    await api(sb, "POST", "/v1/checkout/sessions", good, **{"Idempotency-Key": "k"})
    errors.append(await api(sb, "POST", "/v1/checkout/sessions", good + "&locale=fr", **{"Idempotency-Key": "k"}))
    sb.sandbox.faults.fail_next = 1
    errors.append(await api(sb, "GET", "/v1/checkout/sessions"))
    assert [e.status_code for e in errors] == [404, 400, 401, 401, 404, 400, 500]
    for response in errors:
        openapi.validate(response.json(), openapi.response_schema("/v1/refunds", "post", "default"))
        openapi.validate_component(response.json(), "error")
    assert errors[5].json()["error"]["type"] == "idempotency_error"


def test_accepted_create_parameters_exist_in_the_spec_or_the_sdk_drift(shared: Path, openapi: OpenApi) -> None:
    spec_params = set(request_schema(openapi, "/v1/checkout/sessions")["properties"])
    drift = readme_drift(shared, "POST /v1/checkout/sessions")
    assert spec_params == set(CHECKOUT_CREATE_SPEC_PARAMS)
    assert drift == set(CHECKOUT_CREATE_DRIFT_PARAMS)
    assert spec_params | drift >= CHECKOUT_CREATE_PARAMS
    sdk_params = set(stripe.params.checkout.SessionCreateParams.__annotations__)
    assert drift <= sdk_params  # the README's drift list is what SDK 16.1.0 really has

    line_item = request_schema(openapi, "/v1/checkout/sessions")["properties"]["line_items"]["items"]
    sdk_line_item = set(stripe.params.checkout._session_create_params.SessionCreateParamsLineItem.__annotations__)
    assert set(line_item["properties"]) | sdk_line_item >= LINE_ITEM_PARAMS
    assert set(line_item["properties"]["price_data"]["properties"]) >= PRICE_DATA_PARAMS
    assert set(request_schema(openapi, "/v1/refunds")["properties"]) >= REFUND_CREATE_PARAMS


async def test_everything_boxoffice_sends_is_accepted(sb: RunningSandbox) -> None:
    params = checkout_params()
    assert set(params) <= CHECKOUT_CREATE_PARAMS
    session = await sdk(sb.url).v1.checkout.sessions.create_async(params)
    assert session.status == "open"


ASYNC = "checkout.session.async_payment"
FIXTURE_EVENTS = [
    ("event.checkout.session.completed.json", "pay", "checkout.session.completed"),
    ("event.payment_intent.succeeded.json", "pay", "payment_intent.succeeded"),
    ("event.checkout.session.completed.delayed_payment.json", "delayed_success", "checkout.session.completed"),
    ("event.checkout.session.async_payment_succeeded.json", "delayed_success", f"{ASYNC}_succeeded"),
    ("event.checkout.session.async_payment_failed.json", "delayed_failure", f"{ASYNC}_failed"),
    ("event.payment_intent.payment_failed.json", "decline", "payment_intent.payment_failed"),
    ("event.checkout.session.expired.json", "expire", "checkout.session.expired"),
    ("event.refund.created.json", "refund", "refund.created"),
    ("event.charge.refunded.json", "refund", "charge.refunded"),
]  # fmt: skip


def _shape(value: Any) -> Any:
    """Keys all the way down (lists by their first element), for comparing with the fixtures."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list) and value:
        return [_shape(value[0])]
    return None


def _missing_keys(expected: Any, actual: Any, path: str = "") -> list[str]:
    if not isinstance(expected, dict) or not isinstance(actual, dict):
        return []
    gaps = [f"{path}.{k}" for k in expected if k not in actual]
    for key in expected.keys() & actual.keys():
        gaps += _missing_keys(expected[key], actual[key], f"{path}.{key}")
    return gaps


@pytest.mark.parametrize(("fixture", "story", "kind"), FIXTURE_EVENTS)
async def test_events_have_the_fixtures_shape(
    sb: RunningSandbox, shared: Path, fixture: str, story: str, kind: str
) -> None:
    official = json.loads((shared / "stripe" / "fixtures" / fixture).read_text())
    session = await sdk(sb.url).v1.checkout.sessions.create_async(checkout_params())
    if story == "expire":
        await sb.sandbox.expire_session(session.id)
    elif story == "refund":
        await sb.sandbox.complete_session(session.id, "pay")
        sb.sandbox.create_refund(
            {"payment_intent": sb.sandbox.sessions[session.id]["payment_intent"], "amount": "1500"}
        )
    else:
        await sb.sandbox.complete_session(session.id, story)
        await sb.sandbox.resolve_delayed_payments()
    (ours,) = [e for e in sb.sandbox.events.values() if e["type"] == kind][-1:]
    assert set(ours) == set(official)
    assert set(ours["data"]["object"]) == set(official["data"]["object"])
    # Nested objects carry at least the fixture's keys where both have an object (fixtures fill in more options).
    nested = _missing_keys(_shape(official["data"]["object"]), _shape(ours["data"]["object"]))
    assert [gap for gap in nested if ".metadata." not in gap] == []  # metadata keys are the test's own
    for key in ("status", "payment_status", "amount_refunded", "refunded", "amount_received"):
        if key in official["data"]["object"]:
            assert ours["data"]["object"][key] == official["data"]["object"][key], key
