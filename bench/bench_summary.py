"""A run's end writes its task's summary into tasks.json: the cost per run, by file size.

Side by side in one run, on the same files: the full read-validate-write of the store
(``TaskStore.update(..., touch=False)``, what a run's end did before the run recorder)
against ``TaskStore.update_summary`` (only the run's task is decoded and validated).
Each figure is the median of ``--repeat`` writes; every task has its own cron line and
zone, so caches of parsed schedules do not help the full path more than in a daemon.

Usage: ``python bench/bench_summary.py [--tasks 100 1000 10000] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from src.core.task import Summary, Task  # noqa: E402
from src.services.task_store import TaskStore  # noqa: E402

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney"]
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def build(path: Path, count: int) -> TaskStore:
    store = TaskStore(path)
    with store.transaction() as task_file:
        for i in range(count):
            task_file.tasks.append(
                Task.from_dict(
                    {
                        "id": f"task-{i:06d}",
                        "name": f"Report {i:06d}",
                        "query": "SELECT * FROM sales",
                        "schedule": {"cron": f"{i % 60} {i % 24} {1 + i % 28} * *"},
                        "timezone": ZONES[i % len(ZONES)],
                        "email": {"to": [f"boss{i}@example.com"]},
                        "exports": {"csv": True},
                    }
                )
            )
    return store


def summarize(task: Task) -> Summary:
    return Summary(
        last_run=NOW,
        last_status="success",
        next_run=task.next_run(NOW),
        run_count=task.summary.run_count + 1,
    )


def median_seconds(write: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        write()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'tasks':>7}  {'full read-validate-write':>25}  {'update_summary':>15}  speed-up")
    with tempfile.TemporaryDirectory() as folder:
        for count in args.tasks:
            store = build(Path(folder) / f"tasks-{count}.json", count)
            target = f"task-{count // 2:06d}"

            def full(store: TaskStore = store, target: str = target) -> None:
                store.update(target, lambda t: t.with_changes(summary=summarize(t)), touch=False)

            def summary_only(store: TaskStore = store, target: str = target) -> None:
                store.update_summary(target, summarize)

            slow = median_seconds(full, args.repeat)
            fast = median_seconds(summary_only, args.repeat)
            ratio = slow / fast
            print(f"{count:>7}  {slow * 1000:>22.1f} ms  {fast * 1000:>12.1f} ms  {ratio:>7.1f}x")


if __name__ == "__main__":
    main()
