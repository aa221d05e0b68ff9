"""Metrics over several processes: prometheus_client's multiprocess mode adds up what every process counted, and
``boxoffice serve --workers 2`` answers one scrape with both workers' figures, in a folder made for the run and
removed after it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from prometheus_client import multiprocess
from prometheus_client.parser import text_string_to_metric_families

from boxoffice.db import Database
from tests.helpers import eventually, make_event, make_ticket
from tests.processes import ROOT, free_port, paid_server, wait_up

TOKEN = "metrics-token-for-tests-0123456789"

COUNT = textwrap.dedent(
    """
    from boxoffice import metrics
    metrics.RESERVATION_SECONDS.labels(outcome="ok").observe(0.01)
    metrics.email_failed(final=True)
    metrics.SSE_SUBSCRIBERS.inc()
    if "{stop}" == "yes":
        metrics.process_stopped()
    """
)
SCRAPE = textwrap.dedent(
    """
    from prometheus_client import generate_latest
    from boxoffice import metrics
    print(generate_latest(metrics.multiprocess_registry(metrics.multiprocess_dir())).decode())
    """
)


def figures(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def python(code: str, folder: Path) -> str:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(folder), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.integration
def test_every_process_counts_in_one_scrape(tmp_path: Path) -> None:
    python(COUNT.format(stop="no"), tmp_path)  # ended without saying so (killed): its open stream still counts
    python(COUNT.format(stop="yes"), tmp_path)  # an orderly end: its open stream no longer counts
    python(COUNT.format(stop="yes"), tmp_path)
    scraped = figures(python(SCRAPE, tmp_path))
    assert scraped[("boxoffice_reservation_seconds_count", frozenset({("outcome", "ok")}))] == 3
    assert scraped[("boxoffice_email_failures_total", frozenset({("final", "true")}))] == 3
    assert scraped[("boxoffice_sse_subscribers", frozenset())] == 1


async def test_serve_with_two_workers_answers_for_both(fresh_pg: tuple[str, Database], tmp_path: Path) -> None:
    url, db = fresh_pg
    temp = tmp_path / "tmp"
    temp.mkdir()
    paid = paid_server(url, tmp_path, BOXOFFICE_METRICS_TOKEN=TOKEN, TMPDIR=str(temp))
    paid.server.args += ["--workers", "2"]
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=100)
    orders = 12
    paid.stripe.start()
    paid.server.start()
    try:
        await wait_up(paid.sb_url + "/v1/checkout/sessions")
        await wait_up(paid.box_url + "/healthz")
        (folder,) = temp.glob("boxoffice-metrics-*")

        async def both_workers_started() -> bool:  # each writes its files to the run's folder from its start
            return len(list(folder.glob("gauge_livesum_*.db"))) == 2

        await eventually(both_workers_started, timeout=60)
        # a new connection per request: whichever worker accepts it answers
        async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0), timeout=30) as client:
            for i in range(orders):
                body = {"email": f"buyer{i}@example.com", "name": "Ada", "lines": [{"ticket_id": tt.id, "quantity": 1}]}
                placed = await client.post(f"{paid.box_url}/api/v1/events/{event.id}/orders", json=body)
                assert placed.status_code == 201, placed.text
            per_worker = [
                sample.value
                for path in sorted(folder.glob("histogram_*.db"))
                for metric in multiprocess.MultiProcessCollector.merge([str(path)])
                for sample in metric.samples
                if sample.name == "boxoffice_reservation_seconds_count" and sample.labels == {"outcome": "ok"}
            ]
            assert sum(per_worker) == orders
            for _ in range(6):
                response = await client.get(f"{paid.box_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
                assert response.status_code == 200
                scraped = figures(response.text)
                assert scraped[("boxoffice_reservation_seconds_count", frozenset({("outcome", "ok")}))] == orders
                assert scraped[("boxoffice_orders", frozenset({("status", "pending")}))] == orders
    finally:
        paid.server.stop()
        paid.stripe.stop()
    assert not list(temp.glob("boxoffice-metrics-*"))  # removed when the server stopped


async def test_the_internal_port_of_serve_with_two_workers_answers_for_both(
    fresh_pg: tuple[str, Database], tmp_path: Path
) -> None:
    """BOXOFFICE_METRICS_PORT without a token: the serving process's listener adds up both workers, the public
    port has no /metrics."""
    url, db = fresh_pg
    metrics_port = free_port()
    paid = paid_server(url, tmp_path, BOXOFFICE_METRICS_PORT=str(metrics_port))
    paid.server.args += ["--workers", "2"]
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=100)
    orders = 8
    paid.stripe.start()
    paid.server.start()
    internal = f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        await wait_up(paid.sb_url + "/v1/checkout/sessions")
        await wait_up(paid.box_url + "/healthz")
        await wait_up(internal)
        async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0), timeout=30) as client:
            for i in range(orders):
                body = {"email": f"buyer{i}@example.com", "name": "Ada", "lines": [{"ticket_id": tt.id, "quantity": 1}]}
                placed = await client.post(f"{paid.box_url}/api/v1/events/{event.id}/orders", json=body)
                assert placed.status_code == 201, placed.text
            scraped = figures((await client.get(internal)).text)
            assert scraped[("boxoffice_reservation_seconds_count", frozenset({("outcome", "ok")}))] == orders

            async def all_pending_counted() -> bool:  # the database's figures are read again after at most 5 s
                scraped = figures((await client.get(internal)).text)
                return scraped.get(("boxoffice_orders", frozenset({("status", "pending")}))) == orders

            await eventually(all_pending_counted, timeout=30, interval=0.5)
            assert (await client.get(f"{paid.box_url}/metrics")).status_code == 404
    finally:
        paid.server.stop()
        paid.stripe.stop()
