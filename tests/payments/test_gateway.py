"""The Stripe gateway: at most ``max_concurrency`` requests in flight per process (the others wait), and network
failures, also in the middle of an answer, reported as Stripe being unavailable."""

from __future__ import annotations

import asyncio
import urllib.parse
from types import SimpleNamespace
from typing import Any

import pytest
import stripe
from pydantic import SecretStr

from boxoffice.payments.gateway import StripeGateway, StripeRequestRejected, StripeUnavailable
from boxoffice.payments.keys import StripeConfig


def gateway(max_concurrency: int, api_base: str = "http://127.0.0.1:1", **options: Any) -> StripeGateway:
    config = StripeConfig("test", SecretStr("sk_test_concurrency"), (SecretStr("whsec_x"),), api_base, None)
    return StripeGateway(config, max_concurrency=max_concurrency, **options)


async def test_requests_beyond_the_cap_wait_their_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    gw = gateway(3)
    in_flight, peak, release = 0, 0, asyncio.Event()

    async def raw_request_async(method: str, url: str, **params: Any) -> Any:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await release.wait()
        in_flight -= 1
        key = params["idempotency_key"]
        return SimpleNamespace(data={"id": f"cs_{key}", "url": f"https://pay.test/{key}"})

    monkeypatch.setattr(gw.client, "raw_request_async", raw_request_async)
    calls = [asyncio.create_task(gw.create_checkout_session({}, idempotency_key=f"k{i}")) for i in range(10)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert in_flight == 3
    release.set()
    results = await asyncio.gather(*calls)
    await gw.close()  # the first tries' connection pool
    assert [(r.id, r.url) for r in results] == [(f"cs_k{i}", f"https://pay.test/k{i}") for i in range(10)]
    assert peak == 3


async def test_a_failed_request_gives_its_slot_back(monkeypatch: pytest.MonkeyPatch) -> None:
    gw = gateway(1)

    async def failing(*args: Any, **kwargs: Any) -> Any:
        raise stripe.APIConnectionError("network down")

    monkeypatch.setattr(gw.client, "raw_request_async", failing)
    try:
        for _ in range(3):
            with pytest.raises(StripeUnavailable):
                await asyncio.wait_for(gw.create_checkout_session({}, idempotency_key="k"), 2)
    finally:
        await gw.close()


async def test_an_answer_cut_off_mid_body_is_a_retried_network_error() -> None:
    attempts = 0

    async def cut_off(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal attempts
        attempts += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"id":')
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(cut_off, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gw = gateway(4, f"http://127.0.0.1:{port}", max_network_retries=1, timeout=5)
    try:
        with pytest.raises(StripeUnavailable) as exc:
            await asyncio.wait_for(gw.create_checkout_session({"mode": "payment"}, idempotency_key="cut"), 30)
        assert "sk_test_concurrency" not in str(exc.value)
        assert attempts == 2  # the first try and one retry
    finally:
        await gw.close()
        server.close()
        await server.wait_closed()


async def serve_once(answer: bytes, seen: list[tuple[bytes, bytes]], status: bytes = b"200 OK") -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        seen.append((head, await reader.readexactly(length)))
        writer.write(
            b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (status, len(answer))
            + answer
        )
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def checkout_against(
    answer: bytes, status: bytes = b"200 OK", params: dict[str, Any] | None = None, key: str = "k"
) -> tuple[Any, list[tuple[bytes, bytes]]]:
    """A Checkout Session created against a server that answers ``answer`` once: what the gateway returned (or
    raised), and the requests the server got."""
    seen: list[tuple[bytes, bytes]] = []
    server = await serve_once(answer, seen, status)
    gw = gateway(4, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    try:
        outcome: Any = await gw.create_checkout_session(params or {"mode": "payment"}, idempotency_key=key)
    except Exception as exc:
        outcome = exc
    finally:
        await gw.close()
        server.close()
        await server.wait_closed()
    return outcome, seen


async def test_a_checkout_session_is_posted_form_encoded_with_its_idempotency_key() -> None:
    params = {
        "mode": "payment",
        "line_items": [{"quantity": 2, "price_data": {"currency": "usd", "unit_amount": 1500}}],
        "metadata": {"order_id": "ord_1"},
    }
    answer = b'{"id": "cs_test_1", "object": "checkout.session", "url": "https://pay.test/1"}'
    created, seen = await checkout_against(answer, params=params, key="order-ord_1-0")
    assert (created.id, created.url) == ("cs_test_1", "https://pay.test/1")
    ((head, body),) = seen
    assert head.startswith(b"POST /v1/checkout/sessions HTTP/1.1")
    assert b"idempotency-key: order-ord_1-0" in head.lower()
    assert urllib.parse.parse_qs(body.decode()) == {
        "mode": ["payment"],
        "line_items[0][quantity]": ["2"],
        "line_items[0][price_data][currency]": ["usd"],
        "line_items[0][price_data][unit_amount]": ["1500"],
        "metadata[order_id]": ["ord_1"],
    }


@pytest.mark.parametrize(
    "answer",
    [
        b'{"id": "cs_test_2", "object": "checkout.session", "url": null}',
        b'{"id": "cs_test_3", "url": "https://pay',
        b"\xff\xfe",
        b'["cs_test_3"]',
        b"null",
    ],
)
async def test_a_success_that_is_not_a_session_with_a_url_is_stripe_being_unavailable(answer: bytes) -> None:
    failure, seen = await checkout_against(answer)
    assert isinstance(failure, StripeUnavailable)
    assert len(seen) == 1  # a success is final: not sent again
    assert "sk_test_concurrency" not in str(failure)


async def test_a_refusal_is_read_by_the_sdk_and_reported_with_stripes_message() -> None:
    error = (
        b'{"error": {"type": "invalid_request_error", "code": "parameter_invalid_integer", '
        b'"message": "Invalid integer: x", "param": "line_items[0][quantity]"}}'
    )
    failure, seen = await checkout_against(error, b"400 Bad Request")
    assert isinstance(failure, StripeRequestRejected)
    assert len(seen) == 1
    assert failure.extra.get("stripe_code") == "parameter_invalid_integer"
    assert "parameter_invalid_integer" in str(failure)
