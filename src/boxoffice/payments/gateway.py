"""The Stripe adapter: the official SDK's ``StripeClient`` with async methods over aiohttp.

Network errors, timeouts, 409 and 5xx are retried by the SDK with backoff and the same idempotency key. What is
left after the retries is turned into one of the errors below, whose messages never contain a key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pydantic_core

from boxoffice import metrics
from boxoffice.errors import BoxofficeError
from boxoffice.payments.form import form_body
from boxoffice.payments.keys import StripeConfig


@contextmanager
def _unimportable(*names: str) -> Iterator[None]:
    """While inside, importing one of ``names`` (not yet imported) raises ImportError, as if it were not installed."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # the import system's own "not importable" mark
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


# The SDK picks its default HTTP clients when it is imported, by importing requests (sync) and httpx (async), which
# Boxoffice never uses: every call goes through PooledAIOHTTPClient below. Hidden, they are not loaded into every
# web worker (requests, urllib3 and charset_normalizer: 4.4 MB; httpx, httpcore and the command-line tools httpx's
# import brings in, rich and pygments: 4.2 MB); the SDK's unused defaults fall back to urllib and aiohttp.
with _unimportable("requests", "httpx"):
    import stripe

log = logging.getLogger("boxoffice.payments")


class StripeFailure(BoxofficeError):
    code = "payment-provider-error"
    title = "Payment provider error"


class StripeKeyRejected(StripeFailure):
    code = "payment-provider-auth"
    title = "Payment provider rejected our credentials"


class StripeUnavailable(StripeFailure):
    code = "payment-provider-unavailable"
    title = "Payment provider unavailable"


class StripeRequestRejected(StripeFailure):
    code = "payment-provider-rejected"
    title = "Payment provider rejected the request"


class PooledAIOHTTPClient(stripe.AIOHTTPClient):
    """The SDK's aiohttp client, which spends about half the CPU per request of its httpx client here (1.5 against
    2.6 ms with 32 requests in flight; httpx polls every pooled connection on each request). Its one pool keeps
    ``max_connections`` connections alive for bursts of checkouts and is made in the running event loop on first
    use; a failure while reading the answer's body is a network error like any other (the SDK retries it)."""

    def __init__(self, *, timeout: float, max_connections: int) -> None:
        self._post_timeout = aiohttp.ClientTimeout(total=timeout)
        super().__init__(timeout=self._post_timeout)
        self._max_connections = max_connections
        self._pool: aiohttp.ClientSession | None = None

    @property
    def _session(self) -> aiohttp.ClientSession:
        if self._pool is None:
            connector = aiohttp.TCPConnector(
                ssl=ssl.create_default_context(cafile=stripe.ca_bundle_path),
                limit=self._max_connections,
                keepalive_timeout=30,
            )
            self._pool = aiohttp.ClientSession(connector=connector)
        return self._pool

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        content, status, response_headers = await self.request_stream_async(method, url, headers, post_data)
        try:
            body = await content.read()
        except Exception as exc:
            self._handle_request_error(exc)
        return body, status, response_headers

    async def post_once(self, url: str, headers: Mapping[str, str], body: str) -> tuple[bytes, int, Mapping[str, str]]:
        """One POST on the pool, no retry: its body, status and headers (as the SDK's ``request_async`` answers)."""
        async with self._session.post(url, headers=headers, data=body, timeout=self._post_timeout) as response:
            return await response.read(), response.status, response.headers

    async def close_async(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


@dataclass(frozen=True)
class CreatedSession:
    """What checkout needs of a new Checkout Session: its id and the URL of its hosted page."""

    id: str
    url: str


class StripeGateway:
    """``max_concurrency`` caps the requests in flight to Stripe from this process; the others wait their turn: a
    bound on the connections kept to Stripe and on a burst against its rate limit."""

    def __init__(
        self, config: StripeConfig, *, max_network_retries: int = 3, timeout: float = 20.0, max_concurrency: int = 64
    ) -> None:
        self.config = config
        self.key_rejected = False
        self._max_network_retries = max_network_retries
        self._slots = asyncio.Semaphore(max_concurrency)
        self._http = PooledAIOHTTPClient(timeout=timeout, max_connections=max_concurrency)
        base_addresses: dict[str, str] = {}
        if config.api_base:
            base_addresses["api"] = config.api_base.rstrip("/")
        self.client = stripe.StripeClient(
            config.secret_key.get_secret_value(),
            base_addresses=base_addresses,  # type: ignore[arg-type]
            max_network_retries=max_network_retries,
            http_client=self._http,
        )
        # The first try of a Checkout Session (``_first_try``): the headers the SDK sends, made once.
        self._sessions_url = base_addresses.get("api", stripe.DEFAULT_API_BASE) + "/v1/checkout/sessions"
        self._post_headers = {
            "Authorization": f"Bearer {config.secret_key.get_secret_value()}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Stripe-Version": stripe.api_version,
            "User-Agent": f"Stripe/v1 PythonBindings/{stripe.VERSION}",
            "X-Stripe-Client-User-Agent": json.dumps(
                {"bindings_version": stripe.VERSION, "lang": "python", "httplib": self._http.name}
            ),
        }

    async def close(self) -> None:
        """Close the connections to Stripe (at shutdown)."""
        await self._http.close_async()

    def __repr__(self) -> str:
        return f"StripeGateway(mode={self.config.mode!r}, api_base={self.config.api_base!r})"

    def _translate(self, exc: stripe.StripeError, action: str) -> StripeFailure:
        request_id = getattr(exc, "request_id", None)
        if isinstance(exc, stripe.AuthenticationError):
            self.key_rejected = True
            msg = (
                f"Stripe rejected the API key ({self.config.mode} mode) while trying to {action}: the key is invalid, "
                "revoked or rotated. Set a valid STRIPE_SECRET_KEY and restart; the order stays unpaid and can be "
                "retried."
            )
            log.error(msg, extra={"stripe_request_id": request_id})
            return StripeKeyRejected(msg)
        if isinstance(exc, stripe.PermissionError):
            msg = (
                f"Stripe refused to {action} with this restricted key ({self.config.mode} mode): "
                "a permission is missing"
            )
            log.error(msg, extra={"stripe_request_id": request_id})
            return StripeKeyRejected(msg)
        if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or (
            isinstance(exc, stripe.APIError) and not isinstance(exc, stripe.InvalidRequestError)
        ):
            msg = f"Stripe is unreachable or failing (could not {action}); please try again shortly"
            log.warning(msg, extra={"stripe_request_id": request_id, "error": type(exc).__name__})
            return StripeUnavailable(msg)
        user_message = getattr(exc, "user_message", None) or "invalid request"
        code = getattr(exc, "code", None)
        msg = f"Stripe refused to {action}: {user_message}" + (f" ({code})" if code else "")
        log.error(msg, extra={"stripe_request_id": request_id})
        return StripeRequestRejected(msg, stripe_code=code)

    def _ok(self) -> None:
        self.key_rejected = False

    async def _call(self, action: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """One SDK call within the concurrency cap, its errors translated (``action`` names it in messages)."""
        try:
            async with self._slots:
                result = await metrics.stripe_call(action, call())
        except stripe.StripeError as exc:
            raise metrics.stripe_failed(action, self._translate(exc, action)) from None
        self._ok()
        return result

    async def create_checkout_session(self, params: dict[str, Any], *, idempotency_key: str) -> CreatedSession:
        """Create a Checkout Session; only its id and URL are read from the answer.

        Its first attempt is one POST made here (``_first_try``), with the SDK's form encoding (``payments.form``)
        and headers made once; a success's JSON is read here, any other answer it need not retry by the SDK's own
        response handling (its errors, translated as for every call); a network failure or an answer to retry
        (409, 5xx, ``Stripe-Should-Retry``) goes to the SDK's own request with the same idempotency key and one
        retry fewer, so the attempts are the same as the SDK's alone. The answer is never turned into SDK objects:
        that conversion walks every field of the session and measured a seventh of a web process's CPU per order."""
        action = "create a Checkout Session"
        try:
            async with self._slots:
                data = await metrics.stripe_call(action, self._first_try(params, idempotency_key))
        except stripe.StripeError as exc:
            raise metrics.stripe_failed(action, self._translate(exc, action)) from None
        if data is None:
            response = await self._call(
                action,
                lambda: self.client.raw_request_async(
                    "post",
                    "/v1/checkout/sessions",
                    idempotency_key=idempotency_key,
                    max_network_retries=self._max_network_retries - 1,
                    **params,
                ),
            )
            data = getattr(response, "data", None)
        else:
            self._ok()
        session_id = data.get("id") if isinstance(data, dict) else None
        url = data.get("url") if isinstance(data, dict) else None
        if not isinstance(session_id, str) or not isinstance(url, str) or not session_id or not url:
            msg = "Stripe answered the Checkout Session creation without a session id and URL; please try again"
            log.error(msg)
            raise StripeUnavailable(msg)
        return CreatedSession(session_id, url)

    async def _first_try(self, params: dict[str, Any], idempotency_key: str) -> dict[str, Any] | None:
        """The answer to one plain POST (its JSON object; anything else as an empty one), or None when the SDK's
        request should try again (a network failure or an answer to retry, with retries left). Raises the SDK's
        error for an answer that is final. The SDK's own request work per call (its headers with a platform
        description, logging the body and the answer even when logging is off, its retry bookkeeping) measured about
        0.3 ms of CPU per order here. A success's JSON is read by pydantic-core: the SDK reads it into ordered dicts
        with a hook called for every object of the session, a tenth of the call's CPU; an answer it cannot read, and
        any error, is read by the SDK, as before."""
        body = form_body(params)
        headers = {**self._post_headers, "Idempotency-Key": idempotency_key}
        try:
            answer = await self._http.post_once(self._sessions_url, headers, body)
        except (TimeoutError, aiohttp.ClientError) as exc:
            if self._max_network_retries > 0:
                return None
            raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]
                f"Network error: {type(exc).__name__}", should_retry=True
            ) from None
        # The SDK's own rules (private names of the pinned SDK version): whether to retry, and how to read it.
        if self._http._should_retry(answer, None, 0, self._max_network_retries):
            return None
        content, status, response_headers = answer
        if 200 <= status < 300:
            try:
                data = pydantic_core.from_json(content)
            except ValueError:
                pass
            else:
                return data if isinstance(data, dict) else {}
        response = self.client._requestor._interpret_response(content, status, response_headers, "V1")
        return response.data if isinstance(response.data, dict) else {}

    async def expire_checkout_session(self, session_id: str) -> Any:
        return await self._call(
            "expire a Checkout Session", lambda: self.client.v1.checkout.sessions.expire_async(session_id)
        )

    async def retrieve_checkout_session(self, session_id: str) -> Any:
        return await self._call(
            "retrieve a Checkout Session", lambda: self.client.v1.checkout.sessions.retrieve_async(session_id)
        )

    async def retrieve_payment_intent(self, intent_id: str) -> dict[str, Any]:
        intent = await self._call(
            "retrieve a PaymentIntent", lambda: self.client.v1.payment_intents.retrieve_async(intent_id)
        )
        return dict(intent.to_dict())

    async def create_refund(
        self, *, payment_intent: str, amount: int | None, idempotency_key: str, metadata: dict[str, str]
    ) -> Any:
        params: dict[str, Any] = {"payment_intent": payment_intent, "metadata": metadata}
        if amount is not None:
            params["amount"] = amount
        return await self._call(
            "create a refund",
            lambda: self.client.v1.refunds.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            ),
        )

    async def check_key(self) -> bool:
        """A cheap authenticated call, for readiness: True when Stripe accepts the key."""
        try:
            async with self._slots:
                await self.client.v1.checkout.sessions.list_async({"limit": 1}, {"max_network_retries": 0})
        except stripe.AuthenticationError:
            self.key_rejected = True
            return False
        except stripe.StripeError:
            return not self.key_rejected
        self._ok()
        return True
