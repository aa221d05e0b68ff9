"""The Stripe gateway keeps at most ``max_concurrency`` requests in flight per process; the others wait."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import stripe
from pydantic import SecretStr

from boxoffice.payments.gateway import StripeGateway, StripeUnavailable
from boxoffice.payments.keys import StripeConfig


def gateway(max_concurrency: int) -> StripeGateway:
    config = StripeConfig("test", SecretStr("sk_test_concurrency"), (SecretStr("whsec_x"),), "http://127.0.0.1:1", None)
    return StripeGateway(config, max_concurrency=max_concurrency)


async def test_requests_beyond_the_cap_wait_their_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    gw = gateway(3)
    in_flight, peak, release = 0, 0, asyncio.Event()

    async def create_async(params: Any, options: Any) -> Any:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await release.wait()
        in_flight -= 1
        return {"id": options["idempotency_key"]}

    monkeypatch.setattr(gw.client.v1.checkout.sessions, "create_async", create_async)
    calls = [asyncio.create_task(gw.create_checkout_session({}, idempotency_key=f"k{i}")) for i in range(10)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert in_flight == 3
    release.set()
    results = await asyncio.gather(*calls)
    assert [r["id"] for r in results] == [f"k{i}" for i in range(10)]
    assert peak == 3


async def test_a_failed_request_gives_its_slot_back(monkeypatch: pytest.MonkeyPatch) -> None:
    gw = gateway(1)

    async def failing(*args: Any) -> Any:
        raise stripe.APIConnectionError("network down")

    monkeypatch.setattr(gw.client.v1.checkout.sessions, "create_async", failing)
    for _ in range(3):
        with pytest.raises(StripeUnavailable):
            await asyncio.wait_for(gw.create_checkout_session({}, idempotency_key="k"), 2)
