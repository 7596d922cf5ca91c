"""The run chart of the dashboard and the task page, drawn on the server as SVG.

Each run is a bar placed at the time it began, as tall as it took, coloured by its
outcome (the colours are the stylesheet's ``.st-<status>``; no chart library, no script).
The numbers are worked out here; ``templates/_chart.html`` writes the SVG, escaping
every text, and a caption says in words what the bars show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from src.core.clock import local_text, parse_instant

WIDTH = 720
HEIGHT = 220
#: room for the axis labels: left (durations), bottom (times)
LEFT, BOTTOM, TOP, RIGHT = 56, 28, 12, 12
#: the thinnest bar drawn, and the shortest (a run of 0 s still shows)
MIN_BAR, MIN_HEIGHT = 2.0, 2.0


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    status: str
    label: str  # a tooltip: task, time, duration, outcome


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    #: (y, text) for the duration axis; (x, text) for the time axis
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    summary: str = ""
    left: int = LEFT
    bottom: float = HEIGHT - BOTTOM


def _duration(run: dict[str, Any]) -> float:
    value = run.get("duration_seconds")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return 0.0


def _began(run: dict[str, Any]) -> datetime | None:
    for key in ("started_at", "finished_at", "scheduled_for"):
        if run.get(key):
            try:
                return parse_instant(str(run[key]))
            except (ValueError, OverflowError):
                continue
    return None


def _nice_top(longest: float) -> float:
    """A round top for the duration axis: 1, 2 or 5 times a power of ten."""
    if longest <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(longest))
    for step in (1, 2, 5, 10):
        if longest <= step * power:
            return float(step * power)
    return float(10 * power)


def _seconds_label(value: float) -> str:
    """Seconds up to two minutes, then minutes, then hours (3 figures)."""
    if value < 120:
        return f"{value:g} s"
    if value < 7200:
        return f"{value / 60:.3g} min"
    return f"{value / 3600:.3g} h"


def run_chart(runs: Sequence[dict[str, Any]], zone: ZoneInfo, *, with_task: bool) -> Chart:
    """The chart of ``runs`` (the API's run records, any order), times in ``zone``."""
    chart = Chart(WIDTH, HEIGHT)
    timed = sorted(
        ((began, run) for run in runs if (began := _began(run)) is not None),
        key=lambda item: item[0],
    )
    if not timed:
        chart.summary = "No run yet."
        return chart
    first, last = timed[0][0], timed[-1][0]
    span = max((last - first).total_seconds(), 1.0)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    top = _nice_top(max(_duration(run) for _, run in timed))
    bar_w = max(MIN_BAR, min(12.0, plot_w / (len(timed) * 1.5)))
    for began, run in timed:
        x = LEFT + (began - first).total_seconds() / span * (plot_w - bar_w)
        height = max(MIN_HEIGHT, _duration(run) / top * plot_h)
        status = str(run.get("status") or "running")
        who = f"{run.get('task_name')}: " if with_task else ""
        label = (
            f"{who}{local_text(began, zone)}, {_seconds_label(round(_duration(run), 1))}, {status}"
        )
        chart.bars.append(
            Bar(
                round(x, 1), round(TOP + plot_h - height, 1), bar_w, round(height, 1), status, label
            )
        )
    chart.y_ticks = [
        (round(TOP + plot_h - fraction * plot_h, 1), _seconds_label(top * fraction))
        for fraction in (0.0, 0.5, 1.0)
    ]
    chart.x_ticks = [
        (LEFT, local_text(first, zone)),
        (WIDTH - RIGHT, local_text(last, zone)),
    ]
    chart.statuses = sorted({bar.status for bar in chart.bars})
    counts = {status: sum(bar.status == status for bar in chart.bars) for status in chart.statuses}
    outcome = ", ".join(f"{count} {status}" for status, count in counts.items())
    longest = max(_duration(run) for _, run in timed)
    chart.summary = (
        f"{len(timed)} runs from {local_text(first, zone)} to {local_text(last, zone)}: "
        f"{outcome}; the longest took {_seconds_label(round(longest, 1))}."
    )
    return chart
