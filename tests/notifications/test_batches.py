"""Emails in batches: two workers on PostgreSQL send each email once, a worker that dies mid-batch loses nothing
(its claims expire and another worker sends the batch), and one refused email does not fail the rest of its batch."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select, update

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.notifications.delivery import Mailer
from boxoffice.notifications.mime import ComposedEmail
from boxoffice.notifications.models import EmailMessage as EmailRow
from boxoffice.notifications.transport import EmailTransport, Outgoing, TransportError
from boxoffice.ticketing.orders import confirm_order
from boxoffice.ticketing.reserve import reserve
from tests.helpers import make_event, make_ticket, order_request, set_aside_other_emails
from tests.notifications.test_delivery import drain

SECRET = b"batch-test-secret"


class Recording(EmailTransport):
    """Keeps what it is given; refuses the recipients in ``refuse``; ``crash`` makes a batch raise, as a worker
    killed in the middle of sending would stop."""

    def __init__(self, refuse: frozenset[str] = frozenset(), crash: bool = False) -> None:
        self.sent: list[EmailMessage] = []
        self.refuse = refuse
        self.crash = crash

    async def send(self, message: Outgoing) -> None:
        await asyncio.sleep(0)
        if isinstance(message, ComposedEmail):
            message = message.as_message()
        if self.crash:
            raise SystemError("worker killed")
        if message["To"].addresses[0].addr_spec in self.refuse:
            raise TransportError("550 no such mailbox", smtp_code=550)
        self.sent.append(message)


def make_mailer(db: Database, transport: EmailTransport) -> Mailer:
    return Mailer(db, transport, secret=SECRET, sender="Box <box@example.com>", public_url="http://127.0.0.1:8000")


async def confirmed_orders(db: Database, count: int) -> list[str]:
    event = await make_event(db, title="Batch Night")
    tt = await make_ticket(db, event.id, quantity=count)
    ids = []
    for i in range(count):
        order = await reserve(db, order_request(event.id, (tt.id, 1), email=f"b{i}-{event.id}@example.com"))
        await confirm_order(db, order.id)
        ids.append(order.id)
    await drain(db)
    return ids


def ours(sent: Sequence[EmailMessage], order_ids: list[str]) -> Counter[str]:
    wanted = set(order_ids)
    return Counter(oid for m in sent for oid in wanted if str(m["Message-ID"]) == f"<order.confirmed.{oid}@boxoffice>")


async def statuses(db: Database, order_ids: list[str]) -> dict[str, tuple[str, int]]:
    async with db.read() as session:
        rows = (await session.scalars(select(EmailRow).where(EmailRow.order_id.in_(order_ids)))).all()
    return {row.order_id or "": (row.status, row.attempts) for row in rows}


async def test_two_workers_send_each_email_once(pg_db: Database, tmp_path: Path) -> None:
    order_ids = await confirmed_orders(pg_db, 30)
    first, second = Recording(), Recording()

    async def run(mailer: Mailer) -> None:
        while await mailer.deliver_due(limit=4):
            pass

    await asyncio.gather(run(make_mailer(pg_db, first)), run(make_mailer(pg_db, second)))
    assert ours(first.sent + second.sent, order_ids) == Counter(dict.fromkeys(order_ids, 1))
    assert set((await statuses(pg_db, order_ids)).values()) == {("sent", 1)}


async def test_a_batch_cut_short_is_sent_once_its_claims_expire(db: Database) -> None:
    order_ids = await confirmed_orders(db, 5)
    dead = make_mailer(db, Recording(crash=True))
    with contextlib.suppress(SystemError):
        await dead.deliver_due(limit=100)
    assert {s for s, _ in (await statuses(db, order_ids)).values()} == {"pending"}
    alive = Recording()
    survivor = make_mailer(db, alive)
    while await survivor.deliver_due(limit=100):  # still claimed by the dead worker: nothing to send yet
        pass
    assert ours(alive.sent, order_ids) == Counter()
    later = utcnow() + timedelta(seconds=dead.claim_seconds + 1)
    while await survivor.deliver_due(limit=100, now=later):
        pass
    assert ours(alive.sent, order_ids) == Counter(dict.fromkeys(order_ids, 1))
    assert set((await statuses(db, order_ids)).values()) == {("sent", 2)}


async def test_one_refused_email_leaves_the_rest_of_its_batch_sent(db: Database) -> None:
    order_ids = await confirmed_orders(db, 4)
    async with db.read() as session:
        refused = (await session.scalars(select(EmailRow.to_email).where(EmailRow.order_id == order_ids[1]))).one()
    transport = Recording(refuse=frozenset({refused}))
    mailer = make_mailer(db, transport)
    while await mailer.deliver_due(limit=100):
        pass
    assert ours(transport.sent, order_ids) == Counter(dict.fromkeys([order_ids[0], *order_ids[2:]], 1))
    found = await statuses(db, order_ids)
    assert found[order_ids[1]] == ("pending", 1)
    assert {found[o] for o in order_ids if o != order_ids[1]} == {("sent", 1)}
    async with db.read() as session:
        row = (await session.scalars(select(EmailRow).where(EmailRow.order_id == order_ids[1]))).one()
    assert row.last_error is not None and "550" in row.last_error
    assert row.next_attempt_at > utcnow() + mailer.backoff(1) - timedelta(seconds=5)


async def test_a_claim_takes_at_most_a_batch(db: Database) -> None:
    order_ids = await confirmed_orders(db, 7)
    transport = Recording()
    mailer = make_mailer(db, transport)
    sizes = []
    while n := await mailer.deliver_due(limit=3):
        sizes.append(n)
    assert max(sizes) <= 3
    assert ours(transport.sent, order_ids) == Counter(dict.fromkeys(order_ids, 1))


async def reset(db: Database, order_ids: list[str]) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(EmailRow)
            .where(EmailRow.order_id.in_(order_ids))
            .values(status="pending", attempts=0, sent_at=None, next_attempt_at=utcnow() - timedelta(seconds=1))
        )


class Chunked(Recording):
    """Records the size of each ``send_many``; a chunk holding a recipient in ``crash_on`` raises mid-way."""

    def __init__(self, crash_on: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.chunks: list[int] = []
        self.crash_on = crash_on

    async def send_many(self, messages: Sequence[Outgoing]) -> list[TransportError | None]:
        self.chunks.append(len(messages))
        if any(isinstance(m, ComposedEmail) and set(m.recipients) & self.crash_on for m in messages):
            await asyncio.sleep(0)
            raise SystemError("connection handler crashed")
        return await super().send_many(messages)


async def test_a_batch_goes_out_in_chunks_and_a_crashed_chunk_alone_stays_claimed(db: Database) -> None:
    order_ids = await confirmed_orders(db, 20)
    await set_aside_other_emails(db, keep=order_ids)
    await reset(db, order_ids)
    transport = Chunked()
    mailer = Mailer(db, transport, secret=SECRET, sender="b@example.com", public_url="http://x", min_chunk=4)
    while await mailer.deliver_due(limit=20):
        pass
    assert transport.chunks == [5, 5, 5, 5]  # four connections, a quarter of the batch each
    assert ours(transport.sent, order_ids) == Counter(dict.fromkeys(order_ids, 1))

    more = await confirmed_orders(db, 12)
    await set_aside_other_emails(db, keep=more)
    async with db.read() as session:
        victim = (await session.scalars(select(EmailRow.to_email).where(EmailRow.order_id == more[0]))).one()
    crashing = Chunked(crash_on=frozenset({victim}))
    mailer = Mailer(db, crashing, secret=SECRET, sender="b@example.com", public_url="http://x", min_chunk=4)
    with contextlib.suppress(SystemError):
        await mailer.deliver_due(limit=12)
    found = await statuses(db, more)
    assert crashing.chunks == [4, 4, 4]
    assert sum(1 for status, _ in found.values() if status == "sent") == 8  # the other two chunks
    assert found[more[0]] == ("pending", 1)  # claimed still: sent again when the claim runs out
