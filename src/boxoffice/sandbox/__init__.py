"""A local, stateful, test-mode stand-in for the parts of Stripe that Boxoffice uses.

It speaks Stripe's wire format, so the official SDK talks to it unchanged
(``stripe.StripeClient(key, base_addresses={"api": url})``); it serves a hosted checkout page, delivers signed
webhooks, and injects faults. Built from ``shared/stripe`` (Stripe's OpenAPI subset, fixtures and notes).

- ``Sandbox``: state and behaviour, usable directly from Python tests (``complete_session``, ``faults``, ...).
- ``create_sandbox_app``: its ASGI app (API, hosted page, control API), to serve or mount under a prefix.
- ``run_sandbox``: serve it with Uvicorn in the current event loop on a free port.
"""

from __future__ import annotations

from boxoffice.sandbox.app import create_sandbox_app
from boxoffice.sandbox.config import SandboxConfig
from boxoffice.sandbox.delivery import Delivery, sign
from boxoffice.sandbox.errors import SandboxError
from boxoffice.sandbox.faults import Faults
from boxoffice.sandbox.objects import API_VERSION
from boxoffice.sandbox.server import RunningSandbox, run_sandbox
from boxoffice.sandbox.state import OUTCOMES, Sandbox

__all__ = [
    "API_VERSION",
    "OUTCOMES",
    "Delivery",
    "Faults",
    "RunningSandbox",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "create_sandbox_app",
    "run_sandbox",
    "sign",
]
