"""A local, stateful, test-mode stand-in for the parts of Stripe that Boxoffice uses.

It speaks Stripe's wire format, so the official SDK talks to it unchanged
(``stripe.StripeClient(key, base_addresses={"api": url})``); it serves a hosted checkout page, delivers signed
webhooks, and injects faults. Built from ``shared/stripe`` (Stripe's OpenAPI subset, fixtures and notes).

- ``Sandbox``: state and behaviour, usable directly from Python tests (``complete_session``, ``faults``, ...).
- ``create_sandbox_app``: its ASGI app (API, hosted page, control API), to serve or mount under a prefix.
- ``run_sandbox``: serve it with Uvicorn in the current event loop on a free port.

The names below are imported from their modules when first used, not with the package: a production web worker
(which never runs the sandbox) imports only ``policy``, the checkout page's Content-Security-Policy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boxoffice.sandbox.app import create_sandbox_app
    from boxoffice.sandbox.config import SandboxConfig
    from boxoffice.sandbox.delivery import Delivery, sign
    from boxoffice.sandbox.errors import SandboxError
    from boxoffice.sandbox.faults import Faults
    from boxoffice.sandbox.objects import API_VERSION
    from boxoffice.sandbox.server import RunningSandbox, run_sandbox
    from boxoffice.sandbox.state import OUTCOMES, Sandbox

_MODULES = {
    "API_VERSION": "objects",
    "OUTCOMES": "state",
    "Delivery": "delivery",
    "Faults": "faults",
    "RunningSandbox": "server",
    "Sandbox": "state",
    "SandboxConfig": "config",
    "SandboxError": "errors",
    "create_sandbox_app": "app",
    "run_sandbox": "server",
    "sign": "delivery",
}

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


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
    globals()[name] = value  # once: the next look-up finds it without this function
    return value
