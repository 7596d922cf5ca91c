"""Per task success rate, median and p95 duration over the kept history."""

from __future__ import annotations

from src.services.history import RunRecord
from src.services.run_stats import task_stats


def _run(task_id: str, status: str, seconds: float | None) -> RunRecord:
    data = {} if seconds is None else {"duration_seconds": seconds}
    return RunRecord(f"r{seconds}{status}", task_id, f"Task {task_id}", status, [], data)


def test_rate_median_and_nearest_rank_p95() -> None:
    records = [_run("a", "success", float(s)) for s in range(1, 20)]  # 1..19 s
    records += [_run("a", "failed", 100.0), _run("a", "skipped", None), _run("b", "running", None)]
    stats = task_stats(records)
    assert set(stats) == {"a"}  # skipped and running runs say nothing about health
    a = stats["a"]
    assert (a.runs, a.successes) == (20, 19)
    assert a.success_rate == 0.95
    assert a.median_seconds == 10.5
    assert a.p95_seconds == 19.0  # the 19th of 20 sorted durations
    assert a.describe() == ("19 of 20 runs succeeded (95%); duration median 10.5 s, p95 19.0 s")


def test_one_run_and_runs_without_a_duration() -> None:
    stats = task_stats([_run("a", "timeout", 3.0), _run("a", "interrupted", None)])["a"]
    assert (stats.runs, stats.successes, stats.success_rate) == (2, 0, 0.0)
    assert stats.median_seconds == stats.p95_seconds == 3.0
