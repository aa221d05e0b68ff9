"""The reports of the operational benchmarks (soak, scale-out, worker memory, SQLite beside PostgreSQL): what they
compute from the raw figures and how they show it. No timing here: the figures are made up."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

from benchmarks import scale_out, soak, worker_memory
from benchmarks.loadgen import LoadResult
from benchmarks.report import beside, render
from benchmarks.rss import growth, svg_chart
from tests.benchmarks.test_benchmark_report import report, sale, table_rows

SVG = "{http://www.w3.org/2000/svg}"


def series() -> dict[str, list[tuple[float, float]]]:
    flat = [(float(t), 100.0 + (5.0 if t < 60 else 0.0)) for t in range(0, 600)]
    growing = [(float(t), 50.0 + t / 60) for t in range(0, 600)]  # 1 MB a minute
    return {"web worker 1": flat, "worker": growing}


def test_growth_is_measured_from_the_end_of_the_warm_up() -> None:
    found = growth(series(), warmup_s=120)
    flat, growing = found["web worker 1"], found["worker"]
    assert flat["growth_mb"] == 0.0 and flat["slope_mb_per_min"] == 0.0
    assert flat["peak_mb"] == 105.0  # the warm-up's own peak still shows
    assert growing["slope_mb_per_min"] == 1.0
    # medians of the first and last 30 s after the warm-up: minutes 2.25 and 9.74
    assert growing["after_warmup_mb"] == 52.2 and growing["end_mb"] == 59.7 and growing["growth_mb"] == 7.5


def test_the_chart_is_svg_with_a_line_and_a_legend_entry_per_process() -> None:
    text = svg_chart(series(), title="Soak & <memory>", warmup_s=120, every=5)
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2
    assert len(lines[0].get("points", "").split()) == 121  # one point in five of 600, and the last
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "Soak & <memory>" in labels  # escaped in the file, intact once parsed
    assert {"web worker 1", "worker", "end of warm-up", "minutes", "RSS (MB)"} <= set(labels)
    xs = [float(p.split(",")[0]) for line in lines for p in line.get("points", "").split()]
    ys = [float(p.split(",")[1]) for line in lines for p in line.get("points", "").split()]
    width, height = float(root.get("width", 0)), float(root.get("height", 0))
    assert all(0 <= x <= width for x in xs) and all(0 <= y <= height for y in ys)


def soak_result() -> dict[str, Any]:
    return {
        "when": "2026-12-02T05:30:00+00:00",
        "minutes": 10,
        "warmup_minutes": 2,
        "rate_asked": 20.0,
        "rate_per_s": 19.9,
        "clients": 16,
        "orders_placed": 11940,
        "paid_at_sandbox": 8350,
        "pay_errors": 0,
        "late": 3,
        "statuses": {"201": 11940, "500": 2},
        "p50_ms": 40.0,
        "p99_ms": 900.0,
        "orders": {"confirmed": 8350, "expired": 1200, "pending": 2390},
        "server_errors_logged": 2,
        "deadlocks_logged": 2,
        "growth": growth(series(), 120),
    }


def test_the_soak_report_gives_the_orders_the_growth_table_and_the_chart() -> None:
    text = soak.render(soak_result(), "results/soak.svg")
    assert "11940 placed (11940 x 201, 2 x 500" in text
    assert "in the database: 8350 confirmed, 1200 expired, 2390 pending" in text
    assert "2 (2 of them PostgreSQL deadlocks)" in text
    assert "| worker | 52.2 | 59.7 | +7.5 | +1.00 | 60.0 |" in text
    assert text.rstrip().endswith("![RSS of every process, sampled each second](results/soak.svg)")


def spread_result(missed: int) -> dict[str, Any]:
    def part(rate: float, ports: int) -> dict[str, Any]:
        return {
            "clients": 64,
            "rate_per_s": rate,
            "p50_ms": 100.0,
            "p99_ms": 400.0,
            "quantity": 2000,
            "sold": 0,
            "held": 2000,
            "tickets_in_live_orders": 2000,
            "oversold": False,
            "errors": {"sold_out": 60},
            "cpu_ms_per_order": {"web": 5.0, "worker": 1.0, "postgres": 2.0},
            "ports": ports,
        }

    def stream(port: int, frames: int, resent: int, missed_types: list[str]) -> dict[str, Any]:
        return {
            "port": port,
            "frames": frames,
            "states_resent": resent,
            "missed_ticket_types": missed_types,
            "went_back": 0,
            "final_shown_after_ms": None if missed_types else 900.0,
            "final_shown_after_marked_ms": None if missed_types else 20.0,
        }

    spread = part(150.0, 4)
    received = [stream(8001, 183, 0, []), stream(8001, 180, 0, []), stream(8002, 170, 1, ["tt_a"] * missed)]
    spread["live_updates"] = {
        "published": 2000,
        "ticket_types": 1,
        "final": {"tt_a": {"sold": 0, "held": 2000, "available": 0}},
        "final_is_database": True,
        "available_in_database": 0,
        "received": received,
        "missed": missed,
        "went_back": 0,
        "final_shown_after_ms": 900.0,
        "final_shown_after_marked_ms": 20.0,
        "broker_reconnects_logged": 1,
    }
    return {
        "when": "2026-12-02T05:40:00+00:00",
        "tickets": 2000,
        "clients": 64,
        "spread": spread,
        "one_port": part(90.0, 1),
    }


def test_the_scale_out_report_shows_both_sales_and_the_updates_of_every_subscriber() -> None:
    text = scale_out.render(spread_result(0))
    rows = [line for line in text.splitlines() if line.startswith("| 4 services") or line.startswith("| 1 of them")]
    assert rows[0].split(" | ")[2:7] == ["150.0", "100", "400", "2000 / 2000", "2000"]
    assert "60 sold out" in rows[0] and "5.00 / 1.00 / 2.00" in rows[0]
    assert "port 8001: 183, 180; port 8002: 170 (+1 state resent)" in text
    assert "**Missed: none**" in text and "the database's (0 left)" in text and "(3 of 3 stream" in text
    assert "Broker reconnections logged by the web processes: 1" in text
    missed = spread_result(1)
    assert "**Missed: 1 of 3 stream and ticket type pairs**" in scale_out.render(missed)
    missed["spread"]["live_updates"]["final_is_database"] = False
    assert "**NOT the database's counters**" in scale_out.render(missed)


def test_a_spread_sale_adds_up_its_parts() -> None:
    parts = [
        LoadResult(clients=16, duration_s=2.0, successes=300, latencies_ms=[10.0] * 300, errors=Counter(sold_out=2)),
        LoadResult(clients=16, duration_s=2.5, successes=200, latencies_ms=[30.0] * 200, errors=Counter(sold_out=3)),
    ]
    merged = scale_out.merged(parts, 32)
    assert merged["successes"] == 500 and merged["sellout_s"] == 2.5 and merged["rate_per_s"] == 200.0
    assert merged["errors"] == {"sold_out": 5} and merged["requests"] == 500 and merged["p99_ms"] == 30.0


def test_worker_memory_says_whether_each_worker_is_within_the_target() -> None:
    result: dict[str, Any] = {
        "when": "2026-12-02T05:50:00+00:00",
        "orders": 10000,
        "target_mb": 120.0,
        "sale": {"successes": 10000, "rate_per_s": 250.0},
        "readings": {
            "up": {"web": 80.0, "web worker 1": 130.0, "web worker 2": 131.0, "worker": 120.0},
            "after the 10,000-order sale": {"web": 80.0, "web worker 1": 150.2, "web worker 2": 118.0, "worker": 125.0},
            "30 s later": {"web": 80.0, "web worker 1": 150.0, "web worker 2": 118.0, "worker": 125.0},
        },
        "imports": {
            "steps": {"interpreter": 12.0, "create_app()": 130.0},
            "modules": 1500,
            "packages": [["sqlalchemy", 160]],
        },
    }
    text = worker_memory.render(result)
    assert "| web worker 1 | 130.0 | 150.2 | 150.0 |" in text
    assert "web worker 1 150 MB, web worker 2 118 MB: target 120 MB **not met**" in text
    assert "interpreter 12.0 MB, create_app() 130.0 MB; 1500 modules loaded (most by package: sqlalchemy 160)" in text
    result["readings"]["after the 10,000-order sale"]["web worker 1"] = 119.0
    assert "**met**" in worker_memory.render(result)


def test_sqlite_figures_are_shown_beside_postgresqls_scenario_by_scenario() -> None:
    pg = report()
    lite = report()
    lite.update(database="sqlite", workers=1, redis=False)
    lite["boxoffice"] = [sale(1, 0, 32, 60.0, web=10.0), sale(20, 0, 32, 30.0, web=20.0)]
    pg["boxoffice"][0]["cpu_ms_per_order"] = {"web": 4.0, "worker": 1.0}
    text = beside(pg, lite)
    rows = [line for line in text.splitlines() if line.startswith("| 1 type") or line.startswith("| 20 types")]
    assert rows == [
        "| 1 type | 0 ms | 32 | 250.0 | 60.0 | 0.24 | 30 / 30 | 5.00 / 10.00 | 400 / 400 |",
        "| 20 types | 0 ms | 32 | 120.0 | 30.0 | 0.25 | 30 / 30 | 5.00 / 20.00 | 400 / 400 |",
    ]  # the 300 ms sale of PostgreSQL has no SQLite twin: left out
    assert "PostgreSQL 2000 at 32 clients, 2000 at 128 clients" in text
    rendered = render(lite)
    assert "SQLite (one process, its worker inside it)" in rendered
    assert table_rows(rendered, "### Baselines")[0].startswith("| (a) bare ASGI + aiosqlite | 32 |")
