"""Stripe webhooks: signature verification on the raw body, exactly-once processing, any order of arrival.

Each event id is recorded once in ``stripe_events``; a repeated delivery of a processed event does nothing more.
Every effect is a guarded state transition, so concurrent or reordered deliveries of related events (a session
completed, its PaymentIntent succeeded, its charge refunded...) reach the same end state and confirm once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, update

from boxoffice import metrics
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import NotFound
from boxoffice.payments.confirm_delivery import CONFIRMED_OUTCOME, Delivery, confirm_paid_delivery
from boxoffice.payments.gateway import StripeRequestRejected
from boxoffice.payments.models import StripeEvent
from boxoffice.payments.service import Payments
from boxoffice.ticketing.checkout import await_async_payment, note_order_issue
from boxoffice.ticketing.confirm_pg import confirm_paid_in_one_statement
from boxoffice.ticketing.models import Order, OrderStatus
from boxoffice.ticketing.orders import (
    LATE_PAYMENT_SOURCES,
    confirm_order,
    expire_order,
    fail_order,
    find_order_by_payment,
    get_order,
    record_refund,
)

log = logging.getLogger("boxoffice.webhooks")

_STRIPE_EVENTS = StripeEvent.__table__
_MARK_PROCESSED = (
    update(_STRIPE_EVENTS)  # type: ignore[arg-type]
    .where(_STRIPE_EVENTS.c.id == bindparam("event"))
    .values(
        processed_at=bindparam("at"),
        outcome=bindparam("short"),
        detail=bindparam("long"),
        order_id=bindparam("order"),
    )
)

DEFAULT_TOLERANCE = 300

_COMPLETED = "checkout.session.completed"
_PAID = "checkout.session.async_payment_succeeded"
# The Checkout Session's ``payment_status`` values that mean "paid" in each of the two events that may confirm
_PAID_STATUSES = {_COMPLETED: ("paid", "no_payment_required"), _PAID: ("paid",)}


def _session_pays(kind: str, session: dict[str, Any]) -> bool:
    """Whether a Checkout Session event of ``kind`` reports the session paid (other kinds never do)."""
    return session.get("payment_status") in _PAID_STATUSES.get(kind, ())


def _order_named(obj: dict[str, Any]) -> str | None:
    """The order id a Checkout Session (or PaymentIntent) carries in its metadata or client reference."""
    metadata = obj.get("metadata")
    order_id = (metadata.get("order_id") if isinstance(metadata, dict) else None) or obj.get("client_reference_id")
    return order_id if isinstance(order_id, str) and order_id else None


def _payment_intent(obj: dict[str, Any]) -> str | None:
    pi = obj.get("payment_intent")
    return pi if isinstance(pi, str) else None


class SignatureError(Exception):
    """The Stripe-Signature header is missing, malformed, stale or matches no configured secret."""


def verify_signature(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check ``Stripe-Signature`` against every ``v1`` entry and every secret (constant-time). Returns ``t``."""
    if not header:
        raise SignatureError("missing Stripe-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not (value.isascii() and value.isdigit()):  # int() would take other scripts' digits, signs, spaces
                raise SignatureError("malformed timestamp in Stripe-Signature")
            timestamp = int(value)
        elif key == "v1":
            if not value.isascii():  # a hex digest is ASCII; compare_digest raises on anything else
                raise SignatureError("malformed v1 signature in Stripe-Signature")
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("Stripe-Signature has no timestamp or no v1 signature")
    current = time.time() if now is None else now
    if tolerance > 0 and timestamp < current - tolerance:
        raise SignatureError("Stripe-Signature timestamp is outside the tolerance")
    signed = f"{timestamp}.".encode() + payload
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        for candidate in signatures:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("no Stripe-Signature v1 entry matches a configured webhook secret")
    return timestamp


def sign_payload(payload: bytes, secrets: Sequence[str], timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload`` (one v1 per secret), as Stripe makes it. For tests and tools."""
    t = int(time.time()) if timestamp is None else timestamp
    parts = [f"t={t}"]
    for secret in secrets:
        parts.append("v1=" + hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest())
    return ",".join(parts)


@dataclass(frozen=True)
class WebhookOutcome:
    event_id: str
    type: str
    outcome: str
    duplicate: bool = False


class LivemodeMismatch(ValueError):
    """The event's ``livemode`` disagrees with the key's mode (a live event at a test key, or the reverse)."""


MISMATCH_LOG_MEMORY = 1024  # event ids whose mismatch was logged; Stripe retries each for days, log it once


class WebhookProcessor:
    def __init__(
        self,
        db: Database,
        payments: Payments,
        secrets: Sequence[str],
        *,
        livemode: bool = False,
        tolerance: int = DEFAULT_TOLERANCE,
    ) -> None:
        self.db = db
        self.payments = payments
        self.secrets = list(secrets)
        self.livemode = livemode  # the key's mode: a live key takes live events only, a test key test events only
        self.tolerance = tolerance
        self._mismatches_logged: OrderedDict[str, None] = OrderedDict()
        # Built once (Core, not ORM): the statement runs for every delivery.
        events = StripeEvent.__table__
        self._count_delivery = (
            db.insert(StripeEvent)
            .values(
                id=bindparam("event"),
                type=bindparam("kind"),
                object_id=bindparam("object"),
                livemode=bindparam("mode"),
                received_at=bindparam("at"),
                deliveries=1,
            )
            .on_conflict_do_update(index_elements=["id"], set_={"deliveries": events.c.deliveries + 1})
            .returning(events.c.processed_at)
        )

    async def receive(self, payload: bytes, signature: str | None) -> WebhookOutcome:
        """Verify, record, apply. Raises ``SignatureError`` (answer 400), ``LivemodeMismatch`` for an event of the
        other mode than the key's (400, nothing recorded) or ``ValueError`` for a body that is not a Stripe event
        (400); any other exception means "retry" (answer 5xx)."""
        verify_signature(payload, signature, self.secrets, tolerance=self.tolerance)
        try:
            event = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError("the body is not JSON") from None
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("id"), str)
            or not isinstance(event.get("type"), str)
        ):
            raise ValueError("the body is not a Stripe event")
        obj = (event.get("data") or {}).get("object") or {}
        if not isinstance(obj, dict):
            raise ValueError("the event has no data.object")
        event_id, kind = event["id"], event["type"]
        livemode = event.get("livemode", False)
        if not isinstance(livemode, bool):
            raise ValueError("the event's livemode is not a boolean")
        if livemode != self.livemode:
            self._log_mismatch(event_id, kind, livemode)
            raise LivemodeMismatch(
                f"a {'live' if livemode else 'test'}-mode event was sent to an endpoint configured with a "
                f"{'live' if self.livemode else 'test'}-mode key; nothing was changed"
            )
        # A paid order's usual delivery is counted, confirmed and marked processed in one call; when that path does
        # not run (None), the delivery is counted here; when it only counted, the general path judges the order.
        delivery = await self._confirm_delivery_at_once(event_id, kind, obj, livemode)
        if delivery is Delivery.DUPLICATE or (
            delivery is None and await self._already_processed(event_id, kind, obj, livemode)
        ):
            log.info("duplicate webhook ignored", extra={"stripe_event_id": event_id, "type": kind})
            return WebhookOutcome(event_id, kind, "duplicate", duplicate=True)
        if delivery is Delivery.CONFIRMED:
            outcome, order_id = CONFIRMED_OUTCOME, _order_named(obj)
        else:
            outcome, order_id = await self._apply(kind, obj, at_once=delivery is None)
            await self.db.execute_one(
                _MARK_PROCESSED,
                {"event": event_id, "at": utcnow(), "short": outcome[:64], "long": outcome, "order": order_id},
            )
        metrics.webhook_processed(event.get("created"))
        log.info(
            "webhook processed",
            extra={"stripe_event_id": event_id, "type": kind, "order_id": order_id, "outcome": outcome},
        )
        return WebhookOutcome(event_id, kind, outcome)

    def _log_mismatch(self, event_id: str, kind: str, livemode: bool) -> None:
        """Log a refused event once, not at each of Stripe's retries (a bounded memory of the ids logged)."""
        if event_id in self._mismatches_logged:
            self._mismatches_logged.move_to_end(event_id)
            return
        self._mismatches_logged[event_id] = None
        if len(self._mismatches_logged) > MISMATCH_LOG_MEMORY:
            self._mismatches_logged.popitem(last=False)
        log.warning(
            "webhook refused: livemode disagrees with the Stripe key's mode",
            extra={
                "stripe_event_id": event_id,
                "type": kind,
                "event_livemode": livemode,
                "key_livemode": self.livemode,
            },
        )

    async def _already_processed(self, event_id: str, kind: str, obj: dict[str, Any], livemode: bool) -> bool:
        """Count this delivery (one statement: the first inserts the event's row, later ones count themselves) and
        tell whether the event has been processed already."""
        object_id = obj.get("id")
        (row,) = await self.db.execute_one(
            self._count_delivery,
            {
                "event": event_id,
                "kind": kind,
                "object": object_id if isinstance(object_id, str) else None,
                "mode": livemode,
                "at": utcnow(),
            },
        )
        return row[0] is not None

    async def _confirm_delivery_at_once(
        self, event_id: str, kind: str, obj: dict[str, Any], livemode: bool
    ) -> Delivery | None:
        """``confirm_delivery`` for a Checkout Session that pays an order it names; None for any other delivery
        (nothing done)."""
        order_id = _order_named(obj) if _session_pays(kind, obj) else None
        if order_id is None:
            return None
        object_id = obj.get("id")
        return await confirm_paid_delivery(
            self.db,
            event_id=event_id,
            kind=kind,
            object_id=object_id if isinstance(object_id, str) else None,
            livemode=livemode,
            order_id=order_id,
            amount=obj.get("amount_total"),
            currency=obj.get("currency"),
            payment_intent_id=_payment_intent(obj),
        )

    # -- event handlers -----------------------------------------------------------------------------------------

    async def _apply(self, kind: str, obj: dict[str, Any], *, at_once: bool = True) -> tuple[str, str | None]:
        """``at_once``: a paid Checkout Session may be confirmed by the one-statement path first (False once
        ``confirm_delivery`` tried it)."""
        if kind == _COMPLETED:
            return await self._session_completed(obj, at_once=at_once)
        if kind == _PAID:
            return await self._session_paid(obj, at_once=at_once)
        handler = {
            "checkout.session.async_payment_failed": self._session_async_failed,
            "checkout.session.expired": self._session_expired,
            "payment_intent.succeeded": self._intent_succeeded,
            "payment_intent.payment_failed": self._intent_failed,
            "charge.refunded": self._charge_refunded,
        }.get(kind)
        if handler is None:
            return "ignored: unhandled type", None
        return await handler(obj)

    async def _order_for(
        self, obj: dict[str, Any], *, session_id: str | None = None, payment_intent: str | None = None
    ) -> Order | None:
        order_id = _order_named(obj)
        if order_id is not None:
            try:
                return await get_order(self.db, order_id, with_lines=False)
            except NotFound:
                pass
        return await find_order_by_payment(
            self.db, session_id=session_id, payment_intent_id=payment_intent, with_lines=False
        )

    async def _confirm_paid(self, order: Order, *, amount: Any, currency: Any, payment_intent: str | None) -> str:
        if amount != order.total_cents or str(currency).lower() != order.currency:
            note = (
                f"payment mismatch: Stripe reported {amount} {currency} for an order of {order.total_cents} "
                f"{order.currency}; not confirmed"
            )
            log.error(note, extra={"order_id": order.id})
            await note_order_issue(self.db, order.id, note)
            return "mismatch: not confirmed"
        result = await confirm_order(self.db, order.id, payment_intent_id=payment_intent)
        if result.outcome == "tickets_unavailable" and payment_intent:
            await self.payments.refund_unfulfillable(result.order, payment_intent)
            return "late payment: tickets gone, refunded"
        return f"{result.outcome or 'unchanged'}: order {result.status}"

    async def _confirmed_at_once(self, obj: dict[str, Any], payment_intent: str | None) -> str | None:
        """The id of the order ``obj`` names if one statement confirmed it (the usual paid pending order); None
        when the general path must judge it (read the order, check the payment, confirm or not)."""
        order_id = _order_named(obj)
        if order_id is None:
            return None
        confirmed = await confirm_paid_in_one_statement(
            self.db,
            order_id,
            amount=obj.get("amount_total"),
            currency=obj.get("currency"),
            payment_intent_id=payment_intent,
        )
        return order_id if confirmed else None

    async def _session_completed(self, session: dict[str, Any], *, at_once: bool) -> tuple[str, str | None]:
        pi = _payment_intent(session)
        paid = _session_pays(_COMPLETED, session)
        if paid and at_once:
            confirmed = await self._confirmed_at_once(session, pi)
            if confirmed is not None:
                return CONFIRMED_OUTCOME, confirmed
        order = await self._order_for(session, session_id=session.get("id"), payment_intent=pi)
        if order is None:
            return "ignored: unknown order", None
        if paid:
            return await self._confirm_paid(
                order, amount=session.get("amount_total"), currency=session.get("currency"), payment_intent=pi
            ), order.id
        kept = await await_async_payment(
            self.db, order.id, payment_intent_id=pi, until=self.payments.async_hold_until()
        )
        return ("awaiting delayed payment: hold kept" if kept else f"unchanged: order {order.status}"), order.id

    async def _session_paid(self, session: dict[str, Any], *, at_once: bool) -> tuple[str, str | None]:
        pi = _payment_intent(session)
        paid = _session_pays(_PAID, session)
        if paid and at_once:
            confirmed = await self._confirmed_at_once(session, pi)
            if confirmed is not None:
                return CONFIRMED_OUTCOME, confirmed
        order = await self._order_for(session, session_id=session.get("id"), payment_intent=pi)
        if order is None:
            return "ignored: unknown order", None
        if not paid:
            return "ignored: not paid", order.id
        return await self._confirm_paid(
            order, amount=session.get("amount_total"), currency=session.get("currency"), payment_intent=pi
        ), order.id

    async def _session_async_failed(self, session: dict[str, Any]) -> tuple[str, str | None]:
        order = await self._order_for(session, session_id=session.get("id"))
        if order is None:
            return "ignored: unknown order", None
        result = await fail_order(self.db, order.id, reason="the delayed payment failed")
        return f"{result.outcome}: order {result.status}", order.id

    async def _session_expired(self, session: dict[str, Any]) -> tuple[str, str | None]:
        order = await self._order_for(session, session_id=session.get("id"))
        if order is None:
            return "ignored: unknown order", None
        result = await expire_order(self.db, order.id, force=True)
        return f"{result.outcome}: order {result.status}", order.id

    async def _intent_succeeded(self, intent: dict[str, Any]) -> tuple[str, str | None]:
        order = await self._order_for(intent, payment_intent=intent.get("id"))
        if order is None:
            return "ignored: unknown order", None
        amount = intent.get("amount_received") or intent.get("amount")
        return await self._confirm_paid(
            order, amount=amount, currency=intent.get("currency"), payment_intent=intent.get("id")
        ), order.id

    async def _intent_failed(self, intent: dict[str, Any]) -> tuple[str, str | None]:
        order = await self._order_for(intent, payment_intent=intent.get("id"))
        if order is None:
            return "ignored: unknown order", None
        error = intent.get("last_payment_error") or {}
        method = (
            (error.get("payment_method") or {}).get("type") if isinstance(error.get("payment_method"), dict) else None
        )
        message = error.get("message") or "the payment failed"
        if method in (None, "card"):
            # A declined card: the Checkout page stays open and the buyer may try again until the hold ends.
            await note_order_issue(self.db, order.id, f"payment attempt failed: {message}")
            return "card attempt failed: hold kept for a retry", order.id
        result = await fail_order(self.db, order.id, reason=f"the {method} payment failed: {message}")
        return f"{result.outcome}: order {result.status}", order.id

    async def _charge_refunded(self, charge: dict[str, Any]) -> tuple[str, str | None]:
        pi = charge.get("payment_intent") if isinstance(charge.get("payment_intent"), str) else None
        order = await self._order_for(charge, payment_intent=pi)
        if order is None and pi:
            # The refund overtook the payment's own events, so no order knows this PaymentIntent yet, and a charge
            # carries no metadata: the PaymentIntent names the order.
            try:
                order = await self._order_for(await self.payments.gateway.retrieve_payment_intent(pi))
            except StripeRequestRejected:  # not a PaymentIntent of this account's
                order = None
        if order is None:
            return "ignored: unknown order", None
        refunded = charge.get("amount_refunded")
        if not isinstance(refunded, int) or refunded <= 0:
            return "ignored: nothing refunded", order.id
        # A payment whose hold had ended is not taken back in when it is already refunded in full: nothing to sell.
        fully = isinstance(charge.get("amount"), int) and refunded >= charge["amount"]
        paid_late = order.status in LATE_PAYMENT_SOURCES
        if (order.status == OrderStatus.PENDING or (paid_late and not fully)) and charge.get("paid"):
            # The refund overtook the payment's own events: the charge proves the payment, apply it first.
            await self._confirm_paid(
                order, amount=charge.get("amount"), currency=charge.get("currency"), payment_intent=pi
            )
        result = await record_refund(self.db, order.id, refunded)
        return (
            f"{result.outcome or 'unchanged'}: order {result.status}, refunded {result.order.refunded_cents}",
            order.id,
        )
