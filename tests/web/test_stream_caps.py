"""Open SSE streams are capped per client address and per process: past a cap the answer is 429 problem+json
with Retry-After, and a stream's slot comes back when it ends, including when the client goes away."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest

from boxoffice.realtime.slots import StreamSlots
from boxoffice.settings import Settings
from boxoffice.ticketing.reserve import reserve
from tests.helpers import eventually, make_event, make_ticket, order_request
from tests.server import LiveServer, live_server


def test_slots_per_address_and_in_all() -> None:
    slots = StreamSlots(per_address=2, total=3)
    a1, a2 = slots.take("a"), slots.take("a")
    assert a1 is not None and a2 is not None and slots.take("a") is None
    b1 = slots.take("b")
    assert b1 is not None and slots.take("c") is None  # the process cap
    a1.release()
    a1.release()  # idempotent
    assert slots.open == 2 and slots.by_address["a"] == 1
    assert slots.take("c") is not None and slots.take("a") is None
    unlimited = StreamSlots(per_address=0, total=0)
    assert all(unlimited.take("a") is not None for _ in range(100))


def test_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.sse_max_per_address, settings.sse_max_streams) == (20, 2000)


@asynccontextmanager
async def opened(client: httpx.AsyncClient, path: str) -> AsyncIterator[httpx.Response]:
    """A stream that has answered (status and headers read), closed on exit (the client goes away)."""
    async with client.stream("GET", path) as response:
        lines = response.aiter_lines()  # kept while open: a collected line iterator would close the stream
        if response.status_code == 200:
            await anext(lines)  # the first frame: the server is streaming
        else:
            await response.aread()
        yield response
        del lines


def refused(response: httpx.Response) -> None:
    assert response.status_code == 429, response.status_code
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["type"].endswith("/too-many-streams")


async def stream_paths(srv: LiveServer) -> list[str]:
    event = await make_event(srv.box.db)
    tt = await make_ticket(srv.box.db, event.id)
    order = await reserve(srv.box.db, order_request(event.id, (tt.id, 1)))
    return [
        f"/api/v1/events/{event.id}/stream",
        f"/api/v1/orders/{order.id}/stream?token={srv.box.payments.order_token(order)}",
    ]


@pytest.mark.parametrize(("per_address", "total"), [(2, 0), (0, 2)])
async def test_past_the_cap_429_then_a_closed_stream_frees_its_slot(
    sqlite_url: str, tmp_path_factory: pytest.TempPathFactory, per_address: int, total: int
) -> None:
    mail = str(tmp_path_factory.mktemp("mail"))
    async with live_server(sqlite_url, mail_dir=mail, sse_max_per_address=per_address, sse_max_streams=total) as srv:
        event_path, order_path = await stream_paths(srv)
        async with AsyncExitStack() as streams:
            first = await streams.enter_async_context(opened(srv.client, event_path))
            second = await streams.enter_async_context(opened(srv.client, order_path))
            assert first.status_code == second.status_code == 200
            for path in (event_path, order_path):
                async with opened(srv.client, path) as third:
                    refused(third)
            async with (
                httpx.AsyncClient(base_url=srv.url, timeout=30) as other_connection,
                opened(other_connection, event_path) as fourth,
            ):
                refused(fourth)
        # Both clients went away: their slots come back.

        async def reopens() -> bool:
            async with opened(srv.client, order_path) as again, opened(srv.client, event_path) as more:
                return again.status_code == more.status_code == 200

        assert await eventually(reopens)
