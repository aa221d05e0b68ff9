"""The sandbox's /v1 API through the official SDK (StripeClient, HTTPX, async), as Boxoffice uses it."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import httpx
import pytest
import stripe

from boxoffice.sandbox import RunningSandbox, run_sandbox
from boxoffice.sandbox.errors import NO_KEY_MESSAGE
from tests.sandbox.support import KEY, OTHER_KEY, checkout_params, sdk


async def raw(sb: RunningSandbox, method: str, path: str, *, key: str | None = KEY, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=sb.url, headers=headers) as http:
        return await http.request(method, path, **kw)


async def test_create_retrieve_list_line_items_and_expire(sb: RunningSandbox) -> None:
    client = sdk(sb.url)
    session = await client.v1.checkout.sessions.create_async(checkout_params(), {"idempotency_key": "create-1"})
    assert session.id.startswith("cs_test_")
    assert (session.status, session.payment_status, session.payment_intent) == ("open", "unpaid", None)
    assert (session.amount_subtotal, session.amount_total, session.currency) == (3300, 3300, "usd")
    assert session.url == f"{sb.url}/pay/{session.id}"
    assert session.metadata is not None and session.metadata.to_dict() == {"order_id": "ord_1", "event_id": "ev_1"}
    assert session.client_reference_id == "ord_1" and session.customer_email == "buyer@example.com"
    assert session.success_url and "{CHECKOUT_SESSION_ID}" in session.success_url  # kept literal, as Stripe shows it
    assert session.livemode is False and session.submit_type == "book"

    again = await client.v1.checkout.sessions.retrieve_async(session.id, {"expand": ["line_items"]})
    assert again.line_items is not None
    assert [(li.description, li.quantity, li.amount_total) for li in again.line_items.data] == [
        ("GA ticket", 2, 3000),
        ("Tip", 1, 300),
    ]
    assert again.line_items.data[0].price is not None and again.line_items.data[0].price.unit_amount == 1500
    items = await client.v1.checkout.sessions.line_items.list_async(session.id, {"limit": 1})
    assert [li.amount_total for li in items.data] == [3000] and items.has_more
    listed = await client.v1.checkout.sessions.list_async({"status": "open"})
    assert [s.id for s in listed.data] == [session.id]

    expired = await client.v1.checkout.sessions.expire_async(session.id)
    assert (expired.status, expired.url) == ("expired", None)
    with pytest.raises(stripe.InvalidRequestError) as not_open:
        await client.v1.checkout.sessions.expire_async(session.id)
    assert not_open.value.http_status == 400 and "open" in str(not_open.value.user_message)
    assert [s.id for s in (await client.v1.checkout.sessions.list_async({"status": "expired"})).data] == [session.id]
    assert [e["type"] for e in sb.sandbox.events_of(session.id)] == ["checkout.session.expired"]


async def test_defaults_to_expiring_after_24_hours(sb: RunningSandbox) -> None:
    params = checkout_params()
    del params["expires_at"], params["success_url"]  # success_url is optional since the 2023 spec
    session = await sdk(sb.url).v1.checkout.sessions.create_async(params)
    assert abs(session.expires_at - (session.created + 24 * 3600)) <= 1


PRICE = "line_items[0][price_data]"
QUANTITY = "line_items[0][quantity]"
INTENT_METADATA = "payment_intent_data[metadata]"


def _price(**overrides: Any) -> dict[str, Any]:
    return {"currency": "usd", "unit_amount": 100, "product_data": {"name": "x"}, **overrides}


def _items(n: int, **price: Any) -> list[dict[str, Any]]:
    return [{"quantity": 1, "price_data": _price(**price)} for _ in range(n)]


@pytest.mark.parametrize(
    ("overrides", "param", "code"),
    [
        ({"mode": None}, "mode", "parameter_missing"),
        ({"line_items": None}, "line_items", "parameter_missing"),
        ({"line_items": _items(101)}, "line_items", "parameter_invalid_string"),
        ({"line_items": _items(1, currency="USD")}, f"{PRICE}[currency]", "parameter_invalid_string"),
        ({"line_items": _items(1, currency="usdx")}, f"{PRICE}[currency]", "parameter_invalid_string"),
        ({"line_items": _items(1, unit_amount=-1)}, f"{PRICE}[unit_amount]", "parameter_invalid_integer"),
        ({"line_items": _items(1, unit_amount="1.5")}, f"{PRICE}[unit_amount]", "parameter_invalid_integer"),
        ({"line_items": _items(1, product_data={})}, f"{PRICE}[product_data]", "parameter_missing"),
        ({"line_items": _items(1, product_data={"images": "x"})}, f"{PRICE}[product_data][name]", "parameter_missing"),
        ({"line_items": [{"price_data": _price()}]}, QUANTITY, "parameter_missing"),
        ({"line_items": [{"quantity": "two", "price_data": _price()}]}, QUANTITY, "parameter_invalid_integer"),
        ({"line_items": [{"quantity": 0, "price_data": _price()}]}, QUANTITY, "parameter_invalid_integer"),
        ({"expires_at": int(time.time()) + 60}, "expires_at", "parameter_invalid_integer"),
        ({"expires_at": int(time.time()) + 25 * 3600}, "expires_at", "parameter_invalid_integer"),
        ({"expires_at": "soon"}, "expires_at", "parameter_invalid_integer"),
        ({"metadata": {"k" * 41: "v"}}, f"metadata[{'k' * 41}]", "parameter_invalid_string"),
        ({"metadata": {"k": "v" * 501}}, "metadata[k]", "parameter_invalid_string"),
        ({"metadata": {f"k{i}": "v" for i in range(51)}}, "metadata", "parameter_invalid_object"),
        ({"payment_intent_data": {"metadata": {"k": "v" * 501}}}, f"{INTENT_METADATA}[k]", "parameter_invalid_string"),
        ({"client_reference_id": "r" * 201}, "client_reference_id", "parameter_invalid_string"),
        ({"customer_email": "not-an-email"}, "customer_email", "email_invalid"),
        ({"submit_type": "buy"}, "submit_type", "parameter_invalid_string"),
        ({"mode": "subscription"}, "mode", "parameter_invalid_string"),
        ({"not_a_stripe_param": "x"}, "not_a_stripe_param", "parameter_unknown"),
    ],
)  # fmt: skip
async def test_validation_errors(sb: RunningSandbox, overrides: dict[str, Any], param: str, code: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await sdk(sb.url).v1.checkout.sessions.create_async(checkout_params(**overrides))
    assert (exc.value.http_status, exc.value.param, exc.value.code) == (400, param, code)
    assert exc.value.error is not None and exc.value.error.type == "invalid_request_error"
    assert exc.value.request_id and exc.value.request_id.startswith("req_")
    assert sb.sandbox.sessions == {}


async def test_newer_sdk_parameters_and_zero_decimal_currencies_are_accepted(sb: RunningSandbox) -> None:
    params = checkout_params(
        ui_mode="hosted_page",
        adaptive_pricing={"enabled": False},
        line_items=[{"quantity": 3, "price_data": _price(currency="jpy", unit_amount=1500)}],
        locale="ja",
    )
    session = await sdk(sb.url).v1.checkout.sessions.create_async(params)
    assert (session.amount_total, session.currency, session.locale) == (4500, "jpy", "ja")


async def test_unknown_ids_are_resource_missing(sb: RunningSandbox) -> None:
    client = sdk(sb.url)
    calls = [
        client.v1.checkout.sessions.retrieve_async("cs_test_missing"),
        client.v1.checkout.sessions.expire_async("cs_test_missing"),
        client.v1.checkout.sessions.line_items.list_async("cs_test_missing"),
        client.v1.payment_intents.retrieve_async("pi_missing"),
        client.v1.refunds.retrieve_async("re_missing"),
        client.v1.events.retrieve_async("evt_missing"),
        client.v1.refunds.create_async({"payment_intent": "pi_missing"}),
    ]
    for call in calls:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await call
        assert (exc.value.http_status, exc.value.code) == (404, "resource_missing")
        assert exc.value.request_id and exc.value.request_id.startswith("req_")
    response = await raw(sb, "GET", "/v1/charges/ch_missing")
    assert response.status_code == 404 and response.json()["error"]["code"] == "resource_missing"
    unknown_url = await raw(sb, "GET", "/v1/customers")
    assert unknown_url.status_code == 404 and "Unrecognized request URL" in unknown_url.json()["error"]["message"]
    assert unknown_url.headers["request-id"].startswith("req_")


async def test_list_filters_and_paging(sb: RunningSandbox) -> None:
    client = sdk(sb.url)
    ids = [(await client.v1.checkout.sessions.create_async(checkout_params())).id for _ in range(3)]
    newest_first = list(reversed(ids))
    page = await client.v1.checkout.sessions.list_async({"limit": 2})
    assert [s.id for s in page.data] == newest_first[:2] and page.has_more and page.url == "/v1/checkout/sessions"
    rest = await client.v1.checkout.sessions.list_async({"limit": 2, "starting_after": page.data[-1].id})
    assert [s.id for s in rest.data] == newest_first[2:] and not rest.has_more
    before = await client.v1.checkout.sessions.list_async({"ending_before": newest_first[2]})
    assert [s.id for s in before.data] == newest_first[:2]
    everything = [s.id async for s in (await client.v1.checkout.sessions.list_async({"limit": 1})).auto_paging_iter()]
    assert everything == newest_first

    await sb.sandbox.complete_session(ids[1], "pay")
    intent = sb.sandbox.sessions[ids[1]]["payment_intent"]
    by_intent = await client.v1.checkout.sessions.list_async({"payment_intent": intent})
    assert [s.id for s in by_intent.data] == [ids[1]]
    assert [s.id for s in (await client.v1.checkout.sessions.list_async({"status": "complete"})).data] == [ids[1]]
    created = sb.sandbox.sessions[ids[0]]["created"]
    assert len((await client.v1.checkout.sessions.list_async({"created": {"gte": created}})).data) == 3
    assert (await client.v1.checkout.sessions.list_async({"created": {"lt": created}})).data == []
    with pytest.raises(stripe.InvalidRequestError) as bad_limit:
        await client.v1.checkout.sessions.list_async({"limit": 101})
    assert bad_limit.value.param == "limit"


async def test_expand_accepts_percent_encoded_and_bracket_keys(sb: RunningSandbox) -> None:
    session = await sdk(sb.url).v1.checkout.sessions.create_async(checkout_params())
    await sb.sandbox.complete_session(session.id, "pay")
    encoded = await raw(sb, "GET", f"/v1/checkout/sessions/{session.id}?expand%5B0%5D=line_items")
    assert encoded.json()["line_items"]["object"] == "list"
    literal = await raw(
        sb, "GET", f"/v1/checkout/sessions/{session.id}?expand[]=payment_intent&expand[]=payment_intent.latest_charge"
    )
    intent = literal.json()["payment_intent"]
    assert intent["object"] == "payment_intent" and intent["latest_charge"]["object"] == "charge"
    bad = await raw(sb, "GET", f"/v1/checkout/sessions/{session.id}?expand[0]=currency")
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "expand"
    via_sdk = await sdk(sb.url).v1.payment_intents.retrieve_async(intent["id"], {"expand": ["latest_charge"]})
    assert not isinstance(via_sdk.latest_charge, str) and via_sdk.latest_charge is not None


async def test_payment_through_the_control_api_then_retrieve_the_intent(sb: RunningSandbox) -> None:
    client = sdk(sb.url)
    session = await client.v1.checkout.sessions.create_async(checkout_params())
    async with httpx.AsyncClient(base_url=sb.url) as control:
        done = await control.post(f"/_sandbox/sessions/{session.id}/complete", json={"outcome": "pay"})
        assert done.status_code == 200 and done.json()["status"] == "complete"
        again = await control.post(f"/_sandbox/sessions/{session.id}/complete", json={"outcome": "pay"})
        assert again.status_code == 400
        bad = await control.post(f"/_sandbox/sessions/{session.id}/complete", json={"outcome": "steal"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "outcome"

    paid = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert (paid.status, paid.payment_status, paid.url) == ("complete", "paid", None)
    assert paid.customer_details is not None and paid.customer_details.email == "buyer@example.com"
    assert paid.customer_details.name
    assert isinstance(paid.payment_intent, str) and paid.payment_intent.startswith("pi_")
    intent = await client.v1.payment_intents.retrieve_async(paid.payment_intent)
    assert (intent.status, intent.amount, intent.amount_received, intent.currency) == ("succeeded", 3300, 3300, "usd")
    assert intent.metadata.to_dict() == {"order_id": "ord_1", "event_id": "ev_1"}
    assert isinstance(intent.latest_charge, str)
    charge = (await raw(sb, "GET", f"/v1/charges/{intent.latest_charge}")).json()
    assert (charge["status"], charge["paid"], charge["captured"], charge["amount_captured"]) == (
        "succeeded",
        True,
        True,
        3300,
    )
    assert charge["payment_intent"] == intent.id and charge["metadata"] == {}


async def test_a_declined_card_leaves_the_session_open_for_another_attempt(sb: RunningSandbox) -> None:
    client = sdk(sb.url)
    session = await client.v1.checkout.sessions.create_async(checkout_params())
    await sb.sandbox.complete_session(session.id, "decline")
    after = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert (after.status, after.payment_status) == ("open", "unpaid")
    assert isinstance(after.payment_intent, str)
    intent = await client.v1.payment_intents.retrieve_async(after.payment_intent)
    assert intent.status == "requires_payment_method" and intent.last_payment_error is not None
    error = intent.last_payment_error
    assert (error.type, error.code, error.decline_code) == ("card_error", "card_declined", "generic_decline")
    assert error.payment_method is not None and error.payment_method.type == "card"
    await sb.sandbox.complete_session(session.id, "pay")
    retried = await client.v1.payment_intents.retrieve_async(after.payment_intent)
    assert retried.status == "succeeded" and retried.last_payment_error is None
    kinds = [e["type"] for e in sb.sandbox.events.values()]
    assert kinds.index("payment_intent.payment_failed") < kinds.index("payment_intent.succeeded")


async def test_delayed_payment_methods(sb: RunningSandbox) -> None:
    client = sdk(sb.url)
    good = await client.v1.checkout.sessions.create_async(checkout_params())
    bad = await client.v1.checkout.sessions.create_async(checkout_params())
    await sb.sandbox.complete_session(good.id, "delayed_success")
    await sb.sandbox.complete_session(bad.id, "delayed_failure")
    for session_id in (good.id, bad.id):
        session = await client.v1.checkout.sessions.retrieve_async(session_id)
        assert (session.status, session.payment_status) == ("complete", "unpaid")
        assert isinstance(session.payment_intent, str)
        assert (await client.v1.payment_intents.retrieve_async(session.payment_intent)).status == "processing"
    assert sorted(sb.sandbox.pending_delayed_payments) == sorted([good.id, bad.id])
    async with httpx.AsyncClient(base_url=sb.url) as control:
        resolved = await control.post("/_sandbox/delayed_payments/resolve")
    assert resolved.json() == {"resolved": 2}
    settled = await client.v1.checkout.sessions.retrieve_async(good.id, {"expand": ["payment_intent"]})
    assert settled.payment_status == "paid"
    assert not isinstance(settled.payment_intent, str) and settled.payment_intent is not None
    assert settled.payment_intent.status == "succeeded"
    failed = await client.v1.checkout.sessions.retrieve_async(bad.id, {"expand": ["payment_intent"]})
    assert failed.payment_status == "unpaid"
    assert not isinstance(failed.payment_intent, str) and failed.payment_intent is not None
    assert failed.payment_intent.status == "requires_payment_method"
    assert [e["type"] for e in sb.sandbox.events_of(good.id)] == [
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
    ]
    assert [e["type"] for e in sb.sandbox.events_of(bad.id)] == [
        "checkout.session.completed",
        "checkout.session.async_payment_failed",
    ]


async def test_refunds_partial_full_and_errors(sb: RunningSandbox) -> None:
    client = sdk(sb.url)
    session = await client.v1.checkout.sessions.create_async(checkout_params())
    await sb.sandbox.complete_session(session.id, "pay")
    intent_id = sb.sandbox.sessions[session.id]["payment_intent"]
    partial = await client.v1.refunds.create_async(
        {"payment_intent": intent_id, "amount": 1000, "reason": "requested_by_customer", "metadata": {"o": "1"}},
        {"idempotency_key": "refund-1"},
    )
    assert partial.id.startswith("re_") and (partial.amount, partial.status, partial.currency) == (
        1000,
        "succeeded",
        "usd",
    )
    assert partial.payment_intent == intent_id
    assert partial.metadata is not None and partial.metadata.to_dict() == {"o": "1"}
    charge_id = partial.charge
    assert isinstance(charge_id, str)
    charge = sb.sandbox.charges[charge_id]
    assert (charge["amount_refunded"], charge["refunded"]) == (1000, False)
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        await client.v1.refunds.create_async({"payment_intent": intent_id, "amount": 2301})
    assert (too_much.value.code, too_much.value.param) == ("amount_too_large", "amount")
    rest = await client.v1.refunds.create_async({"charge": charge_id})
    assert rest.amount == 2300
    assert (charge["amount_refunded"], charge["refunded"]) == (3300, True)
    with pytest.raises(stripe.InvalidRequestError) as done:
        await client.v1.refunds.create_async({"payment_intent": intent_id})
    assert done.value.code == "charge_already_refunded"
    assert (await client.v1.refunds.retrieve_async(partial.id)).amount == 1000
    with pytest.raises(stripe.InvalidRequestError) as neither:
        await client.v1.refunds.create_async({"amount": 5})
    assert neither.value.code == "parameter_missing"

    unpaid = await client.v1.checkout.sessions.create_async(checkout_params())
    await sb.sandbox.complete_session(unpaid.id, "decline")
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.refunds.create_async({"payment_intent": sb.sandbox.sessions[unpaid.id]["payment_intent"]})


async def test_idempotent_replay_mismatch_and_scope(sb: RunningSandbox) -> None:
    client = sdk(sb.url)
    params = checkout_params()
    first = await client.v1.checkout.sessions.create_async(params, {"idempotency_key": "order-1-attempt-1"})
    second = await client.v1.checkout.sessions.create_async(params, {"idempotency_key": "order-1-attempt-1"})
    assert second.id == first.id and len(sb.sandbox.sessions) == 1
    body = httpx.QueryParams({"mode": "payment"})
    replay_headers = {"Idempotency-Key": "raw-1", "Content-Type": "application/x-www-form-urlencoded"}
    one = await raw(sb, "POST", "/v1/checkout/sessions", content=str(body), headers=replay_headers)
    assert one.status_code == 400  # a validation failure is not stored ...
    fixed = "&".join(
        [
            "mode=payment",
            "line_items[0][quantity]=1",
            "line_items[0][price_data][currency]=usd",
            "line_items[0][price_data][unit_amount]=100",
            "line_items[0][price_data][product_data][name]=x",
        ]
    )
    two = await raw(sb, "POST", "/v1/checkout/sessions", content=fixed, headers=replay_headers)
    three = await raw(sb, "POST", "/v1/checkout/sessions", content=fixed, headers=replay_headers)
    assert two.status_code == three.status_code == 200  # ... so the corrected request runs under the same key
    assert three.json() == two.json() and three.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in two.headers and three.headers["request-id"] != two.headers["request-id"]

    with pytest.raises(stripe.IdempotencyError) as mismatch:
        await client.v1.checkout.sessions.create_async(
            checkout_params(client_reference_id="ord_2"), {"idempotency_key": "order-1-attempt-1"}
        )
    assert mismatch.value.http_status == 400
    assert "Try using a key other than 'order-1-attempt-1'" in str(mismatch.value.user_message)
    with pytest.raises(stripe.IdempotencyError):  # another endpoint
        await client.v1.refunds.create_async({"payment_intent": "pi_x"}, {"idempotency_key": "order-1-attempt-1"})

    sb.sandbox.add_key(OTHER_KEY)
    other = await sdk(sb.url, OTHER_KEY).v1.checkout.sessions.create_async(
        params, {"idempotency_key": "order-1-attempt-1"}
    )
    assert other.id != first.id  # keys are scoped to the API key


async def test_a_concurrent_request_with_the_same_key_gets_409(sb: RunningSandbox) -> None:
    sb.sandbox.faults.checkout_latency_ms = 300
    client = sdk(sb.url)
    params = checkout_params()
    first = asyncio.create_task(client.v1.checkout.sessions.create_async(params, {"idempotency_key": "busy"}))
    await asyncio.sleep(0.1)
    with pytest.raises(stripe.APIError) as busy:
        await client.v1.checkout.sessions.create_async(params, {"idempotency_key": "busy"})
    assert busy.value.http_status == 409
    assert busy.value.error is not None and busy.value.error.code == "idempotency_key_in_use"
    created = await first
    replayed = await client.v1.checkout.sessions.create_async(params, {"idempotency_key": "busy"})
    assert replayed.id == created.id and len(sb.sandbox.sessions) == 1


async def test_a_server_error_inside_the_endpoint_is_stored_and_replayed(
    sb: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(sb.sandbox, "create_session", broken)
    client = sdk(sb.url)
    params = checkout_params()  # the same parameters each time: expires_at moves with the clock
    for _ in range(2):
        with pytest.raises(stripe.APIError) as exc:
            await client.v1.checkout.sessions.create_async(params, {"idempotency_key": "five-hundred"})
        assert exc.value.http_status == 500 and exc.value.error is not None and exc.value.error.type == "api_error"
    monkeypatch.undo()
    with pytest.raises(stripe.APIError):  # replayed even now that the endpoint works
        await client.v1.checkout.sessions.create_async(params, {"idempotency_key": "five-hundred"})


async def test_authentication(sb: RunningSandbox) -> None:
    missing = await raw(sb, "GET", "/v1/checkout/sessions", key=None)
    assert missing.status_code == 401 and missing.json() == {
        "error": {"type": "invalid_request_error", "message": NO_KEY_MESSAGE}
    }
    assert missing.headers["request-id"].startswith("req_")
    with pytest.raises(stripe.AuthenticationError) as wrong:
        await sdk(sb.url, "sk_test_wrongkey000000000000c123").v1.checkout.sessions.list_async()
    assert wrong.value.http_status == 401
    assert wrong.value.json_body == {
        "error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****c123"}
    }
    basic = base64.b64encode(f"{KEY}:".encode()).decode()
    async with httpx.AsyncClient(base_url=sb.url) as http:
        assert (await http.get("/v1/checkout/sessions", headers={"Authorization": f"Basic {basic}"})).status_code == 200

    async with httpx.AsyncClient(base_url=sb.url) as control:
        assert (await control.post("/_sandbox/keys", json={"key": OTHER_KEY})).status_code == 200
        await sdk(sb.url, OTHER_KEY).v1.checkout.sessions.list_async()
        assert (await control.post("/_sandbox/keys/revoke", json={"key": OTHER_KEY})).status_code == 200
    with pytest.raises(stripe.AuthenticationError):
        await sdk(sb.url, OTHER_KEY).v1.checkout.sessions.list_async()
    sb.sandbox.revoke_key(KEY)
    with pytest.raises(stripe.AuthenticationError):
        await sdk(sb.url).v1.checkout.sessions.create_async(checkout_params())
    sb.sandbox.add_key(KEY)
    sb.sandbox.faults.reject_key = True
    with pytest.raises(stripe.AuthenticationError):
        await sdk(sb.url).v1.checkout.sessions.list_async()
    sb.sandbox.faults.reject_key = False
    await sdk(sb.url).v1.checkout.sessions.list_async()


async def test_injected_500s_and_the_sdk_retrying_with_the_same_key(sb: RunningSandbox) -> None:
    sb.sandbox.faults.fail_next = 1
    with pytest.raises(stripe.APIError) as failed:
        await sdk(sb.url).v1.checkout.sessions.create_async(checkout_params())
    assert failed.value.http_status == 500 and failed.value.error is not None
    assert failed.value.error.type == "api_error" and sb.sandbox.sessions == {}

    async with httpx.AsyncClient(base_url=sb.url) as control:
        await control.post("/_sandbox/faults", json={"fail_next": 2})
    retrying = sdk(sb.url, max_network_retries=3)
    session = await retrying.v1.checkout.sessions.create_async(checkout_params(), {"idempotency_key": "retried"})
    assert list(sb.sandbox.sessions) == [session.id] and sb.sandbox.faults.fail_next == 0


async def test_hanging_requests_time_out_and_latency_is_injected(sb: RunningSandbox) -> None:
    faults = sb.sandbox.faults
    faults.hang_next, faults.hang_seconds = 1, 1.5
    with pytest.raises(stripe.APIConnectionError):
        await sdk(sb.url, timeout=0.3).v1.checkout.sessions.list_async()
    assert faults.hang_next == 0
    await sdk(sb.url, timeout=0.3).v1.checkout.sessions.list_async()  # only the next N hang

    faults.checkout_latency_ms = 300
    started = time.perf_counter()
    await sdk(sb.url).v1.checkout.sessions.create_async(checkout_params())
    assert time.perf_counter() - started >= 0.3  # a lower bound only: timing never decides a pass


@pytest.mark.integration  # a served sandbox of its own
async def test_mounted_under_a_path_prefix() -> None:
    async with run_sandbox(api_keys={KEY}, prefix="/_sandbox_stripe") as mounted:
        assert mounted.url.endswith("/_sandbox_stripe")
        client = sdk(mounted.url)
        session = await client.v1.checkout.sessions.create_async(checkout_params())
        assert session.url == f"{mounted.url}/pay/{session.id}"
        assert (await client.v1.checkout.sessions.retrieve_async(session.id)).id == session.id
        async with httpx.AsyncClient() as http:
            hosted = await http.get(session.url)
            assert hosted.status_code == 200 and f'action="{session.url}"' in hosted.text
            paid = await http.post(session.url, data={"outcome": "pay"})
            assert paid.status_code == 303 and paid.headers["location"].endswith(f"session_id={session.id}")
            health = await http.get(f"{mounted.url}/_sandbox/health")
            assert health.json() == {"status": "ok"}
            outside = await http.get(mounted.url.removesuffix("/_sandbox_stripe") + "/v1/checkout/sessions")
            assert outside.status_code == 404


async def test_control_api_faults_and_inspection(sb: RunningSandbox) -> None:
    async with httpx.AsyncClient(base_url=sb.url) as control:
        updated = await control.post("/_sandbox/faults", json={"checkout_latency_ms": 5, "webhook_duplicate": True})
        assert updated.json()["checkout_latency_ms"] == 5 and sb.sandbox.faults.webhook_duplicate
        unknown = await control.post("/_sandbox/faults", json={"nope": 1})
        assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "nope"
        wrong_type = await control.post("/_sandbox/faults", json={"fail_next": "many"})
        assert wrong_type.status_code == 400 and sb.sandbox.faults.fail_next == 0
        not_json = await control.post("/_sandbox/faults", content=b"{")
        assert not_json.status_code == 400
        reset = await control.delete("/_sandbox/faults")
        assert reset.json()["checkout_latency_ms"] == 0 and not sb.sandbox.faults.webhook_duplicate

        session = await sdk(sb.url).v1.checkout.sessions.create_async(checkout_params())
        assert [s["id"] for s in (await control.get("/_sandbox/sessions")).json()["data"]] == [session.id]
        assert (await control.get(f"/_sandbox/sessions/{session.id}")).json()["status"] == "open"
        legacy = await control.post("/_sandbox/complete", json={"session_id": session.id, "outcome": "pay"})
        assert legacy.json()["payment_status"] == "paid"
        events = (await control.get("/_sandbox/events", params={"type": "checkout.session.completed"})).json()["data"]
        assert [e["data"]["object"]["id"] for e in events] == [session.id]
        other = await sdk(sb.url).v1.checkout.sessions.create_async(checkout_params())
        expired = await control.post(f"/_sandbox/sessions/{other.id}/expire")
        assert expired.json()["status"] == "expired"
        assert (await control.post(f"/_sandbox/sessions/{other.id}/expire")).status_code == 400
        assert (await control.post("/_sandbox/sessions/cs_test_nope/expire")).status_code == 404
        assert (await control.get("/_sandbox/deliveries")).json() == {"data": [], "held": []}  # no endpoint configured
