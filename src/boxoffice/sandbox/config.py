"""The sandbox's configuration. Mutable at runtime: tests roll webhook secrets or move the endpoint on the fly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

DEFAULT_RETRY_SCHEDULE = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


@dataclass
class SandboxConfig:
    api_keys: set[str]
    """Accepted secret keys (``sk_test_...``, ``rk_test_...``)."""
    public_url: str
    """Absolute base URL where the sandbox app is reachable, mount prefix included, no trailing slash."""
    webhook_url: str | None = None
    """Where events are POSTed; ``None``: no endpoint, nothing is delivered."""
    webhook_secrets: list[str] = field(default_factory=list)
    """Active signing secrets (``whsec_...``); each gets its own ``v1`` entry in ``Stripe-Signature``."""
    retry_schedule: list[float] = field(default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE))
    """Seconds to wait before each retry of a failed delivery; after the last one the delivery is given up."""
    delayed_payment_seconds: float = 5.0
    """How long a delayed-notification payment stays ``processing`` before it settles on its own."""
    expiry_check_interval: float = 5.0
    """How often open sessions past ``expires_at`` are expired."""
    delivery_timeout: float = 10.0
    """Seconds before a webhook attempt counts as failed (Stripe treats a timeout as a failure)."""
    webhook_transport: httpx.AsyncBaseTransport | None = None
    """Transport for webhook deliveries (an ``httpx.MockTransport`` or ``ASGITransport`` in tests); default: network."""
