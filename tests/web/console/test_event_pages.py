"""The console's event pages over HTTP (a live server, SQLite, the Stripe sandbox): the events list with its
figures, creating and editing an event, the three pricing models with their preview, the dashboard, finding an order
(by email and by ticket code), refunding part of it after a confirmation, canceling and resending; and the refusals:
a door member (403), another organizer's event (404), a form without its CSRF token (403, nothing changed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from boxoffice.accounts.roles import Role
from boxoffice.notifications.codes import ticket_code
from boxoffice.ticketing.orders import get_order, list_orders, list_tickets
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from boxoffice.ticketing.refunds import list_refunds
from boxoffice.ticketing.ticket_types import list_ticket_types
from tests.accounts.support import Member, make_member, sign_in
from tests.helpers import eventually, make_event, make_ticket, unique_email
from tests.server import LiveServer


@pytest.fixture
async def browser(site: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        yield client


async def member(site: LiveServer, **kw: Any) -> Member:
    return await make_member(site.box.db, site.box.settings.secret_bytes, **kw)


async def paid_order(site: LiveServer, event_id: str, tt_id: str, quantity: int = 2, email: str = "") -> str:
    placed = await site.box.payments.place_order(
        OrderRequest(
            event_id=event_id, email=email or unique_email(), name="Grace Hopper", lines=[LineRequest(tt_id, quantity)]
        )
    )
    assert site.box.sandbox is not None and placed.order.stripe_checkout_session_id
    await site.box.sandbox.complete_session(placed.order.stripe_checkout_session_id, "pay")

    async def confirmed() -> bool:
        return (await get_order(site.box.db, placed.order.id)).status == "confirmed"

    await eventually(confirmed)
    return placed.order.id


async def test_an_event_is_created_with_errors_in_words_then_edited(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site)
    csrf = await sign_in(browser, owner.email)
    bad = await browser.post(
        "/manage/events/new",
        data={"csrf_token": csrf, "title": "Jazz night", "timezone": "Mars/Olympus", "starts_at": "", "ends_at": ""},
    )
    assert bad.status_code == 422
    assert "Please choose a time zone from the list" in bad.text and 'value="Jazz night"' in bad.text
    wrong_order = await browser.post(
        "/manage/events/new",
        data={
            "csrf_token": csrf,
            "title": "Jazz night",
            "timezone": "Europe/Berlin",
            "starts_at": "2031-05-01T20:00",
            "ends_at": "2031-05-01T19:00",
            "currency": "EUR",
        },
    )
    assert wrong_order.status_code == 422 and "The end must be after the start" in wrong_order.text
    made = await browser.post(
        "/manage/events/new",
        data={
            "csrf_token": csrf,
            "title": "Jazz night",
            "timezone": "Europe/Berlin",
            "starts_at": "2031-05-01T20:00",
            "ends_at": "2031-05-01T23:00",
            "currency": "EUR",
        },
    )
    assert made.status_code == 303
    event_id = made.headers["location"].split("/")[3].split("?")[0]
    dashboard = await browser.get(made.headers["location"])
    assert dashboard.status_code == 200 and "Jazz night" in dashboard.text
    edit = await browser.get(f"/manage/events/{event_id}/edit")
    assert 'value="2031-05-01T20:00"' in edit.text  # shown in the event's own time zone (18:00 UTC)
    saved = await browser.post(
        f"/manage/events/{event_id}/edit",
        data={
            "csrf_token": csrf,
            "title": "Jazz night II",
            "timezone": "Europe/Berlin",
            "starts_at": "2031-05-01T21:00",
            "ends_at": "2031-05-01T23:30",
            "currency": "EUR",
        },
    )
    assert saved.status_code == 303
    home = await browser.get("/manage")
    assert "Jazz night II" in home.text and "0 of 0 sold" in home.text


async def test_three_pricing_models_with_a_preview_and_the_service_s_errors(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site)
    event = await make_event(site.box.db, organizer=owner.organizer_email, currency="usd")
    csrf = await sign_in(browser, owner.email)
    url = f"/manage/events/{event.id}/ticket-types/new"
    base = {"csrf_token": csrf, "quantity": "100", "position": "0"}
    fixed = await browser.post(
        url, data=base | {"title": "Standard", "pricing_model": "fixed", "base_price_cents": "20"}
    )
    assert fixed.status_code == 303
    flexible = await browser.post(
        url,
        data=base
        | {
            "title": "Supporter",
            "pricing_model": "flexible",
            "minimum_price_cents": "10",
            "suggested_price_cents": "5",
        },
    )
    assert flexible.status_code == 422 and "The suggested price must be at least the minimum price" in flexible.text
    assert 'value="Supporter"' in flexible.text
    tiers = base | {
        "title": "Early bird",
        "pricing_model": "dynamic",
        "tier-0-price_cents": "10",
        "tier-0-up_to": "50",
        "tier-1-price_cents": "15",
        "tippable": "on",
    }
    preview = await browser.post(url, data=tiers | {"action": "preview"})
    assert preview.status_code == 200
    assert "tickets 1 to 50" in preview.text and "tickets from 51 on" in preview.text and "$15.00" in preview.text
    assert "The next buyer pays $10.00" in preview.text
    fragment = await browser.post(f"/manage/events/{event.id}/ticket-types/preview", data=tiers)
    assert fragment.status_code == 200 and "tickets 1 to 50" in fragment.text and "<html" not in fragment.text
    unordered = await browser.post(url, data=tiers | {"tier-1-up_to": "40", "tier-2-price_cents": "20"})
    assert unordered.status_code == 422 and 'id="tier-1-up_to"' in unordered.text
    assert "higher than the tier" in unordered.text
    assert (await browser.post(url, data=tiers)).status_code == 303
    flexible_ok = await browser.post(
        url,
        data=base
        | {"title": "Supporter", "pricing_model": "flexible", "minimum_price_cents": "5", "suggested_price_cents": "8"},
    )
    assert flexible_ok.status_code == 303
    types = {t.title: t for t in await list_ticket_types(site.box.db, event.id)}
    assert types["Standard"].base_price_cents == 2000
    assert types["Early bird"].price_tiers == [{"price_cents": 1000, "up_to": 50}, {"price_cents": 1500}]
    assert types["Early bird"].tippable and types["Supporter"].suggested_price_cents == 800
    assert not types["Standard"].hidden
    hide = await browser.post(
        f"/manage/events/{event.id}/ticket-types/{types['Supporter'].id}/edit",
        data=base
        | {
            "title": "Supporter",
            "pricing_model": "flexible",
            "minimum_price_cents": "5",
            "suggested_price_cents": "8",
            "hidden": "on",
        },
    )
    assert hide.status_code == 303
    hidden = {t.title: t for t in await list_ticket_types(site.box.db, event.id)}["Supporter"]
    assert hidden.hidden  # hidden from buyers: sold only with a code that unlocks it
    shown = await browser.get(f"/manage/events/{event.id}/ticket-types/{hidden.id}/edit")
    assert 'name="hidden"' in shown.text and "checked" in shown.text.split('name="hidden"', 1)[1].split(">", 1)[0]
    edit = await browser.get(f"/manage/events/{event.id}/ticket-types/{types['Early bird'].id}/edit")
    assert 'value="50"' in edit.text and 'value="15.00"' in edit.text
    lower = await browser.post(
        f"/manage/events/{event.id}/ticket-types/{types['Standard'].id}/edit",
        data=base | {"title": "Standard", "pricing_model": "fixed", "base_price_cents": "25", "quantity": "0"},
    )
    assert lower.status_code == 422
    assert (await list_ticket_types(site.box.db, event.id))[0].base_price_cents == 2000  # bad input changed nothing


async def test_dashboard_orders_search_and_a_partial_refund_after_confirmation(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site)
    event = await make_event(site.box.db, organizer=owner.organizer_email)
    tt = await make_ticket(site.box.db, event.id, base_price_cents=2500, quantity=10)
    buyer = unique_email("lin")
    order_id = await paid_order(site, event.id, tt.id, 2, email=buyer)
    csrf = await sign_in(browser, owner.email)
    home = await browser.get("/manage")
    assert "2 of 10 sold" in home.text and "$50.00 gross" in home.text
    board = await browser.get(f"/manage/events/{event.id}")
    assert board.status_code == 200 and "<svg" in board.text and buyer in board.text
    assert 'data-figure="gross">$50.00' in board.text and 'data-figure="net">$50.00' in board.text
    live = await browser.get(f"/manage/events/{event.id}/live")
    assert live.status_code == 200 and "<html" not in live.text and 'data-figure="sold">2<' in live.text

    found = await browser.get(f"/manage/events/{event.id}/orders", params={"q": buyer[:8].upper()})
    assert order_id in found.text
    assert order_id not in (await browser.get(f"/manage/events/{event.id}/orders", params={"q": "nobody"})).text
    ticket = (await list_tickets(site.box.db, order_id))[0]
    code = ticket_code(ticket.id, ticket.code_version, site.box.settings.secret_bytes)
    by_code = await browser.get(f"/manage/events/{event.id}/orders", params={"q": code})
    assert order_id in by_code.text
    pending_only = await browser.get(f"/manage/events/{event.id}/orders", params={"status": "pending"})
    assert order_id not in pending_only.text

    url = f"/manage/events/{event.id}/orders/{order_id}/refund"
    too_much = await browser.post(url, data={"csrf_token": csrf, "amount": "60", "confirmed": "yes"})
    assert too_much.status_code == 422 and "Please enter at most $50.00" in too_much.text
    confirm = await browser.post(url, data={"csrf_token": csrf, "amount": "10"})
    assert confirm.status_code == 200 and "Yes, refund $10.00" in confirm.text
    assert await list_refunds(site.box.db, order_id) == []  # asking is not refunding
    key = confirm.text.split('name="refund_key" value="')[1].split('"')[0]
    for _ in range(2):  # a double submit of the confirmation is one refund
        done = await browser.post(
            url, data={"csrf_token": csrf, "amount": "10.00", "confirmed": "yes", "refund_key": key}
        )
        assert done.status_code == 303
    assert [r.amount_cents for r in await list_refunds(site.box.db, order_id)] == [1000]

    async def partly() -> bool:
        return (await get_order(site.box.db, order_id)).status == "partially_refunded"

    await eventually(partly)
    detail = await browser.get(f"/manage/events/{event.id}/orders/{order_id}")
    assert "refunded in part" in detail.text and "$10.00" in detail.text
    history = detail.text.split('id="history-heading"')[1].split("</ol>")[0]  # order_events, in order
    assert history.index("created (pending payment)") < history.index("confirmed (paid)")
    assert history.index("confirmed (paid)") < history.index("refunded in part: $10.00 refunded so far")
    assert 'data-figure="refunds">$10.00' in (await browser.get(f"/manage/events/{event.id}/live")).text


async def test_cancel_a_pending_order_and_resend_a_confirmation(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await member(site)
    event = await make_event(site.box.db, organizer=owner.organizer_email)
    tt = await make_ticket(site.box.db, event.id, base_price_cents=1000, quantity=5)
    placed = await site.box.payments.place_order(
        OrderRequest(event_id=event.id, email=unique_email(), lines=[LineRequest(tt.id, 1)])
    )
    csrf = await sign_in(browser, owner.email)
    base = f"/manage/events/{event.id}/orders/{placed.order.id}"
    nothing = await browser.post(base + "/resend", data={"csrf_token": csrf})
    assert nothing.headers["location"].endswith("problem=no-email")
    canceled = await browser.post(base + "/cancel", data={"csrf_token": csrf})
    assert canceled.headers["location"].endswith("done=canceled")
    assert (await get_order(site.box.db, placed.order.id)).status == "canceled"

    paid = await paid_order(site, event.id, tt.id, 1)
    sent = await eventually(lambda: _sent(site, paid))
    assert sent
    resent = await browser.post(f"/manage/events/{event.id}/orders/{paid}/resend", data={"csrf_token": csrf})
    assert resent.headers["location"].endswith("done=resent")
    assert await eventually(lambda: _sent(site, paid, attempts=1))


async def _sent(site: LiveServer, order_id: str, attempts: int = 0) -> bool:
    from sqlalchemy import select

    from boxoffice.notifications.models import EmailMessage

    async with site.box.db.read() as session:
        row = (
            await session.scalars(
                select(EmailMessage).where(EmailMessage.order_id == order_id, EmailMessage.kind == "confirmation")
            )
        ).one_or_none()
    return row is not None and row.status == "sent" and (attempts == 0 or row.attempts == attempts)


async def test_door_members_strangers_and_forms_without_their_token_are_refused(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site)
    event = await make_event(site.box.db, organizer=owner.organizer_email)
    tt = await make_ticket(site.box.db, event.id, base_price_cents=1000, quantity=5)
    order_id = await paid_order(site, event.id, tt.id, 1)
    door = await member(site, role=Role.DOOR, organizer=owner.organizer_email)
    csrf = await sign_in(browser, door.email)
    home = await browser.get("/manage")
    assert home.status_code == 200 and event.title in home.text and "gross" not in home.text
    for path in (f"/manage/events/{event.id}", f"/manage/events/{event.id}/orders", "/manage/events/new"):
        assert (await browser.get(path)).status_code == 403, path
    refused = await browser.post(
        f"/manage/events/{event.id}/orders/{order_id}/refund",
        data={"csrf_token": csrf, "amount": "5", "confirmed": "yes"},
    )
    assert refused.status_code == 403 and await list_refunds(site.box.db, order_id) == []

    async with httpx.AsyncClient(base_url=site.url, timeout=30) as other_browser:
        stranger = await member(site)
        other_csrf = await sign_in(other_browser, stranger.email)
        for path in (f"/manage/events/{event.id}", f"/manage/events/{event.id}/orders/{order_id}"):
            assert (await other_browser.get(path)).status_code == 404, path
        edit = await other_browser.post(
            f"/manage/events/{event.id}/edit", data={"csrf_token": other_csrf, "title": "Mine now"}
        )
        assert edit.status_code == 404

    async with httpx.AsyncClient(base_url=site.url, timeout=30) as owner_browser:
        await sign_in(owner_browser, owner.email)
        no_token = await owner_browser.post(
            f"/manage/events/{event.id}/orders/{order_id}/refund", data={"amount": "5", "confirmed": "yes"}
        )
        assert no_token.status_code == 403 and await list_refunds(site.box.db, order_id) == []
        assert len(await list_orders(site.box.db, event.id)) == 1


async def test_csv_exports_read_back_with_formulas_defused_and_doors_refused(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    import csv
    import io

    owner = await member(site)
    event = await make_event(site.box.db, organizer=owner.organizer_email)
    tt = await make_ticket(site.box.db, event.id, title="=HYPERLINK(1)", base_price_cents=1250, quantity=5)
    order_id = await paid_order(site, event.id, tt.id, 2, email="plus+tag@example.com")
    await sign_in(browser, owner.email)
    answer = await browser.get(f"/manage/events/{event.id}/export/orders.csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert [(r["order_id"], r["status"], r["total"], r["email"]) for r in rows] == [
        (order_id, "confirmed", "25.00", "plus+tag@example.com")
    ]
    holders = list(
        csv.DictReader(
            io.StringIO((await browser.get(f"/manage/events/{event.id}/export/attendees.csv")).text.lstrip("\ufeff"))
        )
    )
    assert len(holders) == 2 and {h["ticket_type"] for h in holders} == {"'=HYPERLINK(1)"}
    assert {h["order_id"] for h in holders} == {order_id}

    door = await member(site, role=Role.DOOR, organizer=owner.organizer_email)
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as door_browser:
        await sign_in(door_browser, door.email)
        for kind in ("orders", "attendees"):
            refused = await door_browser.get(f"/manage/events/{event.id}/export/{kind}.csv")
            assert refused.status_code == 403 and "text/csv" not in refused.headers["content-type"]


async def test_the_dashboard_stream_says_hello_then_passes_on_the_event_s_availability(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site)
    event = await make_event(site.box.db, organizer=owner.organizer_email)
    tt = await make_ticket(site.box.db, event.id, base_price_cents=1000, quantity=5)
    await sign_in(browser, owner.email)
    async with browser.stream("GET", f"/manage/events/{event.id}/stream") as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        lines = answer.aiter_lines()
        seen: list[str] = []
        async for line in lines:
            seen.append(line)
            if '"hello"' in line:
                break
        await site.box.payments.place_order(
            OrderRequest(event_id=event.id, email=unique_email(), lines=[LineRequest(tt.id, 1)])
        )
        async for line in lines:
            if '"availability"' in line:
                assert tt.id in line
                break
