"""Daemon benchmark: 10,000 tasks in tasks.json.

Measures, on a real scheduler_daemon.py process (JSON logs, read as they arrive):

* start-up: process start to "Scheduler is running";
* RSS after start-up and after the idle minute;
* idle CPU over a minute (no task due): utime+stime from /proc;
* fire lateness: the daemon's dispatch (child process started) minus the scheduled
  time, from its ``started`` events (``late_ms``), for tasks that fire one at a time
  (no run queued);
* edit-to-reschedule: ``manage_tasks.py edit`` returning to the daemon's
  ``rescheduled`` event for that task;
* ``manage_tasks.py list`` wall time;
* the daemon's RSS before and after one big run (``--big-rows``, default 1,000,000
  rows to CSV; the run is a child process, so the daemon should not grow).

Usage: ``python bench/bench_daemon.py [--tasks 10000] [--idle-seconds 60] [--fires 20]
[--big-rows 1000000]`` (``--big-rows 0`` skips the big run).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import PY, start_daemon  # noqa: E402

from src.core.clock import now as clock_now  # noqa: E402
from src.core.clock import to_utc_iso  # noqa: E402
from src.core.task import Task, new_task_id  # noqa: E402
from src.services.task_store import TaskStore  # noqa: E402

ZONES = ("Europe/Berlin", "America/New_York", "UTC", "Asia/Tokyo")


BIG_QUERY = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) "
    "SELECT x AS id, x * 1.5 AS amount, 'row ' || x AS label FROM c"
)


def build(folder: Path, count: int, fires: int, fire_gap: float) -> list[str]:
    db = folder / "demo.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE sales (id INTEGER, amount REAL)")
        conn.executemany("INSERT INTO sales VALUES (?, ?)", [(i, i * 1.5) for i in range(100)])
    (folder / ".env").write_text(f"DATABASE_URL=sqlite:///{db}\n", encoding="utf-8")
    now = clock_now()
    created = to_utc_iso(now)
    tasks: list[Task] = []
    # Quiet tasks: daily cron at times that do not come up during the bench.
    quiet_hour = (now + timedelta(hours=12)).hour
    for i in range(count - fires):
        tasks.append(
            Task.from_dict(
                {
                    "id": new_task_id(),
                    "name": f"Report {i:05d}",
                    "query": "SELECT * FROM sales",
                    "schedule": {"cron": f"{i % 60} {quiet_hour} * * *"},
                    "timezone": ZONES[i % len(ZONES)],
                    "email": {"to": ["boss@example.com"]},
                    "exports": {"csv": True},
                    "created_at": created,
                }
            )
        )
    # Firing tasks: once each, spread out so no run is queued when the next one fires.
    ids: list[str] = []
    first = now + timedelta(seconds=60)  # after start-up; replaced before the fire phase
    for j in range(fires):
        task_id = new_task_id()
        ids.append(task_id)
        tasks.append(
            Task.from_dict(
                {
                    "id": task_id,
                    "name": f"Fire {j:03d}",
                    "query": "SELECT * FROM sales",
                    "schedule": {"once": to_utc_iso(first + timedelta(days=365))},
                    "timezone": "UTC",
                    "email": {"to": ["boss@example.com"]},
                    "exports": {"csv": True},
                    "created_at": created,
                }
            )
        )
    store = TaskStore(folder / "tasks.json")
    with store.transaction() as task_file:
        task_file.tasks.extend(tasks)
    return ids


class Daemon:
    def __init__(self, folder: Path) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Lock()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "NOTIFY_"))}
        self.started = time.monotonic()
        self.process = start_daemon(folder, env, self._on_event)

    def _on_event(self, item: dict[str, Any]) -> None:
        with self.lock:
            self.events.append((time.monotonic(), item))

    def wait(self, check: Any, timeout: float = 120) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            with self.lock:
                batch = self.events[seen:]
                seen = len(self.events)
            for stamp, item in batch:
                if check(item):
                    return stamp, item
            time.sleep(0.005)
        raise SystemExit(f"timed out waiting; last events: {self.events[-5:]}")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


def cli(folder: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            PY,
            str(ROOT / "manage_tasks.py"),
            "--tasks-file",
            str(folder / "tasks.json"),
            "--env-file",
            str(folder / ".env"),
            *args,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=folder,
    )
    return time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--fires", type=int, default=20)
    parser.add_argument("--fire-gap", type=float, default=3.0)
    parser.add_argument("--big-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        fire_ids = build(folder, args.tasks, args.fires, args.fire_gap)
        print(
            f"built {args.tasks} tasks in {time.perf_counter() - t0:.1f} s "
            f"({(folder / 'tasks.json').stat().st_size / 1e6:.1f} MB tasks.json)"
        )
        daemon = Daemon(folder)
        stamp, _ = daemon.wait(lambda e: e.get("event") == "running")
        results: dict[str, str] = {}
        results["start-up to 'Scheduler is running'"] = f"{stamp - daemon.started:.2f} s"
        results["RSS after start-up"] = f"{daemon.rss_mb():.0f} MB"

        time.sleep(2)  # let start-up settle
        cpu0, wall0 = daemon.cpu_seconds(), time.monotonic()
        time.sleep(args.idle_seconds)
        cpu = (daemon.cpu_seconds() - cpu0) / (time.monotonic() - wall0) * 100
        results[f"idle CPU over {args.idle_seconds:g} s"] = f"{cpu:.2f} %"
        results["RSS after the idle period"] = f"{daemon.rss_mb():.0f} MB"

        # edit-to-reschedule: a person changes one task's schedule
        edits: list[float] = []
        for k in range(5):
            name = f"Report {k:05d}"
            cli(folder, "edit", name, "--cron", f"{k} 1 * * *")
            done = time.monotonic()
            stamp, _ = daemon.wait(
                lambda e, n=name: e.get("event") == "rescheduled" and n in e.get("message", "")
            )
            edits.append(stamp - done)
        results["edit-to-reschedule (CLI returns -> daemon rescheduled), 5 edits"] = (
            f"median {statistics.median(edits):.2f} s, max {max(edits):.2f} s"
        )

        lists = [cli(folder, "list") for _ in range(3)]
        results[f"`manage_tasks.py list` with {args.tasks} tasks"] = (
            f"median {statistics.median(lists):.2f} s"
        )

        # fire lateness: set the firing tasks to fire one at a time, fire_gap apart
        start = clock_now() + timedelta(seconds=8)
        store = TaskStore(folder / "tasks.json")
        with store.transaction() as task_file:
            for index, task in enumerate(task_file.tasks):
                if task.id in fire_ids:
                    j = fire_ids.index(task.id)
                    moment = to_utc_iso(start + timedelta(seconds=j * args.fire_gap))
                    data = task.to_dict()
                    data["schedule"] = {"once": moment}
                    task_file.tasks[index] = Task.from_dict(data)
        late: list[float] = []
        for _ in fire_ids:
            _, item = daemon.wait(
                lambda e: (
                    e.get("event") == "started"
                    and e.get("task_id") in fire_ids
                    and e.get("late_ms") is not None
                    and e.get("run_id") not in seen_runs
                ),
                timeout=args.fire_gap * len(fire_ids) + 60,
            )
            seen_runs.add(item["run_id"])
            late.append(float(item["late_ms"]))
        results[f"fire lateness, {len(late)} fires (dispatch - scheduled)"] = (
            f"p50 {pct(late, 0.5):.1f} ms, p99 {pct(late, 0.99):.1f} ms, max {max(late):.1f} ms"
        )
        daemon.wait(
            lambda e: (
                e.get("event") == "finished"
                and "Fire" in e.get("message", "")
                and e.get("run_id") == item["run_id"]
            )
        )
        results["RSS after the runs"] = f"{daemon.rss_mb():.0f} MB"
        if args.big_rows:
            big_id = fire_ids[0]
            before = daemon.rss_mb()
            with store.transaction() as task_file:
                for index, task in enumerate(task_file.tasks):
                    if task.id == big_id:
                        data = task.to_dict()
                        data["query"] = BIG_QUERY.format(n=args.big_rows)
                        data["schedule"] = {"once": to_utc_iso(clock_now() + timedelta(seconds=3))}
                        data["timeout_seconds"] = 600
                        task_file.tasks[index] = Task.from_dict(data)
            _, done = daemon.wait(
                lambda e: (
                    e.get("event") == "finished"
                    and e.get("task_id") == big_id
                    and e.get("run_id") not in seen_runs  # not its earlier fire
                ),
                timeout=900,
            )
            time.sleep(1)
            results[f"RSS before / after a {args.big_rows:,}-row run ({done.get('status')})"] = (
                f"{before:.0f} MB / {daemon.rss_mb():.0f} MB"
            )
        daemon.process.send_signal(signal.SIGTERM)
        code = daemon.process.wait(60)
        results["exit code after SIGTERM"] = str(code)
        width = max(len(k) for k in results)
        for key, value in results.items():
            print(f"{key:<{width}}  {value}")


seen_runs: set[str] = set()

if __name__ == "__main__":
    main()
