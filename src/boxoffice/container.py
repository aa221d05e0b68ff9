"""The running application: builds every adapter and service from the Settings, starts and stops them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from boxoffice.accounts.housekeeping import prune_accounts
from boxoffice.checkin.devices import DeviceTokens
from boxoffice.db import Database
from boxoffice.integrations.addresses import UrlPolicy
from boxoffice.integrations.deliveries import prune_deliveries
from boxoffice.integrations.fanout import DeliveryQueue
from boxoffice.integrations.sender import SenderConfig, WebhookSender
from boxoffice.notifications.delivery import Mailer, queue_emails, queues_email
from boxoffice.notifications.transfers import queue_transfer_emails
from boxoffice.notifications.transport import make_transport
from boxoffice.outbox.dispatcher import DbHandler, Message, OutboxDispatcher, prune_published
from boxoffice.payments import closures
from boxoffice.payments.gateway import StripeGateway
from boxoffice.payments.keys import SANDBOX_PATH, StripeConfig, StripeConfigError, load_stripe_config
from boxoffice.payments.service import Payments
from boxoffice.payments.webhooks import WebhookProcessor
from boxoffice.realtime import Broker, make_broker
from boxoffice.realtime.checks import LiveChecks
from boxoffice.settings import Settings
from boxoffice.ticketing import voucher_codes, waitlist_offers
from boxoffice.ticketing.caps import BuyerCaps
from boxoffice.ticketing.orders import release_expired_holds
from boxoffice.web.ratelimit import RateLimiter, make_rate_limiter

if TYPE_CHECKING:
    from boxoffice.sandbox import Sandbox

log = logging.getLogger("boxoffice")


class Boxoffice:
    """Everything a process needs: database, broker, outbox dispatcher, Stripe gateway, payments, webhooks."""

    def __init__(self, settings: Settings, *, db: Database | None = None, broker: Broker | None = None) -> None:
        self.settings = settings
        self.public_url = settings.public_url.rstrip("/")
        self.db = db or Database(
            settings.database_dsn,
            pool_size=settings.database_pool_size,
            pool_timeout=settings.database_pool_timeout_seconds,
        )
        self.stripe: StripeConfig = load_stripe_config(settings)
        self.sandbox: Sandbox | None = None
        if self.stripe.is_sandbox:
            if settings.env == "production":  # load_stripe_config refuses this already; never rely on one guard
                raise StripeConfigError("the Stripe sandbox is never run when BOXOFFICE_ENV is 'production'")
            from boxoffice.sandbox import Sandbox, SandboxConfig  # only here: production never imports the sandbox

            self.sandbox = Sandbox(
                SandboxConfig(
                    api_keys={self.stripe.secret_key.get_secret_value()},
                    public_url=self.public_url + SANDBOX_PATH,
                    webhook_url=self.public_url + "/webhooks/stripe",
                    webhook_secrets=[s.get_secret_value() for s in self.stripe.webhook_secrets],
                )
            )
        self.gateway = StripeGateway(
            self.stripe, timeout=settings.stripe_timeout_seconds, max_concurrency=settings.stripe_max_concurrency
        )
        self.payments = Payments(
            self.db,
            self.gateway,
            public_url=self.public_url,
            token_key=settings.secret_bytes,
            hold=timedelta(minutes=settings.hold_minutes),
            max_lines=settings.max_lines_per_order,
            max_quantity=settings.max_quantity_per_line,
            caps=BuyerCaps(
                held_per_email=settings.max_held_tickets_per_email,
                held_per_address=settings.max_held_tickets_per_address,
                free_orders_per_email=settings.max_free_orders_per_email,
            ),
        )
        # Order creation per client address (API and buyer page); None when BOXOFFICE_ORDER_RATE_PER_MINUTE is 0.
        self.order_limiter: RateLimiter | None = make_rate_limiter(
            settings.redis_dsn, settings.order_rate_per_minute, settings.order_rate_burst, prefix=settings.redis_prefix
        )
        self.webhooks = WebhookProcessor(
            self.db,
            self.payments,
            [s.get_secret_value() for s in self.stripe.webhook_secrets],
            livemode=self.stripe.livemode,
        )
        self.broker = broker or make_broker(settings.redis_dsn, prefix=settings.redis_prefix)
        self.devices = DeviceTokens(self.db)  # door devices' tokens (check-in)
        self.live_checks = LiveChecks()  # open streams' credentials, asked again before each frame
        smtp_url = settings.smtp_url.get_secret_value() if settings.smtp_url else None
        self.mailer = Mailer(
            self.db,
            make_transport(smtp_url, settings.mail_dir),
            secret=settings.secret_bytes,
            sender=settings.mail_from,
            public_url=self.public_url,
            base_delay=settings.email_retry_seconds,
            claim_seconds=settings.email_claim_seconds,
        )
        # Outgoing webhooks: https only in production; loopback only where a setting (refused in production) says.
        self.webhook_policy = UrlPolicy(
            https_only=settings.env == "production", allow_loopback=settings.webhook_allow_loopback
        )
        self.webhook_retry_for = timedelta(hours=settings.webhook_retry_hours)
        self.webhook_sender = WebhookSender(
            self.db,
            SenderConfig(
                timeout=settings.webhook_timeout_seconds,
                max_response_bytes=settings.webhook_max_response_bytes,
                retry_base=settings.webhook_retry_seconds,
                max_retry_delay=settings.webhook_max_retry_delay_seconds,
                disable_after=timedelta(hours=settings.webhook_disable_after_hours),
                claim_seconds=settings.webhook_claim_seconds,
                max_concurrency=settings.webhook_max_concurrency,
                policy=self.webhook_policy,
            ),
            mail=self.mailer.transport,
            mail_from=settings.mail_from,
            public_url=self.public_url,
        )
        self.delivery_queue = DeliveryQueue(retry_for=self.webhook_retry_for)
        self.dispatcher = OutboxDispatcher(
            self.db,
            publish=self.broker.publish_many,
            handlers=[queue_emails, queue_transfer_emails, self.delivery_queue],
            on_batch=self._outbox_batch_done,
            claim_seconds=settings.outbox_claim_seconds,
        )
        self.db.on_commit(self.dispatcher.kick)
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False

    def _outbox_batch_done(self, messages: Sequence[Message]) -> None:
        # Wake the mailer and the webhook sender only when the batch gave them work: a sale's batches are mostly
        # orders being held, and each needless wake-up costs their claim statements.
        if any(queues_email(message) for message in messages):
            self.mailer.kick()
        if self.delivery_queue.take_queued():
            self.webhook_sender.kick()

    def add_outbox_handler(self, handler: DbHandler) -> None:
        self.dispatcher.add_handler(handler)

    async def start(self, *, run_worker: bool | None = None) -> None:
        if self._started:
            return
        self._started = True
        worker = self.settings.run_worker if run_worker is None else run_worker
        await self.broker.start()
        if self.sandbox is not None:
            log.warning(
                "STRIPE SANDBOX MODE: no STRIPE_SECRET_KEY is set; payments go to the local Stripe sandbox at %s "
                "and no real money moves",
                self.stripe.api_base,
            )
            await self.sandbox.start()
        if worker:
            await self.dispatcher.start()
            await self.mailer.start()
            await self.webhook_sender.start()
            self._tasks = [
                asyncio.create_task(self._sweep_forever(), name="hold-sweeper"),
                asyncio.create_task(self._resend_refunds_forever(), name="refund-resender"),
                asyncio.create_task(self._housekeep_forever(), name="housekeeping"),
                asyncio.create_task(self._waiting_list_forever(), name="waiting-list"),
                asyncio.create_task(self._close_checkouts_forever(), name="checkout-closer"),
            ]

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.dispatcher.stop()
        await self.mailer.stop()
        await self.webhook_sender.stop()
        if self.sandbox is not None:
            await self.sandbox.stop()
        await self.broker.stop()
        if self.order_limiter is not None:
            await self.order_limiter.close()
        await self.gateway.close()
        await self.db.dispose()

    async def sweep_once(self) -> int:
        """Release expired holds."""
        return await release_expired_holds(self.db)

    async def waiting_list_once(self) -> dict[str, int]:
        """Expire unused waiting-list offers, end the reservations of expired vouchers, and offer the tickets held
        back for waiting lists to their entries, in order."""
        ended = await voucher_codes.end_lapsed_reservations(self.db)
        return {**await waitlist_offers.run_once(self.db), "reservations_ended": ended}

    async def close_checkouts_once(self) -> int:
        """Close the Checkout Sessions of short holds that have ended (expire the order, then the session)."""
        return len(await closures.close_due(self.db, self.gateway))

    async def _waiting_list_forever(self) -> None:
        while True:
            try:
                done = await self.waiting_list_once()
                if any(done.values()):
                    log.info("waiting lists served", extra=done)
            except Exception:
                log.exception("waiting-list worker failed; retrying at the next interval")
            await asyncio.sleep(self.settings.sweep_interval_seconds)

    async def _close_checkouts_forever(self) -> None:
        """In a loop of its own, as the refund resender: a hanging Stripe never holds up the hold sweeper."""
        while True:
            try:
                closed = await self.close_checkouts_once()
                if closed:
                    log.info("checkout sessions of short holds closed", extra={"count": closed})
            except Exception:
                log.exception("checkout closer failed; retrying")
            await asyncio.sleep(self.settings.sweep_interval_seconds)

    async def housekeep_once(self) -> dict[str, int]:
        """Delete what is no longer needed: outbox messages published longer ago than the retention, in batches of
        short transactions, so a sale is never held up by it."""
        return {
            "outbox_messages": await prune_published(
                self.db, older_than=timedelta(hours=self.settings.outbox_retention_hours)
            ),
            **await prune_accounts(self.db, sign_in_window=timedelta(seconds=self.settings.sign_in_window_seconds)),
            "webhook_deliveries": await prune_deliveries(
                self.db, older_than=timedelta(days=self.settings.webhook_log_retention_days)
            ),
        }

    async def _housekeep_forever(self) -> None:
        while True:
            try:
                deleted = await self.housekeep_once()
                if any(deleted.values()):
                    log.info("housekeeping deleted old rows", extra=deleted)
            except Exception:
                log.exception("housekeeping failed; retrying at the next interval")
            await asyncio.sleep(self.settings.housekeeping_interval_seconds)

    async def _resend_refunds_forever(self) -> None:
        """Refunds Stripe never answered are sent again (same idempotency key), in a loop of their own: a Stripe
        that hangs holds up this loop, never the hold sweeper."""
        while True:
            try:
                answered = await self.payments.resend_unanswered_refunds()
                if answered:
                    log.info("unanswered refunds sent again", extra={"count": answered})
            except Exception:
                log.exception("refund resender failed; retrying")
            await asyncio.sleep(self.settings.sweep_interval_seconds)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                expired = await self.sweep_once()
                if expired:
                    log.info("released expired holds", extra={"count": expired})
            except Exception:
                log.exception("hold sweeper failed; retrying")
            await asyncio.sleep(self.settings.sweep_interval_seconds)
