"""The sales-over-time chart, drawn on the server as SVG (no charting script or CDN): cumulative gross as a line.
``sales_chart`` computes what ``console/_sales_chart.html`` draws (the template escapes every text)."""

from __future__ import annotations

from dataclasses import dataclass

from boxoffice import money
from boxoffice.ticketing.reports import ChartPoint

WIDTH, HEIGHT, PAD = 600, 200, 30


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    pad: int
    points: str  # the polyline's "x,y x,y ..."
    label: str  # the whole chart in words (its accessible name)
    top: str
    start: str
    end: str


def sales_chart(points: list[ChartPoint], currency: str) -> Chart | None:
    if not points:
        return None
    top = max(p.gross_cents for p in points) or 1
    step = (WIDTH - 2 * PAD) / max(len(points) - 1, 1)
    coords = " ".join(
        f"{PAD + i * step:.1f},{HEIGHT - PAD - (p.gross_cents / top) * (HEIGHT - 2 * PAD):.1f}"
        for i, p in enumerate(points)
    )
    first, last = points[0], points[-1]
    start, end = f"{first.at:%d %b %H:%M}", f"{last.at:%d %b %H:%M}"
    label = (
        f"Cumulative gross from {start} to {end} UTC: "
        f"{money.format_money(last.gross_cents, currency)}, {last.tickets} tickets"
    )
    return Chart(WIDTH, HEIGHT, PAD, coords, label, money.format_money(top, currency), start, end)
