"""Payments context: placing an order with a Stripe Checkout Session, canceling it, refunding it.

No database transaction is open during a Stripe call: the ticketing functions commit before and after.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm.attributes import set_committed_value

from boxoffice import metrics, money
from boxoffice.clock import utcnow
from boxoffice.db import Database, GroupWriter
from boxoffice.errors import Conflict, ErrorCode, InvalidInput, RetryLater
from boxoffice.events import service as events
from boxoffice.payments import closures
from boxoffice.payments.gateway import StripeGateway, StripeKeyRejected, StripeRequestRejected, StripeUnavailable
from boxoffice.ticketing import refunds, tokens
from boxoffice.ticketing import reserve as reservations
from boxoffice.ticketing.caps import NO_CAPS, BuyerCaps
from boxoffice.ticketing.checkout import CheckoutSession, note_order_issue, set_checkout_sessions
from boxoffice.ticketing.models import Order, OrderStatus
from boxoffice.ticketing.orders import TransitionResult, cancel_order, fail_order, get_order, record_refund
from boxoffice.ticketing.plan import MAX_LINE_QUANTITY, MAX_LINES, OrderRequest
from boxoffice.ticketing.ticket_types import list_ticket_types

log = logging.getLogger("boxoffice.payments")

# Stripe requires a Checkout Session to live at least 30 minutes: the hold gets a minute on top of the configured
# length so that the session created right after the reservation can expire together with the hold.
CHECKOUT_MARGIN = timedelta(minutes=1)


# A retry of an order request (same Idempotency-Key) that finds its order without a Checkout Session this soon after
# the order was made is answered "in progress, retry": the first request is most likely creating the session now.
# Later, the first request is taken for dead and the retry resumes the checkout (same Stripe idempotency key, so it
# can never make a second session).
REPLAY_GRACE = timedelta(seconds=5)
# A refund recorded but never answered by Stripe this long ago is sent again by the worker (same idempotency key).
REFUND_RESEND_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    checkout_url: str | None
    replayed: bool = False  # the request's Idempotency-Key had already created this order


@dataclass(frozen=True)
class RefundRequested:
    order_id: str
    refund_id: str
    amount_cents: int
    status: str


def _voucher_note(snapshot_line: dict[str, Any], currency: str, unit_price: int) -> str:
    """What a discounted line's description says of its code: ``Code SPRING20: $25.00, now $20.00 each``."""
    code = snapshot_line.get("voucher_code")
    if not code:
        return ""
    before = [int(p) for p in snapshot_line.get("undiscounted_unit_prices") or []]
    after = [int(p) for p in snapshot_line.get("unit_prices") or []]
    was = {b for b, a in zip(before, after, strict=False) if a == unit_price}
    if len(was) == 1 and unit_price not in was:
        return (
            f"Code {code}: {money.format_money(was.pop(), currency)}, "
            f"now {money.format_money(unit_price, currency)} each"
        )
    return f"Code {code}"


def checkout_line_items(order: Order, descriptions: dict[str, str], event_title: str) -> list[dict[str, Any]]:
    """One Checkout line per order line and distinct unit price (dynamic tiers), plus one for the tip. The amounts
    are what the order charges (a voucher's discount taken off), and a discounted line names its code, so the
    Checkout total is the order's total to the cent."""
    items: list[dict[str, Any]] = []
    snapshot_lines = (order.pricing_snapshot or {}).get("lines") or []
    for line in order.lines:
        prices = Counter(int(p) for p in (line.unit_prices or [line.unit_price_cents] * line.quantity))
        snapshot_line = snapshot_lines[line.position] if line.position < len(snapshot_lines) else {}
        for price in sorted(prices):
            product: dict[str, Any] = {"name": line.title[:250] or "Ticket"}
            description = (descriptions.get(line.ticket_type_id) or event_title).strip()
            note = _voucher_note(snapshot_line, order.currency, price)
            if note:
                description = f"{note}. {description}" if description else note
            if description:
                product["description"] = description[:500]
            items.append(
                {
                    "quantity": prices[price],
                    "price_data": {"currency": order.currency, "unit_amount": price, "product_data": product},
                }
            )
    if order.tip_cents:
        items.append(
            {
                "quantity": 1,
                "price_data": {
                    "currency": order.currency,
                    "unit_amount": order.tip_cents,
                    "product_data": {"name": "Tip", "description": f"A tip for {event_title}"[:500]},
                },
            }
        )
    return items


class Payments:
    def __init__(
        self,
        db: Database,
        gateway: StripeGateway,
        *,
        public_url: str,
        token_key: bytes,
        hold: timedelta = timedelta(minutes=30),
        async_payment_hold: timedelta = timedelta(days=7),
        max_lines: int = MAX_LINES,
        max_quantity: int = MAX_LINE_QUANTITY,
        caps: BuyerCaps = NO_CAPS,
    ) -> None:
        self.caps = caps
        self.max_lines = max_lines
        self.max_quantity = max_quantity
        self.db = db
        self.gateway = gateway
        self.public_url = public_url.rstrip("/")
        self.token_key = token_key
        self.hold = hold + CHECKOUT_MARGIN
        self.async_payment_hold = async_payment_hold
        # In a flash sale many checkouts finish at once: their sessions are stored together.
        self._sessions = GroupWriter(partial(set_checkout_sessions, db))

    # -- checkout ---------------------------------------------------------------------------------------------

    @metrics.timed(metrics.RESERVATION_SECONDS)
    async def reserve(self, request: OrderRequest) -> Order:
        """Hold the tickets for the checkout's lifetime (a free order is confirmed at once)."""
        return await reservations.reserve(
            self.db,
            request,
            hold=self.hold,
            max_lines=self.max_lines,
            max_quantity=self.max_quantity,
            caps=self.caps,
        )

    async def reserve_once_per_key(self, request: OrderRequest) -> PlacedOrder:
        """``reserve``, unless the request's Idempotency-Key already created an order: then that order, whatever
        happened to the request that created it (it may have died after its commit). The key's order is found by
        the key alone; the request must also be the same (``fingerprint``), or it is refused."""
        if request.idempotency_key is None:
            return PlacedOrder(await self.reserve(request), None)
        existing = await reservations.find_order_by_idempotency_key(self.db, request.idempotency_key)
        if existing is None:
            try:
                return PlacedOrder(await self.reserve(request), None)
            except reservations.IdempotencyKeyUsed as used:
                existing = used.order
        if existing.request_fingerprint != request.fingerprint:
            raise InvalidInput.one(
                "Idempotency-Key", "was already used with a different request body", code=ErrorCode.KEY_REUSED
            )
        if (
            existing.status == OrderStatus.PENDING
            and not existing.checkout_url
            and utcnow() - existing.created_at < REPLAY_GRACE
        ):
            raise RetryLater("the first request with this Idempotency-Key is still being processed", retry_after=2)
        return PlacedOrder(
            existing, existing.checkout_url if existing.status == OrderStatus.PENDING else None, replayed=True
        )

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        """Reserve the tickets (or find the order the request's Idempotency-Key made), then, after that commit,
        start or resume the Stripe checkout. A free order is confirmed at once."""
        placed = await self.reserve_once_per_key(request)
        if placed.order.status != OrderStatus.PENDING:
            return placed
        url = await self.start_checkout(placed.order)
        return PlacedOrder(placed.order, url, placed.replayed)

    def order_token(self, order: Order) -> str:
        return tokens.order_token(order.id, self.token_key)

    def order_url(self, order: Order) -> str:
        return f"{self.public_url}/orders/{order.id}?token={self.order_token(order)}"

    async def checkout_params(self, order: Order) -> dict[str, Any]:
        event_title, descriptions = await self._checkout_texts(order)
        ids = {"order_id": order.id, "event_id": order.event_id}
        order_url = self.order_url(order)
        return {
            "mode": "payment",
            "line_items": checkout_line_items(order, descriptions, event_title),
            "customer_email": order.email,
            "client_reference_id": order.id,
            "metadata": ids,
            "payment_intent_data": {"metadata": ids},
            "success_url": order_url + "&session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": order_url + "&checkout=canceled",
            "expires_at": int(closures.session_expiry(order.expires_at, utcnow()).timestamp()),
            "submit_type": "book",
        }

    async def _checkout_texts(self, order: Order) -> tuple[str, dict[str, str]]:
        """The event's title and each ticket's description, as the buyer saw them when the order was priced (the
        pricing snapshot keeps them); orders priced before the snapshot had them read the current ones."""
        snapshot = order.pricing_snapshot or {}
        lines = snapshot.get("lines") or []
        if "event_title" in snapshot and all("description" in line for line in lines):
            return str(snapshot["event_title"]), {
                str(line["ticket_type_id"]): str(line["description"] or "") for line in lines
            }
        event = await events.get_event(self.db, order.event_id)
        types = await list_ticket_types(self.db, order.event_id, include_deleted=True)
        return event.title, {tt.id: tt.description for tt in types}

    @metrics.timed(metrics.CHECKOUT_SECONDS)
    async def start_checkout(self, order_or_id: Order | str) -> str:
        """The Checkout URL of a pending order, creating the session when there is none yet.

        The idempotency key is derived from the order and its checkout attempt, so a retried request never makes a
        second session. Stripe down after the SDK's retries: the order fails and its hold is released. Stripe
        rejecting our key: the order stays pending (retryable once the key is fixed).
        """
        # An order fresh from ``reserve`` is used as it is; an id is read again.
        order = order_or_id if isinstance(order_or_id, Order) else await get_order(self.db, order_or_id)
        if order.status != OrderStatus.PENDING:
            raise Conflict(f"order {order.id} is {order.status}, not awaiting payment")
        if order.stripe_checkout_session_id and order.checkout_url:
            return order.checkout_url
        params = await self.checkout_params(order)
        key = f"boxoffice-checkout-{order.id}-{order.checkout_attempt}"
        try:
            session = await self.gateway.create_checkout_session(params, idempotency_key=key)
        except StripeKeyRejected:
            raise
        except StripeRequestRejected as exc:
            if exc.extra.get("stripe_code") == "idempotency_key_in_use":
                # another request (a retry of the same order) is creating this very session right now
                raise RetryLater("this order's checkout is being started by another request", retry_after=2) from None
            await fail_order(
                self.db, order.id, reason=f"checkout could not be started: {exc.detail}", release_idempotency_key=True
            )
            raise
        except StripeUnavailable as exc:
            await fail_order(
                self.db, order.id, reason=f"checkout could not be started: {exc.detail}", release_idempotency_key=True
            )
            raise
        await self._sessions.submit(CheckoutSession(order.id, session.id, session.url))
        if int(order.expires_at.timestamp()) != int(params["expires_at"]):  # a hold shorter than Stripe's minimum
            await closures.schedule(self.db, order.id, session.id, order.expires_at)
        set_committed_value(order, "stripe_checkout_session_id", session.id)
        set_committed_value(order, "checkout_url", session.url)
        log.info("checkout session created", extra={"order_id": order.id, "checkout_session_id": session.id})
        return str(session.url)

    # -- cancel and refund ------------------------------------------------------------------------------------

    async def cancel_pending(self, order_id: str) -> TransitionResult:
        """The buyer gives up: release the hold and expire the Stripe session so that it cannot be paid."""
        order = await get_order(self.db, order_id)
        if order.status != OrderStatus.PENDING:
            return TransitionResult(order, changed=False, previous_status=order.status, outcome="unchanged")
        # only a pending order: a payment that confirmed it since the read above must not be canceled unrefunded
        result = await cancel_order(self.db, order_id, reason="canceled by the buyer", sources=(OrderStatus.PENDING,))
        if result.changed and order.stripe_checkout_session_id:
            try:
                await self.gateway.expire_checkout_session(order.stripe_checkout_session_id)
            except StripeRequestRejected as exc:
                # Already completed or expired: a payment that went through is handled by its webhook (confirmed if
                # the tickets are still there, refunded otherwise).
                log.warning("could not expire checkout session", extra={"order_id": order_id, "error": exc.detail})
        return result

    async def refund(
        self,
        order_id: str,
        amount_cents: int | None = None,
        *,
        organizer_id: str | None = None,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
    ) -> RefundRequested:
        """Refund a paid order in full or in part: each call is a refund of its own (two partial refunds move the
        money twice), checked against what is left after every refund already asked; a call with the
        ``idempotency_key`` of an earlier one is that same refund. The order's refunded amount and status follow
        Stripe's ``charge.refunded`` webhook, so refunds made in Stripe's dashboard are reflected the same way."""
        opened = await refunds.open_refund(
            self.db,
            order_id,
            amount_cents,
            organizer_id=organizer_id,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
        refund, order = opened.refund, opened.order
        if refund.status != "requested":  # a retry of a refund Stripe has answered
            return RefundRequested(order.id, refund.stripe_refund_id or refund.id, refund.amount_cents, refund.status)
        assert order.stripe_payment_intent_id is not None  # open_refund refuses orders without a payment
        return await self._send_refund(
            refunds.RefundToSend(
                refund.id, order.id, order.event_id, refund.amount_cents, order.stripe_payment_intent_id
            )
        )

    async def _send_refund(self, refund: refunds.RefundToSend) -> RefundRequested:
        """Ask Stripe for a recorded refund. Stripe refusing it marks it failed (it no longer counts against what
        is left); Stripe unreachable leaves it recorded, to be sent again (same idempotency key) by a retry of the
        request or by the worker."""
        try:
            answer = await self.gateway.create_refund(
                payment_intent=refund.payment_intent_id,
                amount=refund.amount_cents,
                idempotency_key=f"boxoffice-refund-{refund.refund_id}",
                metadata={"order_id": refund.order_id, "event_id": refund.event_id, "refund_id": refund.refund_id},
            )
        except StripeRequestRejected as exc:
            await refunds.settle_refund(self.db, refund.refund_id, status="failed", failure_reason=exc.detail)
            raise
        await refunds.settle_refund(
            self.db, refund.refund_id, status=str(answer.status), stripe_refund_id=str(answer.id)
        )
        log.info(
            "refund requested",
            extra={"order_id": refund.order_id, "refund_id": answer.id, "amount": refund.amount_cents},
        )
        return RefundRequested(refund.order_id, str(answer.id), refund.amount_cents, str(answer.status))

    async def resend_unanswered_refunds(self, *, older_than: timedelta | None = None) -> int:
        """Send again the refunds Stripe never answered (the worker's loop); returns how many Stripe answered."""
        answered = 0
        wait = REFUND_RESEND_AFTER if older_than is None else older_than
        for pending in await refunds.unanswered_refunds(self.db, older_than=wait):
            try:
                await self._send_refund(pending)
            except StripeRequestRejected:
                answered += 1  # answered with a refusal: recorded as failed
            except (StripeUnavailable, StripeKeyRejected):
                return answered  # Stripe is still not answering: the next round tries again
            else:
                answered += 1
        return answered

    async def refund_unfulfillable(self, order: Order, payment_intent_id: str) -> None:
        """A payment arrived for an order whose tickets are gone: refund it in full, automatically, and record it."""
        await self.gateway.create_refund(
            payment_intent=payment_intent_id,
            amount=None,
            idempotency_key=f"boxoffice-autorefund-{order.id}",
            metadata={"order_id": order.id, "event_id": order.event_id, "reason": "tickets_unavailable"},
        )
        # the note first: whoever sees the order refunded also sees why
        await note_order_issue(
            self.db, order.id, "paid after the hold ended and the tickets were gone: refunded automatically"
        )
        await record_refund(self.db, order.id, order.total_cents)
        log.warning("late payment refunded: tickets unavailable", extra={"order_id": order.id})

    def async_hold_until(self) -> Any:
        return utcnow() + self.async_payment_hold
