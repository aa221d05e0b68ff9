"""Prometheus metrics kept in memory by each process: the order path's latencies, Stripe calls, webhook lag, email
failures and open live streams. Observing one costs a clock read and a few additions, never a database statement.

What the database already knows (orders by status, the outbox backlog, failed emails, held tickets) is not counted
here but read from the database when ``/metrics`` is scraped (``web/metrics.py``), so every process answers the same.

Several processes: when ``PROMETHEUS_MULTIPROC_DIR`` is set (``boxoffice serve --workers N`` sets it), prometheus_client
keeps these values in memory-mapped files of that folder and a scrape of any process adds up every process's values
(``multiprocess_registry``). README, "Metrics and alerts".
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess

from boxoffice.errors import BoxofficeError

P = ParamSpec("P")
R = TypeVar("R")
E = TypeVar("E", bound=Exception)

# prometheus_client chose its mode when it was imported (just above): read the variable as it saw it.
MULTIPROCESS_DIR: str | None = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
REGISTRY = CollectorRegistry(auto_describe=True)
"""This process's metrics (in multiprocess mode they are read from the shared folder instead)."""

OUTCOMES = ("ok", "refused", "error")
"""``ok``; ``refused``: a domain error answered to the client (sold out, invalid input, a limit, Stripe refusing or
unreachable); ``error``: anything unexpected (a bug, the database gone)."""

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_REMOTE = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
_LAG = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 24 * 3600.0)

RESERVATION_SECONDS = Histogram(
    "boxoffice_reservation_seconds",
    "Time to reserve an order's tickets (the database transaction, before any Stripe call), by outcome.",
    ["outcome"],
    buckets=_FAST,
    registry=REGISTRY,
)
CHECKOUT_SECONDS = Histogram(
    "boxoffice_checkout_seconds",
    "Time to start a pending order's Stripe checkout (create the Checkout Session and store it), by outcome.",
    ["outcome"],
    buckets=_REMOTE,
    registry=REGISTRY,
)
STRIPE_REQUEST_SECONDS = Histogram(
    "boxoffice_stripe_request_seconds",
    "Time of one Stripe API call, the SDK's retries included, by operation (failed calls too).",
    ["operation"],
    buckets=_REMOTE,
    registry=REGISTRY,
)
STRIPE_ERRORS = Counter(
    "boxoffice_stripe_errors",
    "Stripe API calls that failed after the SDK's retries, by operation and error code "
    "(payment-provider-unavailable, -auth, -rejected).",
    ["operation", "code"],
    registry=REGISTRY,
)
WEBHOOK_LAG_SECONDS = Histogram(
    "boxoffice_webhook_lag_seconds",
    "From a Stripe event's creation (its `created`, whole seconds) to the end of its processing here; "
    "duplicates are not counted.",
    buckets=_LAG,
    registry=REGISTRY,
)
EMAIL_FAILURES = Counter(
    "boxoffice_email_failures",
    "Email sending attempts that failed; final=true when it was the last try (the email is then `failed`).",
    ["final"],
    registry=REGISTRY,
)
SSE_SUBSCRIBERS = Gauge(
    "boxoffice_sse_subscribers",
    "Live streams (Server-Sent Events) open now.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)

_EMAIL_FAILED = {final: EMAIL_FAILURES.labels(final=str(final).lower()) for final in (False, True)}


def timed(metric: Histogram) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Decorate an async function to observe its duration in ``metric`` (labelled by ``outcome``)."""
    ok, refused, error = (metric.labels(outcome=outcome) for outcome in OUTCOMES)

    def decorate(function: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(function)
        async def measured(*args: P.args, **kwargs: P.kwargs) -> R:
            start = time.perf_counter()
            try:
                result = await function(*args, **kwargs)
            except BoxofficeError:
                refused.observe(time.perf_counter() - start)
                raise
            except BaseException:
                error.observe(time.perf_counter() - start)
                raise
            ok.observe(time.perf_counter() - start)
            return result

        return measured

    return decorate


@functools.cache
def operation(action: str) -> str:
    """A gateway's action ("create a Checkout Session") as a label value (``create_checkout_session``)."""
    return "_".join(word for word in action.lower().split() if word not in ("a", "an", "the"))


@functools.cache
def _stripe_seconds(action: str) -> Histogram:
    return STRIPE_REQUEST_SECONDS.labels(operation=operation(action))


async def stripe_call(action: str, call: Awaitable[R]) -> R:
    """Await one Stripe call, observing its duration under its operation (whether it succeeds or fails)."""
    start = time.perf_counter()
    try:
        return await call
    finally:
        _stripe_seconds(action).observe(time.perf_counter() - start)


def stripe_failed(action: str, error: E) -> E:
    """Count a Stripe call that failed (``error`` is the translated failure, whose ``code`` says how); returns it."""
    STRIPE_ERRORS.labels(operation=operation(action), code=str(getattr(error, "code", "error"))).inc()
    return error


def webhook_processed(created: object, *, now: float | None = None) -> None:
    """A Stripe event has been processed: observe how long after its creation (when it carries a usable one)."""
    if isinstance(created, int | float) and not isinstance(created, bool):
        WEBHOOK_LAG_SECONDS.observe(max(0.0, (time.time() if now is None else now) - created))


def email_failed(*, final: bool) -> None:
    _EMAIL_FAILED[final].inc()


def multiprocess_dir() -> str | None:
    """The folder the processes share their values in, or ``None`` (single-process mode)."""
    return MULTIPROCESS_DIR


def multiprocess_registry(path: str) -> CollectorRegistry:
    """A registry that adds up the values every process wrote to ``path``."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return registry


def process_stopped() -> None:
    """At a process's orderly end: its live gauges (open streams) stop counting in multiprocess mode."""
    path = multiprocess_dir()
    if path is not None:
        multiprocess.mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]
