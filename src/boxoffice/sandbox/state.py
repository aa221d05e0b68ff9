"""The sandbox's state and behaviour: Checkout Sessions and what paying them produces (PaymentIntents, Charges,
Refunds, Events), keys, idempotency, background tasks. Usable directly from Python tests; ``app.py`` puts HTTP on it.

All state lives in memory and changes synchronously on the event loop, so no operation interleaves with another.
Objects are stored exactly as the API returns them (``sessions[id]["status"]`` is what a retrieve shows).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from boxoffice.sandbox import objects
from boxoffice.sandbox.config import SandboxConfig
from boxoffice.sandbox.delivery import Delivery, WebhookDispatcher
from boxoffice.sandbox.errors import SandboxError, invalid_api_key, no_api_key, not_found
from boxoffice.sandbox.faults import Faults
from boxoffice.sandbox.idempotency import IdempotencyStore
from boxoffice.sandbox.objects import BANK_DEBIT, CARD, RequestRef
from boxoffice.sandbox.validation import CheckoutRequest, checkout_request, refund_request

log = logging.getLogger("boxoffice.sandbox")
OUTCOMES = ("pay", "decline", "delayed_success", "delayed_failure")
DEFAULT_BUYER_NAME = "Sandbox Buyer"
NO_REQUEST = RequestRef()


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.api_keys: set[str] = set(config.api_keys)
        self.revoked_keys: set[str] = set()
        self.faults = Faults()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.line_items: dict[str, list[dict[str, Any]]] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.payment_methods: dict[str, dict[str, Any]] = {}
        self.idempotency = IdempotencyStore()
        self.webhooks = WebhookDispatcher(config, self.faults, self.events)
        self.checkout_requests: dict[str, CheckoutRequest] = {}  # session id -> its validated create parameters
        self._delayed: dict[str, str] = {}  # session id -> "delayed_success" | "delayed_failure"
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def public_url(self) -> str:
        return self.config.public_url.rstrip("/")

    # -- lifecycle ------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the webhook worker, the expiry sweeper and the timers of pending delayed payments."""
        if self._sweeper is not None:
            return
        await self.webhooks.start()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="sandbox-expiry")
        for session_id in self._delayed:
            self._start_timer(session_id)

    async def stop(self) -> None:
        tasks = [t for t in (self._sweeper, *self._timers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._sweeper = None
        self._timers.clear()
        await self.webhooks.stop()

    @property
    def running(self) -> bool:
        return self._sweeper is not None

    # -- keys -----------------------------------------------------------------------------------------------------

    def check_key(self, key: str | None) -> str:
        """The request's key if it is accepted; 401 errors as Stripe words them otherwise."""
        if not key:
            raise no_api_key()
        if self.faults.reject_key or key not in self.api_keys or key in self.revoked_keys:
            raise invalid_api_key(key)
        return key

    def revoke_key(self, key: str) -> None:
        """Refuse this key from now on (a rolled or deleted key)."""
        self.revoked_keys.add(key)

    def add_key(self, key: str) -> None:
        """Accept this key (again)."""
        self.api_keys.add(key)
        self.revoked_keys.discard(key)

    # -- events and webhooks --------------------------------------------------------------------------------------

    def emit(self, kind: str, obj: dict[str, Any], request: RequestRef = NO_REQUEST) -> dict[str, Any]:
        event = objects.event(kind, obj, request=request, pending_webhooks=1 if self.config.webhook_url else 0)
        self.events[event["id"]] = event
        self.webhooks.enqueue(event)
        return event

    @property
    def deliveries(self) -> list[Delivery]:
        return self.webhooks.deliveries

    def flush_webhooks(self) -> int:
        """Release the events held by the reorder fault. Returns how many."""
        return self.webhooks.flush()

    def retry_deliveries(self) -> int:
        """Attempt every undelivered delivery now, given-up ones included. Returns how many."""
        return self.webhooks.retry_now()

    async def wait_for_deliveries(self, timeout: float = 10) -> None:
        """Until every queued delivery is delivered or given up (or delivery is paused); TimeoutError after
        ``timeout`` seconds. Events held by the reorder fault are not waited for: flush them first."""
        await self.webhooks.wait_idle(timeout)

    # -- lookups --------------------------------------------------------------------------------------------------

    def session(self, session_id: str) -> dict[str, Any]:
        return _get(self.sessions, session_id, "checkout.session")

    def payment_intent(self, intent_id: str) -> dict[str, Any]:
        return _get(self.payment_intents, intent_id, "payment_intent")

    def charge(self, charge_id: str) -> dict[str, Any]:
        return _get(self.charges, charge_id, "charge")

    def refund(self, refund_id: str) -> dict[str, Any]:
        return _get(self.refunds, refund_id, "refund")

    def event(self, event_id: str) -> dict[str, Any]:
        return _get(self.events, event_id, "event")

    def find(self, object_id: str) -> dict[str, Any] | None:
        """Any stored object by id (for ``expand``)."""
        for store in (self.payment_intents, self.charges, self.refunds, self.sessions, self.events):
            if object_id in store:
                return store[object_id]
        return None

    # -- Checkout Sessions ----------------------------------------------------------------------------------------

    def create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/checkout/sessions`` with decoded form parameters; raises SandboxError when invalid."""
        created = objects.now()
        request = checkout_request(params, created)
        session_id = objects.new_session_id()
        session = objects.checkout_session(
            session_id, request, created=created, url=f"{self.public_url}/pay/{session_id}"
        )
        self.sessions[session_id] = session
        self.line_items[session_id] = [objects.line_item(item, created) for item in request.line_items]
        self.checkout_requests[session_id] = request
        return session

    def list_sessions(
        self,
        *,
        status: str | None = None,
        payment_intent: str | None = None,
        customer_email: str | None = None,
        created: Callable[[int], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Sessions newest first, filtered."""
        result = []
        for session in reversed(self.sessions.values()):
            if status is not None and session["status"] != status:
                continue
            if payment_intent is not None and session["payment_intent"] != payment_intent:
                continue
            details = session["customer_details"] or {}
            if customer_email is not None and customer_email not in (session["customer_email"], details.get("email")):
                continue
            if created is not None and not created(session["created"]):
                continue
            result.append(session)
        return result

    async def expire_session(self, session_id: str, request: RequestRef = NO_REQUEST) -> dict[str, Any]:
        """Expire an open session now (as ``POST /v1/checkout/sessions/{id}/expire`` does)."""
        return self._expire(session_id, request)

    def _expire(self, session_id: str, request: RequestRef) -> dict[str, Any]:
        session = self.session(session_id)
        if session["status"] != "open":
            raise SandboxError(
                400,
                'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status '
                f'of "{session["status"]}".',
                code="checkout_session_not_open",
                param="session",
            )
        session.update(status="expired", url=None)
        intent_id = session["payment_intent"]
        if intent_id is not None:  # a declined attempt left a PaymentIntent: Checkout cancels it
            intent = self.payment_intents[intent_id]
            intent.update(status="canceled", canceled_at=objects.now(), cancellation_reason="abandoned")
            self.emit("payment_intent.canceled", intent, request)
        self.emit("checkout.session.expired", session, request)
        return session

    def expire_due_sessions(self) -> list[str]:
        """Expire every open session whose ``expires_at`` has passed (what the sweeper does). Returns their ids."""
        moment = objects.now()
        due = [s["id"] for s in self.sessions.values() if s["status"] == "open" and s["expires_at"] <= moment]
        for session_id in due:
            self._expire(session_id, NO_REQUEST)
        return due

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.expiry_check_interval)
            try:
                self.expire_due_sessions()
            except Exception:
                log.exception("sandbox expiry sweep failed")

    # -- paying -----------------------------------------------------------------------------------------------

    async def complete_session(
        self, session_id: str, outcome: str, *, name: str = DEFAULT_BUYER_NAME, email: str | None = None
    ) -> dict[str, Any]:
        """What a buyer does on the hosted page, without the browser.

        ``pay``: card payment succeeds, the session completes paid. ``decline``: the card is declined, the session
        stays open for another attempt. ``delayed_success`` / ``delayed_failure``: a bank debit; the session
        completes unpaid and the payment settles after ``delayed_payment_seconds`` (or ``resolve_delayed_payments``).
        """
        if outcome not in OUTCOMES:
            raise SandboxError(400, f"outcome must be one of: {', '.join(OUTCOMES)}", param="outcome")
        session = self.session(session_id)
        if session["status"] != "open":
            raise SandboxError(
                400, f"This Checkout Session is no longer open (status {session['status']}).", param="session"
            )
        email = session["customer_email"] or email
        if session["amount_total"] == 0:
            session.update(status="complete", payment_status="no_payment_required", url=None)
            session["customer_details"] = objects.customer_details(email, name)
            self.emit("checkout.session.completed", session)
            return session
        method_type = CARD if outcome in ("pay", "decline") else BANK_DEBIT
        intent = self._intent_for(session, method_type)
        method = objects.payment_method(method_type, email=email, name=name, declined=outcome == "decline")
        self.payment_methods[method["id"]] = method
        created = objects.now()
        if outcome == "decline":
            failed = objects.charge(intent, method, status="failed", created=created, declined=True)
            failed.update(failure_code="card_declined", failure_message="Your card was declined.")
            self.charges[failed["id"]] = failed
            intent.update(
                status="requires_payment_method",
                latest_charge=failed["id"],
                last_payment_error=objects.card_declined_error(failed["id"], method),
            )
            self.emit("charge.failed", failed)
            self.emit("payment_intent.payment_failed", intent)
            return session
        session.update(status="complete", url=None, customer_details=objects.customer_details(email, name))
        intent.update(payment_method=method["id"], last_payment_error=None)
        if outcome == "pay":
            paid = objects.charge(intent, method, status="succeeded", created=created)
            self.charges[paid["id"]] = paid
            intent.update(status="succeeded", amount_received=intent["amount"], latest_charge=paid["id"])
            session["payment_status"] = "paid"
            self.emit("charge.succeeded", paid)
            self.emit("payment_intent.succeeded", intent)
            self.emit("checkout.session.completed", session)
            return session
        pending = objects.charge(intent, method, status="pending", created=created)
        self.charges[pending["id"]] = pending
        intent.update(status="processing", latest_charge=pending["id"])
        self.emit("charge.pending", pending)
        self.emit("payment_intent.processing", intent)
        self.emit("checkout.session.completed", session)
        self._delayed[session_id] = outcome
        if self.running:
            self._start_timer(session_id)
        return session

    def _intent_for(self, session: dict[str, Any], method_type: str) -> dict[str, Any]:
        """The session's PaymentIntent, created at the first payment attempt (a declined one is reused)."""
        if session["payment_intent"] is not None:
            intent = self.payment_intents[session["payment_intent"]]
            intent["payment_method_types"] = [method_type]
            return intent
        metadata = self.checkout_requests[session["id"]].intent_metadata
        intent = objects.payment_intent(session, metadata, method_type, created=objects.now())
        self.payment_intents[intent["id"]] = intent
        session["payment_intent"] = intent["id"]
        return intent

    @property
    def pending_delayed_payments(self) -> list[str]:
        """Ids of sessions whose delayed payment has not settled yet."""
        return list(self._delayed)

    async def resolve_delayed_payments(self) -> int:
        """Settle every pending delayed payment now. Returns how many."""
        pending = list(self._delayed)
        for session_id in pending:
            self._settle(session_id)
        return len(pending)

    def _start_timer(self, session_id: str) -> None:
        async def settle_later() -> None:
            await asyncio.sleep(self.config.delayed_payment_seconds)
            self._timers.pop(session_id, None)
            self._settle(session_id)

        if session_id not in self._timers:
            self._timers[session_id] = asyncio.create_task(settle_later(), name=f"sandbox-settle-{session_id}")

    def _settle(self, session_id: str) -> None:
        outcome = self._delayed.pop(session_id, None)
        timer = self._timers.pop(session_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        if outcome is None:
            return
        session = self.sessions[session_id]
        intent = self.payment_intents[session["payment_intent"]]
        charge = self.charges[intent["latest_charge"]]
        if outcome == "delayed_success":
            charge.update(
                status="succeeded",
                paid=True,
                captured=True,
                amount_captured=charge["amount"],
                balance_transaction=objects.new_id("txn"),
                outcome=objects.charge_outcome("succeeded", declined=False),
            )
            intent.update(status="succeeded", amount_received=intent["amount"])
            session["payment_status"] = "paid"
            self.emit("charge.succeeded", charge)
            self.emit("payment_intent.succeeded", intent)
            self.emit("checkout.session.async_payment_succeeded", session)
            return
        charge.update(
            status="failed",
            failure_code="insufficient_funds",
            failure_message="The customer's account has insufficient funds to cover this payment.",
            outcome=objects.charge_outcome("failed", declined=False),
        )
        method = self.payment_methods[charge["payment_method"]]
        intent.update(
            status="requires_payment_method",
            payment_method=None,
            last_payment_error=objects.bank_debit_failed_error(charge["id"], method),
        )
        self.emit("charge.failed", charge)
        self.emit("payment_intent.payment_failed", intent)
        self.emit("checkout.session.async_payment_failed", session)

    # -- refunds --------------------------------------------------------------------------------------------------

    def create_refund(self, params: dict[str, Any], request: RequestRef = NO_REQUEST) -> dict[str, Any]:
        """``POST /v1/refunds``: the whole remaining amount unless ``amount`` is given."""
        wanted = refund_request(params)
        if wanted.charge is not None:
            charge = _get(self.charges, wanted.charge, "charge", param="charge")
        else:
            assert wanted.payment_intent is not None
            intent = _get(self.payment_intents, wanted.payment_intent, "payment_intent", param="payment_intent")
            charge = self.charges.get(intent["latest_charge"] or "", {})
            if intent["status"] != "succeeded" or not charge:
                raise SandboxError(
                    400,
                    f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                    code="charge_not_refundable" if charge else "resource_missing",
                    param="payment_intent",
                )
        if charge["status"] != "succeeded":
            raise SandboxError(
                400, f"Charge {charge['id']} has not succeeded and cannot be refunded.", code="charge_not_refundable"
            )
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise SandboxError(400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
        amount = remaining if wanted.amount is None else wanted.amount
        if amount > remaining:
            raise SandboxError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                code="amount_too_large",
                param="amount",
            )
        refund = objects.refund(charge, amount, reason=wanted.reason, metadata=wanted.metadata, created=objects.now())
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self.emit("refund.created", refund, request)
        self.emit("charge.refunded", charge, request)
        return refund

    # -- inspection -----------------------------------------------------------------------------------------------

    def events_of(self, object_id: str) -> list[dict[str, Any]]:
        """Events whose object is ``object_id``, oldest first."""
        return [e for e in self.events.values() if e["data"]["object"].get("id") == object_id]


def _get(store: dict[str, dict[str, Any]], object_id: str, kind: str, *, param: str = "id") -> dict[str, Any]:
    obj = store.get(object_id)
    if obj is None:
        raise not_found(kind, object_id, param)
    return obj
