"""Resident memory of named processes over time: a sampler (one sample a second, each process on its own line), the
growth after a warm-up, and a small SVG chart drawn by hand (no plotting library).

    RssRecorder({"web": pid, ...}) as recorder  ->  recorder.series: {"web": [(seconds, MB), ...], ...}
    growth(series, warmup_s)                    ->  per process: MB at the warm-up's end and at the end, slope
    svg_chart(series, ...)                      ->  the chart's SVG text
"""

from __future__ import annotations

import contextlib
import math
import statistics
import threading
import time
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import psutil

Series = dict[str, list[tuple[float, float]]]
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")


def process_names(roles: Mapping[str, int]) -> dict[str, int]:
    """Each role's process and its children, each named on its own: ``web`` (the parent), ``web worker 1``, ..."""
    out: dict[str, int] = {}
    for role, pid in roles.items():
        out[role] = pid
        with contextlib.suppress(psutil.Error):
            children = sorted(psutil.Process(pid).children(recursive=True), key=lambda p: p.pid)
            n = 0
            for child in children:
                with contextlib.suppress(psutil.Error):
                    if "resource_tracker" in " ".join(child.cmdline()):  # multiprocessing's helper, not a worker
                        out[f"{role} resource tracker"] = child.pid
                        continue
                n += 1
                out[f"{role} worker {n}"] = child.pid
    return out


class RssRecorder:
    """Samples the resident memory (MB) of each named process every ``interval`` seconds in a thread."""

    def __init__(self, pids: Mapping[str, int], *, interval: float = 1.0) -> None:
        self.interval = interval
        self.series: Series = {name: [] for name in pids}
        self._procs = {}
        for name, pid in pids.items():
            with contextlib.suppress(psutil.Error):
                self._procs[name] = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started = 0.0

    def sample(self) -> None:
        now = time.monotonic() - self.started
        for name, proc in self._procs.items():
            with contextlib.suppress(psutil.Error):
                self.series[name].append((round(now, 2), round(proc.memory_info().rss / 2**20, 2)))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> RssRecorder:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope in MB per minute (0 for fewer than two points)."""
    if len(points) < 2:
        return 0.0
    xs, ys = [t for t, _ in points], [mb for _, mb in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if not var:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 60


def growth(series: Series, warmup_s: float, *, window_s: float = 30.0) -> dict[str, dict[str, float]]:
    """Per process: the median MB over the ``window_s`` seconds after the warm-up and over the last ``window_s``
    seconds, their difference, the peak, and the least-squares slope after the warm-up (MB per minute)."""
    out = {}
    for name, points in series.items():
        after = [(t, mb) for t, mb in points if t >= warmup_s]
        if not after:
            continue
        end = after[-1][0]
        first = [mb for t, mb in after if t <= after[0][0] + window_s]
        last = [mb for t, mb in after if t >= end - window_s]
        start_mb, end_mb = statistics.median(first), statistics.median(last)
        out[name] = {
            "after_warmup_mb": round(start_mb, 1),
            "end_mb": round(end_mb, 1),
            "growth_mb": round(end_mb - start_mb, 1),
            "peak_mb": round(max(mb for _, mb in points), 1),
            "slope_mb_per_min": round(_slope(after), 3),
        }
    return out


def _ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``."""
    if top <= 0:
        return [0.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [round(step * i, 3) for i in range(int(top / step) + 2)]


def svg_chart(
    series: Series,
    *,
    title: str,
    warmup_s: float | None = None,
    width: int = 720,
    height: int = 360,
    every: int = 1,
) -> str:
    """A line chart of MB over minutes, one line per process, a legend, and the warm-up's end as a dashed line.
    ``every``: draw one point in so many (a 10-minute soak has 600 samples per line)."""
    left, right, top, bottom = 56, 180, 34, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    end_s = max((t for points in series.values() for t, _ in points), default=1.0) or 1.0
    peak = max((mb for points in series.values() for _, mb in points), default=1.0)
    y_ticks = _ticks(peak)
    y_max = y_ticks[-1] or 1.0
    x_ticks = _ticks(end_s / 60)
    x_max = max(x_ticks[-1] * 60, end_s)

    def x(seconds: float) -> float:
        return round(left + seconds / x_max * plot_w, 1)

    def y(mb: float) -> float:
        return round(top + plot_h - mb / y_max * plot_h, 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="20" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for value in y_ticks:
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value)}" y2="{y(value)}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{left - 6}" y="{y(value) + 4}" text-anchor="end">{value:g}</text>')
    for minute in x_ticks:
        if minute * 60 > x_max:
            continue
        parts.append(f'<text x="{x(minute * 60)}" y="{top + plot_h + 16}" text-anchor="middle">{minute:g}</text>')
    parts += [
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="black"/>',
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="black"/>',
        f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">minutes</text>',
        f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2})">RSS (MB)</text>',
    ]
    if warmup_s is not None and warmup_s <= x_max:
        parts.append(
            f'<line x1="{x(warmup_s)}" x2="{x(warmup_s)}" y1="{top}" y2="{top + plot_h}" stroke="#999" '
            'stroke-dasharray="4 3"/>'
        )
        parts.append(f'<text x="{x(warmup_s) + 4}" y="{top + 10}" fill="#666">end of warm-up</text>')
    for n, (name, points) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        drawn = points[::every] + ([points[-1]] if points and (len(points) - 1) % every else [])
        coords = " ".join(f"{x(t)},{y(mb)}" for t, mb in drawn)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{coords}"/>')
        ly = top + 8 + n * 16
        parts.append(
            f'<line x1="{left + plot_w + 12}" x2="{left + plot_w + 30}" y1="{ly}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(f'<text x="{left + plot_w + 36}" y="{ly + 4}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def growth_rows(table: Mapping[str, Mapping[str, Any]]) -> list[list[object]]:
    """Rows for a Markdown table of ``growth``'s result."""
    return [
        [
            name,
            f"{g['after_warmup_mb']:.1f}",
            f"{g['end_mb']:.1f}",
            f"{g['growth_mb']:+.1f}",
            f"{g['slope_mb_per_min']:+.2f}",
            f"{g['peak_mb']:.1f}",
        ]
        for name, g in table.items()
    ]


GROWTH_HEAD = ("process", "MB after warm-up", "MB at the end", "growth MB", "slope MB/min after warm-up", "peak MB")
