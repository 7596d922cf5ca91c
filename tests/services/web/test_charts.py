"""The run chart's numbers: bars where and as tall as the runs say, colours by outcome,
a caption that says it in words."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from src.services.web.charts import BOTTOM, HEIGHT, LEFT, MIN_HEIGHT, RIGHT, TOP, WIDTH, run_chart

BERLIN = ZoneInfo("Europe/Berlin")


def _run(at: str, seconds: float | None, status: str, name: str = "Sales") -> dict[str, object]:
    return {"started_at": at, "duration_seconds": seconds, "status": status, "task_name": name}


def test_bars_stand_at_their_time_as_tall_as_the_run_took() -> None:
    runs = [  # newest first, as the index answers
        _run("2026-03-01T12:00:00Z", 4.0, "failed"),
        _run("2026-03-01T11:00:00Z", 0.0, "success"),
        _run("2026-03-01T10:00:00Z", 2.0, "success"),
    ]
    chart = run_chart(runs, BERLIN, with_task=True)
    first, middle, last = chart.bars
    plot_h = HEIGHT - TOP - BOTTOM
    assert first.x == LEFT and last.x == WIDTH - RIGHT - last.width  # oldest left, newest right
    assert abs(middle.x - (LEFT + (WIDTH - LEFT - RIGHT - last.width) / 2)) < 0.2
    assert (first.height, middle.height, last.height) == (
        plot_h * 2 / 5,
        MIN_HEIGHT,
        plot_h * 4 / 5,
    )
    assert all(bar.y + bar.height == HEIGHT - BOTTOM for bar in chart.bars)  # on the axis
    assert [bar.status for bar in chart.bars] == ["success", "success", "failed"]
    assert first.label == "Sales: 2026-03-01 11:00 CET, 2 s, success"
    assert chart.y_ticks[-1][1] == "5 s"  # a round top above the longest run
    assert chart.statuses == ["failed", "success"]
    assert chart.summary == (
        "3 runs from 2026-03-01 11:00 CET to 2026-03-01 13:00 CET: 1 failed, 2 success; "
        "the longest took 4 s."
    )


def test_no_run_is_said_and_a_run_without_a_time_is_left_out() -> None:
    assert run_chart([], BERLIN, with_task=False).summary == "No run yet."
    chart = run_chart([{"status": "running"}, _run("2026-03-01T10:00:00Z", 75, "timeout")], BERLIN,
                      with_task=False)  # fmt: skip
    assert len(chart.bars) == 1 and chart.bars[0].label == "2026-03-01 11:00 CET, 75 s, timeout"
    assert [label for _, label in chart.y_ticks] == ["0 s", "50 s", "100 s"]
    long = run_chart([_run("2026-03-01T10:00:00Z", 4000, "success")], BERLIN, with_task=False)
    assert [label for _, label in long.y_ticks] == ["0 s", "41.7 min", "83.3 min"]
