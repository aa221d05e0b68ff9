"""Fixtures for the sandbox tests: Stripe's reference files, a fresh served sandbox per test, a webhook receiver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from boxoffice.sandbox import RunningSandbox, run_sandbox
from tests.sandbox.support import FAST_RETRIES, KEY, SECRET, OpenApi, WebhookReceiver, serve, shared_dir


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared Stripe reference directory; its absence is a failure, never a skip."""
    path = shared_dir().resolve()
    if not (path / "stripe" / "openapi-subset.json").is_file():
        pytest.fail(f"Stripe reference files are missing: expected {path}/stripe (openapi-subset.json, fixtures/)")
    return path


@pytest.fixture(scope="session")
def openapi(shared: Path) -> OpenApi:
    return OpenApi(json.loads((shared / "stripe" / "openapi-subset.json").read_text()))


@pytest.fixture
async def sb() -> AsyncIterator[RunningSandbox]:
    """A served sandbox without a webhook endpoint."""
    async with run_sandbox(api_keys={KEY}) as running:
        yield running


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    hook = WebhookReceiver()
    async with serve(hook.app()) as url:
        hook.url = url + "/webhooks/stripe"
        yield hook


@pytest.fixture
async def hooked(receiver: WebhookReceiver) -> AsyncIterator[RunningSandbox]:
    """A served sandbox delivering signed webhooks to ``receiver`` with fast retries."""
    async with run_sandbox(
        api_keys={KEY},
        webhook_url=receiver.url,
        webhook_secrets=[SECRET],
        retry_schedule=list(FAST_RETRIES),
        delayed_payment_seconds=0.2,
        expiry_check_interval=0.05,
    ) as running:
        yield running
