"""Stripe events for tests that deliver them themselves, in the order (or all at once) they choose: the sandbox's own
events (held back with ``webhook_paused``) and events made from its objects, signed with the shop's webhook secret
and handed to ``box.webhooks.receive`` as the HTTP endpoint would."""

from __future__ import annotations

import copy
import json
import secrets
from typing import Any

from boxoffice.payments.webhooks import WebhookOutcome, sign_payload
from tests.server import LiveServer


def sandbox_event(shop: LiveServer, object_id: str, kind: str) -> dict[str, Any]:
    """The (last) event of ``kind`` the sandbox emitted for ``object_id``."""
    assert shop.box.sandbox is not None
    found = [e for e in shop.box.sandbox.events_of(object_id) if e["type"] == kind]
    assert found, f"the sandbox emitted no {kind} for {object_id}"
    return found[-1]


def made_event(kind: str, obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A new event of ``kind`` about a copy of ``obj`` with ``changes`` (a fresh event id)."""
    data = copy.deepcopy(obj)
    data.update(changes)
    return {
        "id": f"evt_test_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": 1_700_000_000,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
        "data": {"object": data},
    }


async def deliver(shop: LiveServer, event: dict[str, Any]) -> WebhookOutcome:
    """The event through the webhook processor, correctly signed (what ``POST /webhooks/stripe`` does)."""
    payload = json.dumps(event).encode()
    return await shop.box.webhooks.receive(payload, sign_payload(payload, shop.box.webhooks.secrets))
