"""Markdown tables for benchmarks/README.md from a results file of ``benchmarks.flash_sale``.

    .venv/bin/python -m benchmarks.report                                  # benchmarks/results/latest.json
    .venv/bin/python -m benchmarks.report benchmarks/results/partial.json
    .venv/bin/python -m benchmarks.report --beside benchmarks/results/latest.json benchmarks/results/sqlite.json

The README's tables are this script's output for the run they describe, so they cannot drift from the raw figures.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

DEFAULT = Path(__file__).resolve().parent / "results" / "latest.json"
ROLES = ("web", "worker", "sandbox", "postgres", "load generator")


def _table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _section(title: str, head: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    return ["", f"### {title}", "", *_table(head, rows)]


def _clients_latency(key: str) -> tuple[str, str]:
    """``"128_clients_300ms"`` -> ("128", "300")."""
    clients, latency = key.removesuffix("ms").split("_clients_")
    return clients, latency


def _answers(errors: dict[str, int]) -> str:
    if not errors:
        return "none"
    return ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(errors.items()))


def _cpu_of(cpu: dict[str, float], roles: Sequence[str] = ROLES) -> str:
    return " / ".join(f"{cpu.get(role, 0):.2f}" for role in roles)


def _sale_rows(runs: Iterable[dict[str, Any]], types: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for r in runs:
        if r["ticket_types"] != types:
            continue
        rows.append(
            [
                f"{r['stripe_latency_ms']} ms",
                r["clients"],
                f"{r['sellout_s']:.2f}",
                f"{r['rate_per_s']:.1f}",
                f"{r['p50_ms']:.0f}",
                f"{r['p95_ms']:.0f}",
                f"{r['p99_ms']:.0f}",
                _answers(r["errors"]),
                f"{r['tickets_taken']} / {r['quantity']}" + (" **OVERSOLD**" if r["oversold"] else ""),
                f"{r['peak_rss_mb']:.0f}",
                _cpu_of(r["cpu_ms_per_order"]),
            ]
        )
    return rows


SALE_HEAD = (
    "Stripe delay",
    "clients",
    "sell-out (s)",
    "orders/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "answers other than 201",
    "tickets taken",
    "peak RSS MB",
    "CPU ms per order: " + " / ".join(ROLES),
)


def _voucher_section(report: dict[str, Any]) -> list[str]:
    runs = report.get("voucher") or []
    if not runs:
        return []
    uses = runs[0]["voucher_max_uses"]
    rows = _sale_rows(runs, 1)
    for row, r in zip(rows, runs, strict=True):
        row[8] = f"{r['tickets_taken']} / {r['quantity']}, code used {r['voucher_uses']} / {uses}" + (
            " **OVERUSED**" if r["overused"] else ""
        )
    out = [
        f"### Voucher sale (the same sale, every order with one code of max_uses {uses}, right after the plain one)",
        "",
        *_table(SALE_HEAD, rows),
        "",
    ]
    again = report.get("plain_after_voucher") or []
    if again:
        out += [
            "### The plain one-type sale once more, right after the voucher sale",
            "",
            *_table(SALE_HEAD, _sale_rows(again, 1)),
            "",
        ]
    against = report.get("voucher_vs_plain") or {}
    if against:
        table = []
        for key, r in against.items():
            clients, latency = _clients_latency(key)
            met = "yes" if r["ratio"] >= r["target"] else "**no**"
            plain = (
                f"{r['plain_before']} / {r['plain_after']}"
                if r.get("plain_after")
                else f"{r.get('plain_before', r['plain'])}"
            )
            row = [f"{latency} ms", clients, f"{r['rate']}", plain, f"{r['ratio']:.2f}", met]
            if "ratio_same_length" in r:
                same_met = "yes" if r["ratio_same_length"] >= r["target"] else "**no**"
                row += [f"{r['plain_same_length']}", f"{r['ratio_same_length']:.2f}", same_met]
            else:
                row += ["", "", ""]
            table.append(row)
        out += [
            "### Voucher sale against the plain one-type sales around it (target: within 20 %, ratio >= 0.80)",
            "",
            "The voucher sale ends when its code is used up, after half the tickets; the last three columns compare it",
            "with the plain sales over as many orders (the rate at which they answered their first that many).",
            "",
            *_table(
                (
                    "Stripe delay",
                    "clients",
                    "voucher orders/s",
                    "plain orders/s, before / after",
                    "ratio",
                    "met",
                    "plain orders/s over as many orders (mean)",
                    "ratio",
                    "met",
                ),
                table,
            ),
            "",
        ]
    return out


def budget(report: dict[str, Any]) -> list[dict[str, Any]]:
    """For each 0 ms one-type sale: the CPU an order may cost Boxoffice for the rate to reach half of baseline (a).

    Everything shares the machine's cores, so at half of baseline (a)'s rate an order can cost at most
    ``cpus * 1000 / rate`` ms of CPU on the whole machine. Take away what the sandbox spends on its Checkout Session
    (a call Boxoffice must make) and what PostgreSQL and the load generator spend per request in baseline (a) (the
    least any server costs them); the rest is what Boxoffice's own processes, and the work they add to PostgreSQL and
    the load generator, may spend.
    """
    cpus = int(report["machine"]["cpus"] or 1)
    base = {r["clients"]: r for r in report["baseline_asgi"]}
    out = []
    for r in report["boxoffice"]:
        b = base.get(r["clients"])
        if r["ticket_types"] != 1 or r["stripe_latency_ms"] != 0 or b is None:
            continue
        cpu, bcpu = r["cpu_ms_per_order"], b["cpu_ms_per_order"]
        whole = cpus * 1000 / (0.5 * b["rate_per_s"])
        floor = cpu.get("sandbox", 0.0) + bcpu.get("postgres", 0.0) + bcpu.get("load generator", 0.0)
        spent = sum(cpu.get(role, 0.0) for role in ROLES) - floor
        out.append(
            {
                "clients": r["clients"],
                "machine_ms": round(whole, 2),
                "sandbox_ms": cpu.get("sandbox", 0.0),
                "baseline_ms": round(bcpu.get("postgres", 0.0) + bcpu.get("load generator", 0.0), 2),
                "left_ms": round(whole - floor, 2),
                "spent_ms": round(spent, 2),
            }
        )
    return out


def render(report: dict[str, Any]) -> str:
    machine = report["machine"]
    steal = f", {machine['steal_s']} s of CPU taken by the host (steal)" if "steal_s" in machine else ""
    out = [
        f"Run of {machine['when'][:16].replace('T', ' ')} UTC, {machine['cpus']} CPUs, Python {machine['python']}, "
        f"{report['workers']} Uvicorn workers per server, Redis {'on' if report.get('redis') else 'off'}{steal}"
        + (", SQLite (one process, its worker inside it)." if report.get("database") == "sqlite" else "."),
        "",
        "### Reservations (one ticket type, one ticket per order)",
        "",
        *_table(SALE_HEAD, _sale_rows(report["boxoffice"], 1)),
        "",
        *_voucher_section(report),
        "### Multi-line orders (20 ticket types, 1 to 3 lines per order)",
        "",
        *_table(SALE_HEAD, _sale_rows(report["boxoffice"], 20)),
        "",
        "### Baselines",
        "",
        *_table(
            ("baseline", "clients", "tickets", "orders/s", "p50 ms", "p99 ms", "CPU ms per order: server / pg / lg"),
            [
                [
                    "(a) bare ASGI + " + ("aiosqlite" if report.get("database") == "sqlite" else "asyncpg"),
                    r["clients"],
                    r["quantity"],
                    f"{r['rate_per_s']:.1f}",
                    f"{r['p50_ms']:.1f}",
                    f"{r['p99_ms']:.1f}",
                    " / ".join(
                        f"{r['cpu_ms_per_order'].get(k, 0):.2f}" for k in ("baseline", "postgres", "load generator")
                    ),
                ]
                for r in report["baseline_asgi"]
            ]
            + [
                [
                    f"(c) (a) + Checkout Session, {r['stripe_latency_ms']} ms",
                    r["clients"],
                    r["quantity"],
                    f"{r['rate_per_s']:.1f}",
                    f"{r['p50_ms']:.1f}",
                    f"{r['p99_ms']:.1f}",
                    _cpu_of(r["cpu_ms_per_order"], ("baseline", "postgres", "load generator"))
                    + f" (sandbox {r['cpu_ms_per_order'].get('sandbox', 0):.2f})",
                ]
                for r in report.get("baseline_checkout", [])
            ]
            + [["(b) pgbench", r["clients"], "", f"{r['tps']:.1f} tps", "", "", ""] for r in report["pgbench"]],
        ),
    ]
    wh = report.get("webhooks")
    if wh:
        out += [
            "",
            "### Webhooks",
            "",
            f"{wh['events_sent']:,} signed `checkout.session.completed` deliveries ({wh['orders']:,} orders and their "
            f"duplicates, shuffled) by {wh['senders']} senders: **{wh['confirmations_per_s']} confirmations/s** "
            f"({wh['deliveries_per_s']} deliveries/s, {wh['seconds']} s); HTTP statuses {wh['http_statuses']}; "
            f"{wh['confirmed']:,} orders confirmed, {wh['confirmed_events_recorded']:,} `order.confirmed` events, "
            f"`sold_count` {wh['sold_count']:,}: "
            + ("**exactly once**." if wh["exactly_once"] else "**NOT exactly once**."),
        ]
        outgoing = wh.get("outgoing")
        if outgoing:
            out += [
                "",
                f"Outgoing webhooks ({outgoing['endpoint']}): **{outgoing['deliveries_per_s']} deliveries/s** "
                f"alongside the confirmations, {outgoing['unique_events']:,} events received "
                f"({outgoing['received']:,} requests), {outgoing['delivered']:,} of {outgoing['deliveries']:,} "
                f"deliveries delivered, the last {outgoing['lag_after_confirmations_s']} s after the last "
                "confirmation; signature "
                + ("verified" if outgoing["signature_verified"] else "**NOT verified**")
                + ("." if outgoing["all_delivered"] else "; **NOT all delivered**."),
            ]
        if "cpu_ms_per_confirmation" in wh:
            cpu = wh["cpu_ms_per_confirmation"]
            out += ["", "CPU ms per confirmation: " + ", ".join(f"{role} {ms:.2f}" for role, ms in cpu.items()) + "."]
    ratios = report.get("ratios", {})
    if ratios:
        rows = []
        for key, r in ratios.items():
            clients, latency = _clients_latency(key)
            if "baseline_a" in r:
                what, against = f"{latency} ms, {clients} clients: >= 50 % of baseline (a)", r["baseline_a"]
            else:
                what = f"{latency} ms, {clients} clients: >= 50 % of min(baseline (a), {clients} / 0.3 s)"
                against = r["ceiling"]
            met = "yes" if r["ratio"] >= r["target"] else "**no**"
            rows.append([what, f"{r['rate']} / {against}", f"{r['ratio']:.2f}", met])
        out += _section("Against the targets", ("target", "measured", "ratio", "met"), rows)
    if report.get("against_checkout"):
        rows = []
        for key, r in report["against_checkout"].items():
            clients, latency = _clients_latency(key)
            cpu = (
                [f"{r['cpu_ratio']:.2f}", f"{r['own_ms']:.2f} / {r['allowed_ms']:.2f}", f"{r['at_web_target']:.2f}"]
                if "cpu_ratio" in r
                else ["", "", ""]
            )
            rows.append([f"{latency} ms", clients, f"{r['rate']} / {r['baseline_c']}", f"{r['ratio']:.2f}", *cpu])
        out += _section(
            "Against baseline (c), the bare reservation plus the Checkout Session call (informational)",
            (
                "Stripe delay",
                "clients",
                "Boxoffice / baseline (c), orders/s",
                "ratio",
                "CPU ratio",
                "web + worker + PostgreSQL ms per order / allowed at 0.7",
                "ratio with web CPU at 1.5 ms and PostgreSQL at (c)'s",
            ),
            rows,
        )
    if report.get("overlap"):
        rows = []
        for key, value in report["overlap"].items():
            types, rest = key.split("_types_")
            clients, latency = _clients_latency(rest)
            rows.append([f"{types} ticket type{'s' if types != '1' else ''}", clients, f"{latency} ms", f"{value:.2f}"])
        out += _section(
            "Stripe latency overlapped: rate with a slow Stripe against the rate with 0 ms, same run",
            ("scenario", "clients", "Stripe delay", "rate / rate at 0 ms"),
            rows,
        )
    budgets = budget(report)
    if budgets:
        out += _section(
            "The CPU budget of an order at half of baseline (a), 0 ms",
            (
                "clients",
                "whole machine, ms per order",
                "sandbox (the Checkout Session)",
                "PostgreSQL + load generator, as in baseline (a)",
                "left for Boxoffice",
                "Boxoffice spent",
            ),
            [
                [b["clients"], b["machine_ms"], b["sandbox_ms"], b["baseline_ms"], b["left_ms"], b["spent_ms"]]
                for b in budgets
            ],
        )
    return "\n".join(out) + "\n"


def beside(pg: dict[str, Any], lite: dict[str, Any]) -> str:
    """SQLite's sales beside PostgreSQL's, scenario by scenario (same Stripe delay and client count): rates, p99 and
    the CPU per order of Boxoffice's own processes (PostgreSQL's web + worker; SQLite's one process)."""

    def sales(report: dict[str, Any]) -> dict[tuple[str, int, int], dict[str, Any]]:
        out = {}
        for r in report["boxoffice"]:
            out[
                (
                    f"{r['ticket_types']} type" + ("s" if r["ticket_types"] != 1 else ""),
                    r["stripe_latency_ms"],
                    r["clients"],
                )
            ] = r
        for r in report.get("voucher") or []:
            out[("1 type, voucher", r["stripe_latency_ms"], r["clients"])] = r
        return out

    def cpu(r: dict[str, Any]) -> float:
        return float(r["cpu_ms_per_order"].get("web", 0.0) + r["cpu_ms_per_order"].get("worker", 0.0))

    ours, theirs = sales(pg), sales(lite)
    rows = []
    for key in sorted(ours.keys() & theirs.keys(), key=lambda k: (k[0], k[1], k[2])):
        p, q = ours[key], theirs[key]
        ratio = q["rate_per_s"] / p["rate_per_s"] if p["rate_per_s"] else 0.0
        rows.append(
            [
                key[0],
                f"{key[1]} ms",
                key[2],
                f"{p['rate_per_s']:.1f}",
                f"{q['rate_per_s']:.1f}",
                f"{ratio:.2f}",
                f"{p['p99_ms']:.0f} / {q['p99_ms']:.0f}",
                f"{cpu(p):.2f} / {cpu(q):.2f}",
                f"{p['peak_rss_mb']:.0f} / {q['peak_rss_mb']:.0f}",
            ]
        )
    base = {
        "PostgreSQL": {r["clients"]: r["rate_per_s"] for r in pg["baseline_asgi"]},
        "SQLite": {r["clients"]: r["rate_per_s"] for r in lite["baseline_asgi"]},
    }
    lines = _table(
        (
            "sale",
            "Stripe delay",
            "clients",
            "PostgreSQL orders/s",
            "SQLite orders/s",
            "SQLite / PostgreSQL",
            "p99 ms: PostgreSQL / SQLite",
            "Boxoffice CPU ms per order: PostgreSQL / SQLite",
            "peak RSS MB: PostgreSQL / SQLite",
        ),
        rows,
    )
    lines += ["", "Baseline (a), the bare conditional reservation, in the same runs (requests/s): "]
    lines[-1] += (
        "; ".join(
            f"{db} " + ", ".join(f"{rate:.0f} at {clients} clients" for clients, rate in rates.items())
            for db, rates in base.items()
        )
        + "."
    )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "--beside":
        pg, lite = (json.loads(Path(name).read_text()) for name in argv[1:3])
        sys.stdout.write(beside(pg, lite))
        return 0
    path = Path(argv[0]) if argv else DEFAULT
    data = json.loads(path.read_text())
    if data.get("baseline_checkout"):
        from benchmarks.flash_sale import against_checkout  # the driver's imports, only for this

        data["against_checkout"] = against_checkout(data)  # from the raw figures: older runs get the CPU columns too
    sys.stdout.write(render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
