"""The benchmark README's tables come from benchmarks.report: each sale lands in its own table with its own figures."""

from __future__ import annotations

from typing import Any

from benchmarks.flash_sale import against_checkout, overlap, ratios, voucher_vs_plain
from benchmarks.loadgen import LoadResult
from benchmarks.report import budget, render


def sale(types: int, latency: int, clients: int, rate: float, **cpu: float) -> dict[str, Any]:
    return {
        "ticket_types": types,
        "stripe_latency_ms": latency,
        "clients": clients,
        "sellout_s": 1000 / rate,
        "rate_per_s": rate,
        "p50_ms": 10.0,
        "p95_ms": 20.0,
        "p99_ms": 30.0,
        "errors": {"sold_out": 7},
        "tickets_taken": 1000,
        "quantity": 1000,
        "oversold": False,
        "peak_rss_mb": 400.0,
        "cpu_ms_per_order": cpu,
    }


def report() -> dict[str, Any]:
    cpu = {"web": 4.0, "worker": 1.0, "sandbox": 0.8, "postgres": 0.7, "load generator": 0.5}
    out: dict[str, Any] = {
        "machine": {"cpus": 2, "python": "3.11.7", "when": "2026-12-01T07:19:01+00:00"},
        "workers": 2,
        "redis": True,
        "boxoffice": [
            sale(1, 0, 32, 250.0, **cpu),
            sale(20, 0, 32, 120.0, **cpu),
            sale(1, 300, 128, 220.0, **cpu),
        ],
        "baseline_asgi": [
            {
                "clients": c,
                "quantity": 5000,
                "rate_per_s": 2000.0,
                "p50_ms": 12.0,
                "p99_ms": 50.0,
                "cpu_ms_per_order": {"baseline": 0.25, "postgres": 0.3, "load generator": 0.1},
            }
            for c in (32, 128)
        ],
        "pgbench": [{"clients": 32, "tps": 2800.0}],
    }
    out["ratios"] = ratios(out)
    return out


def table_rows(text: str, heading: str) -> list[str]:
    section = text.split(heading, 1)[1].split("###", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| ---")][1:]


def test_each_scenario_has_its_own_table_with_a_cell_per_column() -> None:
    text = render(report())
    one = table_rows(text, "### Reservations")
    multi = table_rows(text, "### Multi-line orders")
    assert [row.split(" | ")[3] for row in one] == ["250.0", "220.0"]  # orders/s of the one-type sales only
    assert [row.split(" | ")[3] for row in multi] == ["120.0"]
    header = text.split("### Reservations", 1)[1].splitlines()[2]
    assert all(row.count("|") == header.count("|") for row in one + multi)
    assert "7 sold out" in one[0]
    assert "4.00 / 1.00 / 0.80 / 0.70 / 0.50" in one[0]


def test_targets_show_the_ratio_and_whether_it_is_met() -> None:
    rows = table_rows(render(report()), "### Against the targets")
    assert rows == [
        "| 0 ms, 32 clients: >= 50 % of baseline (a) | 250.0 / 2000.0 | 0.12 | **no** |",
        "| 300 ms, 128 clients: >= 50 % of min(baseline (a), 128 / 0.3 s) | 220.0 / 426.7 | 0.52 | yes |",
    ]


def test_budget_is_what_half_the_baseline_leaves_after_the_sandbox_and_the_baselines_own_costs() -> None:
    (b,) = budget(report())
    # 2 cores at 1,000 orders/s: 2 ms per order for the whole machine; 0.8 sandbox, 0.3 + 0.1 as in baseline (a).
    assert b == {
        "clients": 32,
        "machine_ms": 2.0,
        "sandbox_ms": 0.8,
        "baseline_ms": 0.4,
        "left_ms": 0.8,
        "spent_ms": 5.8,
    }


def test_an_oversell_is_flagged_in_its_row() -> None:
    data = report()
    data["boxoffice"][0].update(tickets_taken=1001, oversold=True)
    assert "1001 / 1000 **OVERSOLD**" in table_rows(render(data), "### Reservations")[0]


def test_overlap_compares_each_slow_stripe_sale_with_its_0_ms_twin() -> None:
    data = report()
    data["boxoffice"].append(sale(1, 300, 32, 100.0))
    data["boxoffice"].append(sale(1, 0, 128, 275.0))
    data["overlap"] = overlap(data)
    assert data["overlap"] == {"1_types_128_clients_300ms": 0.8, "1_types_32_clients_300ms": 0.4}
    rows = table_rows(render(data), "### Stripe latency overlapped")
    assert rows == ["| 1 ticket type | 128 | 300 ms | 0.80 |", "| 1 ticket type | 32 | 300 ms | 0.40 |"]


def test_boxoffice_is_also_compared_with_the_baseline_that_makes_the_checkout_call() -> None:
    data = report()
    data["baseline_checkout"] = [
        {
            "clients": 32,
            "stripe_latency_ms": 0,
            "quantity": 2000,
            "rate_per_s": 1000.0,
            "p50_ms": 20.0,
            "p99_ms": 60.0,
            "cpu_ms_per_order": {"baseline": 0.7, "postgres": 0.3, "load generator": 0.2, "sandbox": 0.7},
        }
    ]
    data["against_checkout"] = against_checkout(data)
    # (c): 0.7 + 0.3 + 0.2 + 0.7 = 1.9 ms of CPU an order; Boxoffice: 4.0 + 1.0 + 0.7 own, 0.8 + 0.5 shared = 7.0
    assert data["against_checkout"] == {
        "32_clients_0ms": {
            "rate": 250.0,
            "baseline_c": 1000.0,
            "ratio": 0.25,
            "cpu_ratio": round(1.9 / 7.0, 3),
            "allowed_ms": round(1.9 / 0.7 - 1.3, 2),
            "own_ms": 5.7,
            "at_web_target": round(1.9 / (1.5 + 1.0 + 0.3 + 1.3), 3),
        }
    }
    text = render(data)
    assert table_rows(text, "### Against baseline (c)") == [
        "| 0 ms | 32 | 250.0 / 1000.0 | 0.25 | 0.27 | 5.70 / 1.41 | 0.46 |"
    ]
    assert "| (c) (a) + Checkout Session, 0 ms | 32 | 2000 | 1000.0 |" in text


def test_the_webhook_run_reports_outgoing_deliveries_beside_confirmations() -> None:
    out = report()
    out["webhooks"] = {
        "events_sent": 1100,
        "orders": 1000,
        "senders": 16,
        "seconds": 20.0,
        "confirmations_per_s": 50.0,
        "deliveries_per_s": 55.0,
        "http_statuses": {"200": 1100},
        "confirmed": 1000,
        "confirmed_events_recorded": 1000,
        "sold_count": 1000,
        "exactly_once": True,
        "outgoing": {
            "endpoint": "order.confirmed to a local receiver",
            "deliveries": 1000,
            "delivered": 1000,
            "received": 1003,
            "unique_events": 1000,
            "signature_verified": True,
            "deliveries_per_s": 48.7,
            "lag_after_confirmations_s": 0.4,
            "all_delivered": True,
        },
    }
    section = render(out).split("### Webhooks", 1)[1].split("###", 1)[0]
    assert "**50.0 confirmations/s**" in section
    assert "Outgoing webhooks (order.confirmed to a local receiver): **48.7 deliveries/s**" in section
    assert "1,000 events received (1,003 requests), 1,000 of 1,000 deliveries delivered" in section
    assert "NOT" not in section
    out["webhooks"]["outgoing"].update(all_delivered=False, delivered=990)
    assert "**NOT all delivered**" in render(out)


def test_the_voucher_sale_has_its_table_and_is_compared_with_the_plain_sale_of_the_same_run() -> None:
    data = report()
    voucher = sale(1, 0, 32, 220.0, web=4.2)
    voucher.update(tickets_taken=500, voucher_max_uses=500, voucher_uses=500, overused=False, errors={})
    data["voucher"] = [voucher]
    data["voucher_vs_plain"] = voucher_vs_plain(data)
    # a report with no plain sale after the voucher sale: the one before alone
    assert data["voucher_vs_plain"] == {
        "32_clients_0ms": {
            "rate": 220.0,
            "plain": 250.0,
            "plain_before": 250.0,
            "plain_after": 0.0,
            "ratio": 0.88,
            "target": 0.8,
        }
    }
    text = render(data)
    (row,) = table_rows(text, "### Voucher sale (")
    assert "| 220.0 |" in row and "500 / 1000, code used 500 / 500" in row
    assert "| 0 ms | 32 | 220.0 | 250.0 | 0.88 | yes |" in text
    voucher.update(voucher_uses=501, overused=True)
    assert "**OVERUSED**" in render(data)


def test_the_voucher_sale_is_compared_with_the_mean_of_the_plain_sales_before_and_after_it() -> None:
    data = report()
    voucher = sale(1, 0, 32, 190.0, web=4.2)
    voucher.update(tickets_taken=500, voucher_max_uses=500, voucher_uses=500, overused=False, errors={})
    data["voucher"] = [voucher]
    data["plain_after_voucher"] = [sale(1, 0, 32, 210.0, web=4.0)]
    data["voucher_vs_plain"] = voucher_vs_plain(data)
    against = data["voucher_vs_plain"]["32_clients_0ms"]
    assert (against["plain"], against["plain_before"], against["plain_after"]) == (230.0, 250.0, 210.0)
    assert against["ratio"] == round(190.0 / 230.0, 3)
    text = render(data)
    assert "### The plain one-type sale once more, right after the voucher sale" in text
    assert "| 0 ms | 32 | 190.0 | 250.0 / 210.0 | 0.83 | yes |" in text


def test_the_voucher_sale_is_also_compared_with_the_plain_sales_over_as_many_orders() -> None:
    data = report()
    data["boxoffice"][0]["rate_first_half_per_s"] = 200.0  # the plain sale's first 500 orders
    voucher = sale(1, 0, 32, 190.0, web=4.2)
    voucher.update(tickets_taken=500, voucher_max_uses=500, voucher_uses=500, overused=False, errors={})
    data["voucher"] = [voucher]
    data["plain_after_voucher"] = [sale(1, 0, 32, 260.0, web=4.0) | {"rate_first_half_per_s": 180.0}]
    data["voucher_vs_plain"] = voucher_vs_plain(data)
    against = data["voucher_vs_plain"]["32_clients_0ms"]
    assert against["ratio"] == round(190.0 / 255.0, 3)  # against the whole sales: not within 20 %
    assert (against["plain_same_length"], against["ratio_same_length"]) == (190.0, 1.0)
    assert "| 0 ms | 32 | 190.0 | 250.0 / 260.0 | 0.74 | **no** | 190.0 | 1.00 | yes |" in render(data)


def test_the_rate_over_the_first_orders_is_taken_when_the_last_of_them_was_answered() -> None:
    result = LoadResult(clients=2, duration_s=4.0, successes=4, success_at_s=[0.5, 1.0, 2.0, 4.0])
    assert result.rate == 1.0
    assert result.rate_of_first(2) == 2.0
    assert result.rate_of_first(4) == 1.0
    assert result.rate_of_first(5) == 0.0  # fewer successes than asked: no figure
