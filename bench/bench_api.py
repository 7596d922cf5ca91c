"""The HTTP API's answer times with 10,000 tasks and 1,000,000 runs in the history.

Builds a temp folder with a tasks.json of ``--tasks`` tasks and a runs.jsonl of
``--runs`` runs (a started and a finished line each, spread over 90 days and the
tasks), then times the Flask app in this process (server time: no network), median
of ``--repeat`` calls after one warm-up: ``GET /api/runs?task=X&limit=50``, the task
list's first page, a name search, and a task's detail; and the web pages: the
dashboard (and once more with no task's next fire time known yet, as before the
start's warm-up has worked them out), the task
list's first page (sorted by name, and by last run), a task's page, the runs page. The
run index's first build (once, then kept) and its catch-up after new lines are timed too.

Usage: ``python bench/bench_api.py [--tasks 10000] [--runs 1000000] [--repeat 20]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from src.core.task import Task  # noqa: E402
from src.services.api import ApiContext  # noqa: E402
from src.services.api import scheduler as scheduler_api  # noqa: E402
from src.services.history import RunHistory  # noqa: E402
from src.services.settings import Settings  # noqa: E402
from src.services.task_store import TaskStore  # noqa: E402
from src.services.webhook import HealthState, TriggerResult, WebhookSettings, create_app  # noqa: E402
from src.services.webhook.settings import Listen  # noqa: E402

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TOKEN = "bench-token-" + "b" * 40


class Control:
    """The daemon's side, as far as the timed routes need it."""

    def __init__(self, store: TaskStore, history: Path) -> None:
        self._tasks = store.load().tasks
        self._history = RunHistory(history)

    def tasks(self) -> list[Task]:
        return self._tasks

    def history(self) -> RunHistory:
        return self._history

    def run_status(self, run_id: str) -> dict[str, Any] | None:
        return None

    def health(self) -> HealthState:
        return HealthState("running", len(self._tasks), NOW)

    def trigger(self, task: Task, *, trigger: str, idempotency_key: str | None) -> TriggerResult:
        raise NotImplementedError("not timed")

    def pause_state(self) -> dict[str, Any]:
        return {"paused": False, "paused_since": None, "paused_by": None}

    def set_paused(self, paused: bool, by: str) -> dict[str, Any]:
        raise NotImplementedError("not timed")

    def in_flight(self) -> list[dict[str, Any]]:
        return []


def build(folder: Path, tasks: int, runs: int) -> list[str]:
    ids = [str(uuid.UUID(int=i + 1)) for i in range(tasks)]
    document = {
        "version": 1,
        "tasks": [
            {
                "id": task_id,
                "name": f"Report {i:05d}",
                "query": "SELECT * FROM sales WHERE day = :yesterday",
                "schedule": {"cron": f"{i % 60} {i % 24} * * *"},
                "timezone": "Europe/Berlin",
                "exports": {"xlsx": True, "csv": True},
                "email": {"to": ["boss@example.com"]},
                "created_at": "2026-01-01T00:00:00Z",
                "last_status": "success" if i % 7 else "failed",
                "run_count": runs // tasks,
            }
            for i, task_id in enumerate(ids)
        ],
    }
    (folder / "tasks.json").write_text(json.dumps(document), encoding="utf-8")
    start = NOW - timedelta(days=90)
    step = timedelta(days=90) / runs
    history = folder / "data" / "runs.jsonl"
    history.parent.mkdir()
    with history.open("w", encoding="utf-8") as handle:
        for n in range(runs):
            at = (start + step * n).strftime("%Y-%m-%dT%H:%M:%SZ")
            task_id = ids[n % tasks]
            common = {
                "run_id": f"run-{n:07d}",
                "at": at,
                "task_id": task_id,
                "task_name": f"Report {n % tasks:05d}",
                "trigger": "schedule",
            }
            handle.write(json.dumps({"event": "started", **common, "started_at": at}) + "\n")
            handle.write(
                json.dumps(
                    {
                        "event": "finished",
                        **common,
                        "status": "success",
                        "finished_at": at,
                        "rows": n % 500,
                    }
                )
                + "\n"
            )
    return ids


def timed(client: Any, path: str, repeat: int, before: Any = None) -> float:
    """The median server time of ``GET path`` in ms (``before``: called before each call,
    untimed)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    first = client.get(path, headers=headers)
    assert first.status_code == 200, (path, first.status_code, first.data[:200])
    samples = []
    for _ in range(repeat):
        if before is not None:
            before()
        began = time.perf_counter()
        reply = client.get(path, headers=headers)
        samples.append(time.perf_counter() - began)
        assert reply.status_code == 200
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        began = time.perf_counter()
        ids = build(folder, args.tasks, args.runs)
        print(f"built {args.tasks} tasks, {args.runs} runs in {time.perf_counter() - began:.1f} s")
        env = {"DATABASE_URL": "sqlite:///:memory:"}
        settings = Settings.from_env(env, base_dir=folder)
        store = TaskStore(folder / "tasks.json")
        control = Control(store, settings.history_path)
        context = ApiContext.build(control, folder / "tasks.json", env, settings, TOKEN)
        began = time.perf_counter()
        context.runs.refresh()
        print(f"run index first build: {time.perf_counter() - began:.1f} s (once; then kept)")
        web = WebhookSettings(Listen("127.0.0.1", 0), TOKEN, folder / "keys.jsonl")
        client = create_app(control, web, context=context).test_client()
        task = ids[len(ids) // 2]
        rows = [
            ("GET /api/runs?task=X&limit=50", f"/api/runs?task={task}&limit=50"),
            ("GET /api/runs?limit=50 (all tasks)", "/api/runs?limit=50"),
            ("GET /api/runs?status=failed&limit=50", "/api/runs?status=failed&limit=50"),
            ("GET /api/tasks (first page of 100)", "/api/tasks"),
            ("GET /api/tasks?name=report 0999", "/api/tasks?name=report%200999"),
            ("GET /api/tasks/{id} (detail, last runs)", f"/api/tasks/{task}"),
        ]
        for label, path in rows:
            print(f"{label:<44} {timed(client, path, args.repeat):8.1f} ms (median)")
        pages = [
            ("page / (dashboard)", "/"),
            ("page /tasks (first page of 50)", "/tasks"),
            ("page /tasks?sort=-last_run", "/tasks?sort=-last_run"),
            ("page /tasks?q=report 09&kind=cron", "/tasks?q=report%2009&kind=cron"),
            ("page /tasks/{id} (schedule, 30 runs, chart)", f"/tasks/{task}"),
            ("page /runs (first page of 50)", "/runs"),
            ("page /runs?task=X", f"/runs?task={task}"),
        ]
        for label, path in pages:
            print(f"{label:<44} {timed(client, path, args.repeat):8.1f} ms (median)")
        cold = timed(client, "/", args.repeat, before=scheduler_api.SOONEST.clear)
        print(f"{'page / (dashboard, no fire time known yet)':<44} {cold:8.1f} ms (median)")
        history = RunHistory(settings.history_path, keep_days=3650)
        for n in range(100):
            history.append(
                "started",
                f"new-{n}",
                NOW,
                task_id=task,
                task_name="x",
                started_at="2026-11-30T09:00:00Z",
            )
        began = time.perf_counter()
        context.runs.refresh()
        spent = (time.perf_counter() - began) * 1000
        print(f"{'index catch-up after 100 new lines':<44} {spent:8.1f} ms")


if __name__ == "__main__":
    main()
