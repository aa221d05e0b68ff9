"""``BOXOFFICE_METRICS_PORT``: ``boxoffice serve`` also answers ``GET /metrics`` on 127.0.0.1:<port> without a token
(and nothing else there), while the public port keeps no ``/metrics`` unless a token is set; a bad or taken port
stops start-up with a message naming the variable."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from typer.testing import CliRunner

from boxoffice import cli
from boxoffice.db import Database
from boxoffice.settings import Settings, get_settings
from tests.helpers import eventually, make_event, make_ticket
from tests.processes import Proc, free_port, server_env, wait_up

TOKEN = "metrics-token-for-tests-0123456789"


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_setting_takes_a_port_number_or_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOXOFFICE_METRICS_PORT", "9464")
    assert Settings().metrics_port == 9464
    monkeypatch.setenv("BOXOFFICE_METRICS_PORT", "")
    assert Settings().metrics_port is None
    for bad in ("0", "70000", "metrics"):
        monkeypatch.setenv("BOXOFFICE_METRICS_PORT", bad)
        with pytest.raises(ValidationError, match="metrics_port"):
            Settings()


def serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, metrics_port: int, port: int) -> tuple[int, str]:
    """``boxoffice serve`` in this process (Uvicorn itself replaced: these runs must stop before serving)."""
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: pytest.fail("served despite a bad metrics port"))
    monkeypatch.setenv("BOXOFFICE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("BOXOFFICE_METRICS_PORT", str(metrics_port))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["serve", "--port", str(port)])
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


def test_serve_refuses_the_services_own_port(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code, output = serve(monkeypatch, tmp_path, 8125, 8125)
    assert code == 2
    assert "BOXOFFICE_METRICS_PORT must differ from the service's port (8125)" in output


def test_serve_stops_when_the_metrics_port_is_taken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, output = serve(monkeypatch, tmp_path, port, free_port())
    assert code == 2
    assert f"BOXOFFICE_METRICS_PORT: cannot listen on 127.0.0.1:{port}" in output


@pytest.mark.integration
@pytest.mark.parametrize("token", [None, TOKEN], ids=["no-token", "token-too"])
async def test_the_internal_port_serves_metrics_without_a_token(tmp_path: Path, token: str | None) -> None:
    port, metrics_port = free_port(), free_port()
    url = f"sqlite+aiosqlite:///{tmp_path / 'box.db'}"
    env = server_env(url, port, tmp_path, BOXOFFICE_METRICS_PORT=str(metrics_port))
    if token is not None:
        env["BOXOFFICE_METRICS_TOKEN"] = token
    server = Proc(["-m", "boxoffice.cli", "serve", "--port", str(port)], env, tmp_path / "server.log").start()
    public, internal = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"
    try:
        await wait_up(public + "/healthz", timeout=60)
        await wait_up(internal + "/metrics", timeout=30)
        db = Database(url)
        try:
            event = await make_event(db)
            ticket = await make_ticket(db, event.id)
        finally:
            await db.dispose()
        async with httpx.AsyncClient(timeout=30) as client:
            order = {"email": "ada@example.com", "name": "Ada", "lines": [{"ticket_id": ticket.id, "quantity": 1}]}
            placed = await client.post(f"{public}/api/v1/events/{event.id}/orders", json=order)
            assert placed.status_code == 201, placed.text
            scraped = await client.get(internal + "/metrics")
            assert scraped.status_code == 200
            assert scraped.headers["content-type"].startswith("text/plain")
            figures = parse(scraped.text)
            assert figures[("boxoffice_metrics_database_up", frozenset())] == 1

            async def pending_counted() -> bool:  # the database's figures are read again after at most 5 s
                scraped = parse((await client.get(internal + "/metrics")).text)
                return scraped.get(("boxoffice_orders", frozenset({("status", "pending")}))) == 1

            await eventually(pending_counted, timeout=30, interval=0.5)
            # counted in memory by the process that served the order, read by the same process's listener
            assert figures[("boxoffice_reservation_seconds_count", frozenset({("outcome", "ok")}))] == 1
            assert ("process_resident_memory_bytes", frozenset()) in figures
            # only /metrics on the internal port; the public port has /metrics only with the token
            assert (await client.get(internal + "/healthz")).status_code == 404
            assert (await client.post(internal + "/metrics")).status_code == 405
            public_metrics = await client.get(public + "/metrics")
            if token is None:
                assert public_metrics.status_code == 404
            else:
                assert public_metrics.status_code == 401
                authorized = await client.get(public + "/metrics", headers={"Authorization": f"Bearer {token}"})
                assert authorized.status_code == 200
        assert server.proc is not None
        listening = {
            (c.laddr.ip, c.laddr.port)
            for c in psutil.Process(server.proc.pid).net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN
        }
        assert ("127.0.0.1", metrics_port) in listening
        assert not any(p == metrics_port and ip != "127.0.0.1" for ip, p in listening)
    finally:
        server.stop()
