"""The check-in benchmark's table (benchmarks/README.md) comes from its results file, one row per scenario."""

from __future__ import annotations

from typing import Any

from benchmarks.checkin_scan import render


def test_each_scenario_is_a_row_with_its_answers_and_cpu() -> None:
    cpu = {"web": 4.0, "worker": 5.3, "postgres": 1.1, "load generator": 0.2}
    run: dict[str, Any] = {
        "scenario": "race",
        "scans": 10000,
        "successes": 200,
        "errors": {"409:already_checked_in": 9800},
        "scans_per_s": 95.6,
        "p50_ms": 396.4,
        "p95_ms": 1409.7,
        "p99_ms": 1996.5,
        "cpu_ms_per_scan": cpu,
    }
    lines = render({"runs": [run]}).splitlines()
    assert lines[0].startswith("| scenario | scans | answers | scans/s |") and len(lines) == 3
    assert lines[2] == (
        "| race | 10000 | 200 x 201, 9800 x 409:already_checked_in | 95.6 | 396.4 | 1409.7 | 1996.5 | "
        "4.0 / 5.3 / 1.1 / 0.2 |"
    )
