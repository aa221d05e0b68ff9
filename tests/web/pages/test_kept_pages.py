"""The event page as everyone sees it, kept a moment in each process (``web.pages.kept_pages``).

The pages are read through a live server whose kept pages run on a clock of the test's own: what is kept, for how
long, and what is never kept do not depend on how fast the machine is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from fastapi.responses import HTMLResponse, Response

from boxoffice.events.service import change_status
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.ticket_types import update_ticket_type
from boxoffice.web.pages.kept_pages import KeptPages
from tests.helpers import make_event, make_ticket
from tests.server import LiveServer, live_server


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def kept(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[LiveServer, Clock]]:
    async with live_server(sqlite_url, mail_dir=str(tmp_path_factory.mktemp("mail")), page_cache_seconds=1) as srv:
        clock = Clock()
        pages = KeptPages(srv.box.settings.page_cache_seconds, clock=clock)
        srv.cable.app.state.event_pages = pages
        yield srv, clock


async def test_the_page_is_kept_for_its_second_then_shows_what_changed(kept: tuple[LiveServer, Clock]) -> None:
    site, clock = kept
    pages = site.cable.app.state.event_pages
    event = await make_event(site.box.db, title="Kept Night")
    tt = await make_ticket(site.box.db, event.id, title="Floor", quantity=5)
    first = await site.client.get(f"/e/{event.id}")
    assert first.status_code == 200 and "5 left" in first.text
    await reserve(site.box.db, OrderRequest(event.id, "a@example.com", [LineRequest(tt.id, 2)]))

    clock.now += 0.9
    again = await site.client.get(f"/e/{event.id}")
    assert again.text == first.text and "5 left" in again.text  # the same rendering, within its second
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["content-security-policy"] == first.headers["content-security-policy"]
    assert pages.rendered == 1
    # a code's page is that buyer's: rendered for them, with what is left now (an unknown code, in words)
    coded = await site.client.get(f"/e/{event.id}", params={"voucher": "NOSUCHCODE"})
    assert "3 left" in coded.text and pages.rendered == 1

    clock.now += 0.2
    later = await site.client.get(f"/e/{event.id}")
    assert "3 left" in later.text and "5 left" not in later.text and pages.rendered == 2
    await update_ticket_type(site.box.db, tt.id, {"title": "Standing"}, organizer_id=event.organizer_id)
    clock.now += 1.0
    assert "Standing" in (await site.client.get(f"/e/{event.id}")).text and pages.rendered == 3


async def test_pages_that_are_not_everyones_are_never_kept(kept: tuple[LiveServer, Clock]) -> None:
    site, _ = kept
    pages = site.cable.app.state.event_pages
    draft = await make_event(site.box.db, status="draft", title="Not Yet")
    assert (await site.client.get(f"/e/{draft.id}")).status_code == 404
    assert (await site.client.get("/e/ev_nope")).status_code == 404
    await change_status(site.box.db, draft.id, "publish", organizer_id=draft.organizer_id)
    shown = await site.client.get(f"/e/{draft.id}")  # published: shown at once, no 404 was kept
    assert shown.status_code == 200 and "Not Yet" in shown.text
    one = await make_event(site.box.db, title="First Event")
    two = await make_event(site.box.db, title="Second Event")
    assert "First Event" in (await site.client.get(f"/e/{one.id}")).text
    assert "Second Event" in (await site.client.get(f"/e/{two.id}")).text  # each event its own page
    assert "First Event" in (await site.client.get(f"/e/{one.id}")).text
    assert pages.rendered == 5


# -- KeptPages on its own ---------------------------------------------------------------------------------------


class Gated:
    """A rendering that waits for the test's gate, numbering its pages."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.calls = 0

    async def __call__(self) -> Response:
        self.calls += 1
        await self.gate.wait()
        return HTMLResponse(f"page {self.calls}")


async def test_requests_arriving_during_a_rendering_wait_for_it_instead_of_rendering_again() -> None:
    pages = KeptPages(1.0, clock=Clock())
    render = Gated()
    waiting = [asyncio.create_task(pages.page("ev_1", render)) for _ in range(20)]
    await asyncio.sleep(0)
    render.gate.set()
    bodies = {bytes((await w).body) for w in waiting}
    assert bodies == {b"page 1"} and render.calls == 1


async def test_a_failed_or_refused_rendering_is_not_handed_to_those_waiting() -> None:
    pages = KeptPages(1.0, clock=Clock())
    gate = asyncio.Event()
    answers = iter([None, HTMLResponse("not found", status_code=404), HTMLResponse("found")])

    async def render() -> Response:
        await gate.wait()
        answer = next(answers)
        if answer is None:
            raise RuntimeError("the database went away")
        return answer

    first = asyncio.create_task(pages.page("ev_1", render))
    await asyncio.sleep(0)
    second = asyncio.create_task(pages.page("ev_1", render))  # waits for the first rendering
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(RuntimeError):
        await first
    assert (await second).status_code == 404  # rendered on its own, and a 404 is not kept
    assert bytes((await pages.page("ev_1", render)).body) == b"found"


async def test_a_waiter_that_leaves_does_not_cancel_the_rendering_others_wait_for() -> None:
    pages = KeptPages(1.0, clock=Clock())
    render = Gated()
    renderer = asyncio.create_task(pages.page("ev_1", render))
    await asyncio.sleep(0)
    leaving = asyncio.create_task(pages.page("ev_1", render))
    staying = asyncio.create_task(pages.page("ev_1", render))
    await asyncio.sleep(0)
    leaving.cancel()
    await asyncio.sleep(0)
    render.gate.set()
    assert bytes((await renderer).body) == b"page 1" and bytes((await staying).body) == b"page 1"
    assert leaving.cancelled() and render.calls == 1


async def test_pages_with_cookies_are_not_kept_nothing_is_kept_at_zero_and_the_oldest_goes_first() -> None:
    calls = 0

    async def render() -> Response:
        nonlocal calls
        calls += 1
        return HTMLResponse(f"page {calls}")

    async def with_cookie() -> Response:
        response = HTMLResponse("mine")
        response.set_cookie("order", "secret")
        return response

    clock = Clock()
    pages = KeptPages(1.0, size=2, clock=clock)
    await pages.page("cookie", with_cookie)
    await pages.page("cookie", with_cookie)
    assert pages.rendered == 2
    for key in ("a", "b", "c"):
        await pages.page(key, render)
    assert calls == 3
    await pages.page("b", render)
    await pages.page("c", render)
    assert calls == 3  # b and c kept
    assert bytes((await pages.page("a", render)).body) == b"page 4"  # a went first, two at most are kept

    off = KeptPages(0, clock=clock)
    await off.page("a", render)
    await off.page("a", render)
    assert calls == 6 and off.rendered == 0
