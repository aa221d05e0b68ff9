"""The email log of an event: every email with its status, attempts and last error; a failed one retried from its
button (sent by the mailer afterwards, once), a retry of an email that is not failed (or another event's) changing
nothing; door members, other organizers and forms without their CSRF token refused. The log pages by keyset."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from boxoffice.accounts.roles import Role
from boxoffice.notifications.delivery import list_emails
from boxoffice.notifications.email_log import list_event_emails
from boxoffice.notifications.transport import EmailTransport, Outgoing, TransportError
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from tests.accounts.support import Member, make_member, sign_in
from tests.helpers import eventually, make_event, make_ticket, unique_email
from tests.server import LiveServer


class Refusing(EmailTransport):
    async def send(self, message: Outgoing) -> None:
        raise TransportError("550 mailbox unavailable", smtp_code=550)


@pytest.fixture
async def browser(site: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        yield client


@pytest.fixture
def refusing_mail(site: LiveServer) -> Iterator[EmailTransport]:
    """The live server's mailer refuses every email and gives up after one try; yields its own transport (the
    ``.eml`` files), put back afterwards."""
    mailer = site.box.mailer
    kept = (mailer.transport, mailer.max_attempts)
    mailer.transport, mailer.max_attempts = Refusing(), 1
    try:
        yield kept[0]
    finally:
        mailer.transport, mailer.max_attempts = kept


async def member(site: LiveServer, **kw: Any) -> Member:
    return await make_member(site.box.db, site.box.settings.secret_bytes, **kw)


async def free_orders(site: LiveServer, event_id: str, tt_id: str, count: int) -> list[str]:
    orders = []
    for _ in range(count):
        placed = await site.box.payments.place_order(
            OrderRequest(event_id=event_id, email=unique_email(), name="Lin", lines=[LineRequest(tt_id, 1)])
        )
        orders.append(placed.order.id)
    return orders


async def test_failed_emails_are_shown_with_their_error_and_retried_once(
    site: LiveServer, browser: httpx.AsyncClient, refusing_mail: EmailTransport
) -> None:
    owner = await member(site)
    event = await make_event(site.box.db, organizer=owner.organizer_email)
    tt = await make_ticket(site.box.db, event.id, base_price_cents=0, quantity=10)
    await free_orders(site, event.id, tt.id, 2)

    async def both_failed() -> bool:
        return [e.status for e in await list_emails(site.box.db, event.id)] == ["failed", "failed"]

    await eventually(both_failed)
    csrf = await sign_in(browser, owner.email)
    url = f"/manage/events/{event.id}/emails"
    page = await browser.get(url)
    assert page.status_code == 200 and "2 failed" in page.text
    assert page.text.count('data-status="failed"') == 2 and "550 mailbox unavailable" in page.text
    assert page.text.count("/retry") == 2 and "Order confirmation" in page.text

    first, second = await list_emails(site.box.db, event.id)
    retry = f"{url}/{first.id}/retry"
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as others:
        stranger = await member(site)
        other_csrf = await sign_in(others, stranger.email)
        assert (await others.post(retry, data={"csrf_token": other_csrf})).status_code == 404
    door = await member(site, role=Role.DOOR, organizer=owner.organizer_email)
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as door_browser:
        door_csrf = await sign_in(door_browser, door.email)
        assert (await door_browser.post(retry, data={"csrf_token": door_csrf})).status_code == 403
        assert (await door_browser.get(url)).status_code == 403
    assert (await browser.post(retry, data={})).status_code == 403
    assert [e.status for e in await list_emails(site.box.db, event.id)] == ["failed", "failed"]  # nothing changed

    site.box.mailer.transport = refusing_mail  # the mail server is back
    retried = await browser.post(retry, data={"csrf_token": csrf})
    assert retried.status_code == 303 and retried.headers["location"].endswith("?done=retried")
    site.box.mailer.kick()

    async def first_sent() -> bool:
        return {e.id: e.status for e in await list_emails(site.box.db, event.id)} == {
            first.id: "sent",
            second.id: "failed",
        }

    await eventually(first_sent)
    again = await browser.post(retry, data={"csrf_token": csrf})
    assert again.status_code == 303 and again.headers["location"].endswith("?problem=not-failed")
    shown = await browser.get(again.headers["location"])
    assert "This email is not failed" in shown.text and "1 failed" in shown.text
    only_failed = await browser.get(url, params={"status": "failed"})
    assert f'data-email="{second.id}"' in only_failed.text and f'data-email="{first.id}"' not in only_failed.text
    sent = {e.id: e for e in await list_emails(site.box.db, event.id)}[first.id]
    assert (sent.attempts, sent.last_error) == (1, None)  # sent on the first try after the retry


async def test_the_log_comes_in_pages_newest_first(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    tt = await make_ticket(site.box.db, event.id, base_price_cents=0, quantity=10)
    await free_orders(site, event.id, tt.id, 3)

    async def three() -> bool:
        return len(await list_emails(site.box.db, event.id)) == 3

    await eventually(three)
    seen: list[str] = []
    cursor = None
    while True:
        page = await list_event_emails(site.box.db, event.id, cursor=cursor, limit=2)
        seen.extend(e.id for e in page.emails)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    emails = await list_emails(site.box.db, event.id)
    newest_first = sorted(emails, key=lambda e: (e.created_at, e.id), reverse=True)
    assert seen == [e.id for e in newest_first]
