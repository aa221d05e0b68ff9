"""Fault injection for tests and benchmarks, settable from Python (``sandbox.faults.fail_next = 2``) and from the
control API (``POST /_sandbox/faults {"fail_next": 2}``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from boxoffice.sandbox.errors import SandboxError

REORDER_MODES = ("reverse", "shuffle")


@dataclass
class Faults:
    # The API
    checkout_latency_ms: int = 0
    """Delay before answering ``POST /v1/checkout/sessions`` (applied after the idempotency check)."""
    fail_next: int = 0
    """The next N API requests answer ``fail_status`` with an ``api_error`` body, before reaching the endpoint
    (so nothing is stored under their idempotency key and a retry can succeed)."""
    fail_status: int = 500
    hang_next: int = 0
    """The next N API requests stall for ``hang_seconds`` (longer than the client's timeout), then proceed."""
    hang_seconds: float = 30.0
    reject_key: bool = False
    """Every API request answers 401 as if the key had been rolled."""
    # Webhooks
    webhook_paused: bool = False
    """Hold every delivery (attempts already under way finish) until set back to False."""
    webhook_duplicate: bool = False
    """Deliver every event emitted while set twice (two separate deliveries of the same event)."""
    webhook_delay_ms: int = 0
    """Wait before the first attempt of each delivery."""
    webhook_reorder: bool = False
    """Hold events emitted while set until ``flush_webhooks()`` (or until ``webhook_reorder_batch`` are held), then
    deliver the batch in ``webhook_reorder_mode`` order."""
    webhook_reorder_batch: int = 0
    webhook_reorder_mode: str = "reverse"
    webhook_drop: bool = False
    """Never deliver events emitted while set (they are logged as dropped)."""
    webhook_drop_next: int = 0
    """Never deliver the next N events."""

    def update(self, values: dict[str, Any]) -> None:
        """Set several faults at once, checking names and types (for the control API)."""
        types = {f.name: f.type for f in dataclasses.fields(self)}
        checked: dict[str, Any] = {}
        for name, value in values.items():
            if name not in types:
                raise SandboxError(400, f"Unknown fault: {name}", code="parameter_unknown", param=name)
            checked[name] = _coerce(name, types[name], value)
        for name, value in checked.items():
            setattr(self, name, value)

    def reset(self) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, f.default)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(name: str, kind: object, value: Any) -> Any:
    if kind in (bool, "bool"):
        if isinstance(value, bool):
            return value
    elif kind in (int, "int"):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    elif kind in (float, "float"):
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
    elif name == "webhook_reorder_mode" and value in REORDER_MODES:
        return value
    raise SandboxError(400, f"Invalid value for fault {name}: {value!r}", code="parameter_invalid", param=name)
