"""The processes a benchmark starts (Stripe sandbox, ``boxoffice serve``, ``boxoffice worker``), started the way
``flash_sale`` starts them, and stopped however the benchmark ends.

Every process runs in a session of its own and is stopped (SIGTERM to its group, then SIGKILL) when its context
ends: on success, on an exception, on Ctrl-C, and on SIGTERM to the benchmark (``stop_on_sigterm`` turns it into
KeyboardInterrupt). Should the benchmark itself be killed (SIGKILL), each direct child gets SIGTERM from the kernel
(``PR_SET_PDEATHSIG``) and stops its own workers as on any SIGTERM.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.flash_sale import API_KEY, PY, ROOT, WEBHOOK_SECRET

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child, between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # only a prctl call between fork and exec
        )
        try:
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def stop_on_sigterm() -> None:
    """SIGTERM to the benchmark unwinds like Ctrl-C, so every ``process`` context stops its process."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def box_env(
    db_url: str, box_url: str, sandbox_port: int, logs: Path, redis: str | None, **extra: str
) -> dict[str, str]:
    """Boxoffice's environment as ``flash_sale`` sets it: production, a test-mode key at the standalone sandbox,
    the limits per client address off (every simulated buyer comes from 127.0.0.1)."""
    env = {
        **os.environ,
        "BOXOFFICE_ENV": "production",
        "BOXOFFICE_DATABASE_URL": db_url,
        "BOXOFFICE_PUBLIC_URL": box_url,
        "BOXOFFICE_SECRET_KEY": secrets.token_urlsafe(32),
        "BOXOFFICE_LOG_LEVEL": "WARNING",
        "BOXOFFICE_MAIL_DIR": str(logs / "mail"),
        "BOXOFFICE_ORDER_RATE_PER_MINUTE": "0",
        "BOXOFFICE_MAX_HELD_TICKETS_PER_ADDRESS": "0",
        "STRIPE_SECRET_KEY": API_KEY,
        "STRIPE_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "STRIPE_API_BASE": f"http://127.0.0.1:{sandbox_port}",
        **extra,
    }
    if redis:
        env["BOXOFFICE_REDIS_URL"] = redis
    return env


def sandbox_args(port: int, webhook_url: str, latency_ms: int = 0) -> list[str]:
    return [
        PY,
        "-m",
        "boxoffice.cli",
        "sandbox",
        "--port",
        str(port),
        "--api-key",
        API_KEY,
        "--webhook-secret",
        WEBHOOK_SECRET,
        "--webhook-url",
        webhook_url,
        "--checkout-latency-ms",
        str(latency_ms),
    ]


def serve_args(port: int, workers: int = 1) -> list[str]:
    return [PY, "-m", "boxoffice.cli", "serve", "--port", str(port), "--workers", str(workers)]


def worker_args() -> list[str]:
    return [PY, "-m", "boxoffice.cli", "worker"]
