"""The sandbox's state and behaviour: Checkout Sessions, PaymentIntents, Charges, Refunds, Events, webhook delivery.

A test-mode stand-in for the parts of Stripe that Boxoffice uses, shaped after Stripe's own objects
(``shared/stripe``). Usable directly from Python tests and through its HTTP app (``app.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger("boxoffice.sandbox")
API_VERSION = "2026-10-28.endive"
OUTCOMES = ("pay", "decline", "delayed_success", "delayed_failure")


class SandboxError(Exception):
    """A request Stripe would refuse: becomes a Stripe error object with this status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        return {"error": error}


@dataclass
class SandboxConfig:
    api_keys: set[str]
    public_url: str
    webhook_url: str | None = None
    webhook_secrets: list[str] = field(default_factory=list)
    retry_schedule: list[float] = field(default_factory=lambda: [1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    delayed_payment_seconds: float = 5.0
    expiry_check_interval: float = 5.0
    delivery_timeout: float = 10.0


@dataclass
class Faults:
    """Failure injection, for tests and benchmarks."""

    checkout_latency_ms: int = 0  # delay before answering a Checkout Session create
    fail_next: int = 0  # the next N API requests answer fail_status with an api_error
    fail_status: int = 500
    hang_next: int = 0  # the next N API requests stall for hang_seconds (longer than a client's timeout)
    hang_seconds: float = 30.0
    reject_key: bool = False  # every API request answers 401
    webhook_duplicate: bool = False  # deliver every event twice
    webhook_delay_ms: int = 0  # wait before each delivery
    webhook_reorder: bool = False  # hold events until flush_webhooks(), then deliver them newest first
    webhook_paused: bool = False  # hold every delivery until resumed

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if not hasattr(self, key):
                raise SandboxError(400, f"unknown fault {key!r}", param=key)
            setattr(self, key, type(getattr(self, key))(value))


@dataclass
class Delivery:
    event_id: str
    attempt: int = 0
    due: float = 0.0
    statuses: list[int | str] = field(default_factory=list)
    delivered: bool = False
    given_up: bool = False


def new_id(prefix: str, n: int = 14) -> str:
    return f"{prefix}_{secrets.token_urlsafe(n * 2)[: n * 2].replace('-', 'a').replace('_', 'b')}"


def now() -> int:
    return int(time.time())


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.public_url = config.public_url.rstrip("/")
        self.api_keys = set(config.api_keys)
        self.revoked: set[str] = set()
        self.faults = Faults()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.line_items: dict[str, list[dict[str, Any]]] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.deliveries: list[Delivery] = []
        self._held: list[str] = []  # reordered events waiting for flush
        self._pending_delayed: dict[str, str] = {}  # session id -> "delayed_success" | "delayed_failure"
        self.idempotency: dict[tuple[str, str], dict[str, Any]] = {}
        self._in_flight: set[tuple[str, str]] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        self.lock = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._tasks:
            return
        self._client = httpx.AsyncClient(timeout=self.config.delivery_timeout)
        self._tasks = [
            asyncio.create_task(self._deliver_forever(), name="sandbox-webhooks"),
            asyncio.create_task(self._expire_forever(), name="sandbox-expiry"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- keys -----------------------------------------------------------------------------------------------------

    def check_key(self, key: str | None) -> str:
        if not key:
            raise SandboxError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, using "
                "Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#"
                "authentication for details, or we can help at https://support.stripe.com/.",
            )
        if self.faults.reject_key or key not in self.api_keys or key in self.revoked:
            masked = key[:8] + "*" * 4 + key[-4:] if len(key) > 12 else "****"
            raise SandboxError(401, f"Invalid API Key provided: {masked}")
        return key

    def revoke_key(self, key: str) -> None:
        self.revoked.add(key)

    def add_key(self, key: str) -> None:
        self.api_keys.add(key)
        self.revoked.discard(key)

    # -- events and webhooks ----------------------------------------------------------------------------------------

    def emit(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        event_id = new_id("evt")
        event: dict[str, Any] = {
            "id": event_id,
            "object": "event",
            "api_version": API_VERSION,
            "created": now(),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1 if self.config.webhook_url else 0,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
        }
        self.events[event_id] = event
        if self.config.webhook_url:
            if self.faults.webhook_reorder:
                self._held.append(event_id)
            else:
                self._queue(event_id)
        return event

    def _queue(self, event_id: str) -> None:
        copies = 2 if self.faults.webhook_duplicate else 1
        for _ in range(copies):
            self.deliveries.append(Delivery(event_id, due=time.monotonic() + self.faults.webhook_delay_ms / 1000))
        self._wake.set()

    def flush_webhooks(self) -> None:
        """Release events held for reordering, newest first."""
        held, self._held = self._held, []
        for event_id in reversed(held):
            self._queue(event_id)

    def sign(self, payload: bytes, timestamp: int | None = None) -> str:
        t = now() if timestamp is None else timestamp
        parts = [f"t={t}"]
        for secret in self.config.webhook_secrets:
            digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
            parts.append(f"v1={digest}")
        parts.append("v0=" + secrets.token_hex(32))  # test-mode events carry a fake v0, which verifiers ignore
        return ",".join(parts)

    def pending_deliveries(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.delivered and not d.given_up]

    async def wait_for_deliveries(self, timeout: float = 10.0) -> None:
        """Until every queued delivery has been delivered or given up (held and paused ones excepted)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.pending_deliveries() or self.faults.webhook_paused:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError(f"{len(self.pending_deliveries())} webhook deliveries still pending")

    async def _deliver_forever(self) -> None:
        while True:
            due = [d for d in self.pending_deliveries() if d.due <= time.monotonic()]
            if self.faults.webhook_paused or not due:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 0.02)
                continue
            await asyncio.gather(*(self._deliver(d) for d in due[:32]))

    async def _deliver(self, delivery: Delivery) -> None:
        assert self._client is not None and self.config.webhook_url
        event = self.events[delivery.event_id]
        body = json.dumps(event).encode()
        delivery.attempt += 1
        try:
            response = await self._client.post(
                self.config.webhook_url,
                content=body,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Stripe-Signature": self.sign(body),
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                },
            )
            status: int | str = response.status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        delivery.statuses.append(status)
        if isinstance(status, int) and 200 <= status < 300:
            delivery.delivered = True
            event["pending_webhooks"] = max(0, event["pending_webhooks"] - 1)
            return
        schedule = self.config.retry_schedule
        if delivery.attempt > len(schedule):
            delivery.given_up = True
            log.warning("sandbox gave up delivering %s after %d attempts", delivery.event_id, delivery.attempt)
            return
        delivery.due = time.monotonic() + schedule[delivery.attempt - 1]

    # -- expiry ---------------------------------------------------------------------------------------------------

    async def _expire_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.expiry_check_interval)
            for session in list(self.sessions.values()):
                if session["status"] == "open" and session["expires_at"] <= now():
                    await self.expire_session(session["id"])
            for session_id, outcome in list(self._pending_delayed.items()):
                started = self.sessions[session_id].get("_delayed_at", 0)
                if time.time() - started >= self.config.delayed_payment_seconds:
                    await self._resolve(session_id, outcome)

    # -- Checkout Sessions ----------------------------------------------------------------------------------------

    def create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        mode = params.get("mode")
        if mode is None:
            raise SandboxError(400, "Missing required param: mode.", code="parameter_missing", param="mode")
        if mode != "payment":
            raise SandboxError(
                400, "The sandbox supports mode=payment only.", code="parameter_invalid_string", param="mode"
            )
        raw_items = params.get("line_items")
        if not isinstance(raw_items, list) or not raw_items:
            raise SandboxError(400, "Missing required param: line_items.", code="parameter_missing", param="line_items")
        if len(raw_items) > 100:
            raise SandboxError(400, "You may only specify up to 100 line items.", param="line_items")
        items, currency = [], None
        for i, item in enumerate(raw_items):
            at = f"line_items[{i}]"
            price = item.get("price_data") if isinstance(item, dict) else None
            if not isinstance(price, dict):
                raise SandboxError(
                    400,
                    f"Missing required param: {at}[price_data].",
                    code="parameter_missing",
                    param=f"{at}[price_data]",
                )
            cur = str(price.get("currency", ""))
            if len(cur) != 3 or cur != cur.lower() or not cur.isalpha():
                raise SandboxError(
                    400,
                    f"Invalid currency: {cur}.",
                    code="parameter_invalid_string",
                    param=f"{at}[price_data][currency]",
                )
            if currency is not None and cur != currency:
                raise SandboxError(
                    400, "All line items must use the same currency.", param=f"{at}[price_data][currency]"
                )
            currency = cur
            amount = _int(price.get("unit_amount"), f"{at}[price_data][unit_amount]")
            quantity = _int(item.get("quantity"), f"{at}[quantity]")
            if amount < 0 or quantity < 1:
                raise SandboxError(
                    400, "Invalid amount or quantity.", code="parameter_invalid_integer", param=f"{at}[quantity]"
                )
            product = price.get("product_data") or {}
            if not isinstance(product, dict) or not product.get("name"):
                raise SandboxError(
                    400,
                    f"Missing required param: {at}[price_data][product_data][name].",
                    code="parameter_missing",
                    param=f"{at}[price_data][product_data][name]",
                )
            items.append(
                {
                    "id": new_id("li"),
                    "object": "item",
                    "amount_discount": 0,
                    "amount_subtotal": amount * quantity,
                    "amount_tax": 0,
                    "amount_total": amount * quantity,
                    "currency": cur,
                    "description": product["name"],
                    "quantity": quantity,
                    "price": {
                        "id": new_id("price"),
                        "object": "price",
                        "active": False,
                        "billing_scheme": "per_unit",
                        "created": now(),
                        "currency": cur,
                        "unit_amount": amount,
                        "product": new_id("prod"),
                        "type": "one_time",
                        "livemode": False,
                        "metadata": {},
                    },
                    "metadata": {},
                }
            )
        metadata = params.get("metadata") or {}
        _check_metadata(metadata, "metadata")
        intent_data = params.get("payment_intent_data") or {}
        _check_metadata(intent_data.get("metadata") or {}, "payment_intent_data[metadata]")
        created = now()
        expires_at = _int(params["expires_at"], "expires_at") if "expires_at" in params else created + 86400
        if not created + 30 * 60 <= expires_at <= created + 24 * 3600:
            raise SandboxError(
                400, "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.", param="expires_at"
            )
        reference = params.get("client_reference_id")
        if reference is not None and len(reference) > 200:
            raise SandboxError(400, "client_reference_id must be at most 200 characters.", param="client_reference_id")
        total = sum(i["amount_total"] for i in items)
        session_id = "cs_test_" + secrets.token_urlsafe(45).replace("-", "a").replace("_", "b")[:58]
        session = {
            "id": session_id,
            "object": "checkout.session",
            "after_expiration": None,
            "allow_promotion_codes": None,
            "amount_subtotal": total,
            "amount_total": total,
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "billing_address_collection": None,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": reference,
            "client_secret": None,
            "consent": None,
            "consent_collection": None,
            "created": created,
            "currency": currency,
            "custom_fields": [],
            "custom_text": {
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            "customer": None,
            "customer_creation": "if_required",
            "customer_details": None,
            "customer_email": params.get("customer_email"),
            "expires_at": expires_at,
            "invoice": None,
            "invoice_creation": None,
            "livemode": False,
            "locale": params.get("locale"),
            "metadata": dict(metadata),
            "mode": "payment",
            "payment_intent": None,
            "payment_link": None,
            "payment_method_collection": None,
            "payment_method_options": {},
            "payment_method_types": ["card", "us_bank_account"],
            "payment_status": "unpaid",
            "phone_number_collection": {"enabled": False},
            "recovered_from": None,
            "setup_intent": None,
            "shipping_address_collection": None,
            "shipping_cost": None,
            "shipping_details": None,
            "shipping_options": [],
            "status": "open",
            "submit_type": params.get("submit_type"),
            "subscription": None,
            "success_url": params.get("success_url"),
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted_page",
            "url": f"{self.public_url}/pay/{session_id}",
        }
        session["_intent_metadata"] = dict(intent_data.get("metadata") or {})
        self.sessions[session_id] = session
        self.line_items[session_id] = items
        return session

    def get(self, store: dict[str, dict[str, Any]], object_id: str, kind: str) -> dict[str, Any]:
        obj = store.get(object_id)
        if obj is None:
            raise SandboxError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param="id")
        return obj

    def session(self, session_id: str) -> dict[str, Any]:
        return self.get(self.sessions, session_id, "checkout.session")

    async def expire_session(self, session_id: str) -> dict[str, Any]:
        async with self.lock:
            session = self.session(session_id)
            if session["status"] != "open":
                raise SandboxError(
                    400,
                    'Only Checkout Sessions with a status in ["open"] can be expired. '
                    f'This Checkout Session has a status of "{session["status"]}".',
                    param="session",
                )
            session.update(status="expired", url=None)
            self.emit("checkout.session.expired", public(session))
            return session

    def _intent(self, session: dict[str, Any], method: str) -> dict[str, Any]:
        pi_id = session.get("payment_intent")
        if pi_id and pi_id in self.payment_intents:
            intent = self.payment_intents[pi_id]
            intent["payment_method_types"] = [method]
            return intent
        intent = {
            "id": new_id("pi"),
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_capturable": 0,
            "amount_received": 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic",
            "client_secret": None,
            "confirmation_method": "automatic",
            "created": now(),
            "currency": session["currency"],
            "customer": None,
            "description": None,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": dict(session.get("_intent_metadata") or {}),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_options": {},
            "payment_method_types": [method],
            "processing": None,
            "receipt_email": None,
            "review": None,
            "setup_future_usage": None,
            "shipping": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "requires_payment_method",
            "transfer_data": None,
            "transfer_group": None,
        }
        intent["client_secret"] = f"{intent['id']}_secret_{secrets.token_hex(12)}"
        self.payment_intents[intent["id"]] = intent
        session["payment_intent"] = intent["id"]
        return intent

    def _payment_method(self, kind: str) -> dict[str, Any]:
        return {
            "id": new_id("pm"),
            "object": "payment_method",
            "type": kind,
            "livemode": False,
            "created": now(),
            "billing_details": {"email": None, "name": None, "phone": None, "address": None},
            "metadata": {},
        }

    def _succeed(self, session: dict[str, Any], intent: dict[str, Any], method: str) -> dict[str, Any]:
        charge = {
            "id": new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"],
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": new_id("txn"),
            "billing_details": {"address": None, "email": session.get("customer_email"), "name": None, "phone": None},
            "calculated_statement_descriptor": "BOXOFFICE",
            "captured": True,
            "created": now(),
            "currency": intent["currency"],
            "customer": None,
            "description": None,
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "fraud_details": {},
            "livemode": False,
            "metadata": {},
            "on_behalf_of": None,
            "outcome": {
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
            "paid": True,
            "payment_intent": intent["id"],
            "payment_method": new_id("pm"),
            "payment_method_details": {"type": method},
            "receipt_email": None,
            "receipt_url": None,
            "refunded": False,
            "review": None,
            "shipping": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "succeeded",
            "transfer_data": None,
            "transfer_group": None,
        }
        self.charges[charge["id"]] = charge
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            latest_charge=charge["id"],
            last_payment_error=None,
            payment_method=charge["payment_method"],
        )
        session.update(payment_status="paid")
        return charge

    def _fail(self, intent: dict[str, Any], method: str) -> None:
        declined = method == "card"
        intent.update(
            status="requires_payment_method",
            last_payment_error={
                "type": "card_error" if declined else "invalid_request_error",
                "code": "card_declined" if declined else "payment_method_provider_decline",
                "decline_code": "generic_decline" if declined else None,
                "message": "Your card was declined." if declined else "The bank account payment was declined.",
                "payment_method": self._payment_method(method),
            },
        )

    async def complete_session(self, session_id: str, outcome: str, *, name: str = "Sandbox Buyer") -> dict[str, Any]:
        """What a buyer does on the hosted page: pay, be declined, or pay with a delayed method."""
        if outcome not in OUTCOMES:
            raise SandboxError(400, f"outcome must be one of {', '.join(OUTCOMES)}", param="outcome")
        async with self.lock:
            session = self.session(session_id)
            if session["status"] != "open":
                raise SandboxError(400, f"This Checkout Session is {session['status']}.", param="session")
            details: dict[str, Any] = {
                "email": session.get("customer_email"),
                "name": name,
                "phone": None,
                "address": None,
                "tax_exempt": "none",
                "tax_ids": [],
            }
            if outcome == "decline":
                intent = self._intent(session, "card")
                self._fail(intent, "card")
                self.emit("payment_intent.payment_failed", intent)
                return session
            method = "card" if outcome == "pay" else "us_bank_account"
            intent = self._intent(session, method)
            session.update(status="complete", url=None, customer_details=details)
            if outcome == "pay":
                charge = self._succeed(session, intent, method)
                self.emit("checkout.session.completed", public(session))
                self.emit("payment_intent.succeeded", intent)
                self.emit("charge.succeeded", charge)
            else:
                intent.update(status="processing", processing={"type": method})
                session["_delayed_at"] = time.time()
                self._pending_delayed[session_id] = outcome
                self.emit("checkout.session.completed", public(session))
            return session

    async def resolve_delayed_payments(self) -> None:
        """Settle every delayed payment now (instead of after ``delayed_payment_seconds``)."""
        for session_id, outcome in list(self._pending_delayed.items()):
            await self._resolve(session_id, outcome)

    async def _resolve(self, session_id: str, outcome: str) -> None:
        async with self.lock:
            if self._pending_delayed.pop(session_id, None) is None:
                return
            session = self.sessions[session_id]
            intent = self.payment_intents[session["payment_intent"]]
            if outcome == "delayed_success":
                charge = self._succeed(session, intent, "us_bank_account")
                self.emit("checkout.session.async_payment_succeeded", public(session))
                self.emit("payment_intent.succeeded", intent)
                self.emit("charge.succeeded", charge)
            else:
                self._fail(intent, "us_bank_account")
                self.emit("checkout.session.async_payment_failed", public(session))
                self.emit("payment_intent.payment_failed", intent)

    # -- Refunds --------------------------------------------------------------------------------------------------

    async def create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        async with self.lock:
            charge: dict[str, Any] | None = None
            if params.get("charge"):
                charge = self.get(self.charges, params["charge"], "charge")
            elif params.get("payment_intent"):
                intent = self.get(self.payment_intents, params["payment_intent"], "payment_intent")
                if intent.get("latest_charge"):
                    charge = self.charges[intent["latest_charge"]]
                else:
                    raise SandboxError(
                        400, "This PaymentIntent does not have a successful charge to refund.", param="payment_intent"
                    )
            else:
                raise SandboxError(
                    400,
                    "One of the following params should be provided for this request: payment_intent or charge.",
                    code="parameter_missing",
                )
            remaining = charge["amount"] - charge["amount_refunded"]
            if remaining <= 0:
                raise SandboxError(
                    400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
                )
            amount = _int(params["amount"], "amount") if params.get("amount") is not None else remaining
            if amount <= 0:
                raise SandboxError(400, "Invalid positive integer", code="parameter_invalid_integer", param="amount")
            if amount > remaining:
                raise SandboxError(
                    400,
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                    code="amount_too_large",
                    param="amount",
                )
            metadata = params.get("metadata") or {}
            _check_metadata(metadata, "metadata")
            refund = {
                "id": new_id("re"),
                "object": "refund",
                "amount": amount,
                "balance_transaction": new_id("txn"),
                "charge": charge["id"],
                "created": now(),
                "currency": charge["currency"],
                "destination_details": {"type": "card", "card": {"type": "refund"}},
                "metadata": dict(metadata),
                "payment_intent": charge["payment_intent"],
                "reason": params.get("reason"),
                "receipt_number": None,
                "source_transfer_reversal": None,
                "status": "succeeded",
                "transfer_reversal": None,
            }
            self.refunds[refund["id"]] = refund
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
            self.emit("refund.created", refund)
            self.emit("charge.refunded", charge)
            return refund


def public(session: dict[str, Any]) -> dict[str, Any]:
    """A session as the API shows it (without the sandbox's bookkeeping keys)."""
    return {k: v for k, v in session.items() if not k.startswith("_")}


def _int(value: Any, param: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise SandboxError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param) from None


def _check_metadata(metadata: Any, param: str) -> None:
    if metadata in ("", None):
        return
    if not isinstance(metadata, dict):
        raise SandboxError(400, "Invalid object", param=param)
    if len(metadata) > 50:
        raise SandboxError(400, "You can only specify up to 50 metadata keys.", param=param)
    for key, value in metadata.items():
        if len(key) > 40 or "[" in key or "]" in key:
            raise SandboxError(400, "Metadata keys can be at most 40 characters.", param=f"{param}[{key}]")
        if len(str(value)) > 500:
            raise SandboxError(400, "Metadata values can be at most 500 characters.", param=f"{param}[{key}]")
