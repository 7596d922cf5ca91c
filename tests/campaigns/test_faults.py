"""Faults during a run, with real processes and servers: nothing half-sent, a clear record."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from src.core.clock import now as clock_now
from src.core.clock import to_utc_iso
from src.services.demo import build_demo_database
from src.services.query import QueryService
from src.services.runner import Runner
from src.services.settings import Settings
from src.services.task_store import TaskStore
from tests.daemon_harness import DAEMON, Workspace
from tests.servers import ROOT

STREAM = (
    "SELECT g, repeat('x', 50) AS pad, CASE WHEN g = 60000 THEN pg_sleep(30) END AS stall "
    "FROM generate_series(1, 100000) g"
)


def write_task(folder: Path, **fields) -> TaskStore:
    task = {
        "id": "f-1",
        "name": "Faulty",
        "query": "SELECT 1",
        "schedule": {"cron": "@daily"},
        "exports": {"xlsx": True, "csv": True},
        "email": {"to": ["a@example.com"]},
        "timeout_seconds": 60,
        **fields,
    }
    store = TaskStore(folder / "tasks.json")
    store.path.write_text(json.dumps({"version": 1, "tasks": [task]}))
    return store


def terminate_when_stalled(pg_url: str, marker: str, done: threading.Event) -> None:
    engine = sa.create_engine(pg_url, poolclass=sa.NullPool)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not done.is_set():
            with engine.begin() as conn:
                killed = conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :marker AND wait_event = 'PgSleep'"
                    ),
                    {"marker": marker},
                ).fetchall()
            if killed:
                return
            time.sleep(0.05)
    finally:
        engine.dispose()


def test_backend_terminated_mid_stream_is_transient_and_nothing_is_half_sent(tmp_path, pg_url):
    store = write_task(tmp_path, query=STREAM)
    # a name of its own, so the test kills this run's backend and no other test's
    marker = f"fault_{uuid.uuid4().hex[:12]}"
    url = sa.engine.make_url(pg_url).update_query_dict({"application_name": marker})
    env = {"DATABASE_URL": url.render_as_string(hide_password=False)}
    settings = Settings.from_env(env, tmp_path)
    query = QueryService(env)
    try:
        runner = Runner(store, settings, query)
        done = threading.Event()
        killer = threading.Thread(
            target=terminate_when_stalled, args=(pg_url, marker, done), daemon=True
        )
        killer.start()
        outcome = runner.run(store.load().tasks[0])
        done.set()
        killer.join()
        assert outcome.status == "failed"
        assert outcome.error is not None and outcome.error.permanent is False, outcome.error
        assert list(settings.exports_dir.rglob("*.*")) == []  # partial files removed
        assert not settings.smtp.outbox_dir.exists() or not list(settings.smtp.outbox_dir.iterdir())
        # the retry (what the daemon does for a transient failure) succeeds
        store.update("Faulty", lambda t: t.with_changes(query=STREAM.replace("60000", "0")))
        again = runner.run(store.load().tasks[0], attempt=2)
    finally:
        query.close()
    assert again.status == "success", again.error
    assert again.rows == 100000
    assert len(list(settings.smtp.outbox_dir.glob("*.eml"))) == 1
    statuses = [r.status for r in runner.history.runs()]
    assert statuses == ["failed", "success"]


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG


def test_file_size_limit_gives_a_failed_record_and_no_partial_file(tmp_path):
    build_demo_database(tmp_path / "data" / "demo.db", date(2026, 11, 23), days_ahead=0)
    big = "SELECT s.*, printf('%.500c', 'x') AS pad FROM sales s, sales t LIMIT 20000"
    write_task(tmp_path, query=big, connection=f"sqlite:///{tmp_path / 'data' / 'demo.db'}")
    env = {**os.environ, "TASKS_FILE": str(tmp_path / "tasks.json")}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage_tasks.py"), "run", "Faulty"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Error (export, transient, worth a retry): " in result.stdout
    assert "(EFBIG, e.g. ulimit -f); raise the limit or narrow the query" in result.stdout
    exports = tmp_path / "data" / "exports"
    assert [p for p in exports.rglob("*") if p.is_file()] == []
    assert not (tmp_path / "data" / "outbox").exists()
    (finished,) = [
        json.loads(line)
        for line in (tmp_path / "data" / "runs.jsonl").read_text().splitlines()
        if '"finished"' in line
    ]
    assert finished["status"] == "failed" and finished["error"]["type"] == "export"


def test_daemon_run_hitting_the_file_size_limit_fails_cleanly_and_the_daemon_goes_on(tmp_path):
    from tests.daemon_harness import DAEMON, Workspace

    space = Workspace(tmp_path)
    big = "SELECT a.id, printf('%.900c', 'x') AS pad FROM sales a, sales b, sales c"  # 125k rows
    space.add("Big", "--query", big, "--every", "1h", "--retries", "0")
    space.add("Small", "--query", "SELECT * FROM sales", "--every", "1h")
    moment = to_utc_iso(clock_now() - timedelta(minutes=90))

    def backdate(document: dict) -> None:  # one occurrence of each task is due at start
        for item in document["tasks"]:
            item["created_at"] = moment
            item["schedule"]["start"] = moment

    space.edit_json(backdate)
    result = subprocess.run(
        [sys.executable, str(DAEMON), *space.daemon_args(), "--once"],
        cwd=tmp_path,
        env=space.process_env({}),
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size,  # the daemon's children inherit the limit
        timeout=180,
    )
    assert result.returncode == 1, result.stdout + result.stderr  # not every run succeeded
    by_task = {record.task_name: record for record in space.runs()}
    assert by_task["Small"].status == "success"
    big_run = by_task["Big"]
    assert big_run.status == "failed"
    assert big_run.data["error"]["type"] == "export" and "EFBIG" in big_run.data["error"]["message"]
    assert "emailed" not in big_run.steps
    leftovers = [p.name for p in (space.data / "exports").rglob("*") if p.is_file()]
    assert all(name.startswith("Small") for name in leftovers), leftovers
    assert len(space.outbox()) == 1  # only Small's report went out


# --- the same tasks file by another path -------------------------------------------------


def _same_file_by_three_paths(tmp_path: Path) -> tuple[Workspace, Path, Path]:
    """A workspace in ``real/``, a symlink to its tasks.json from ``linked/``, and a
    ``..`` spelling of the real path."""
    space = Workspace(_mkdir(tmp_path / "real"))
    link = _mkdir(tmp_path / "linked") / "tasks.json"
    link.symlink_to(space.tasks_file)
    dotted = tmp_path / "linked" / ".." / "real" / "tasks.json"
    return space, link, dotted


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def test_a_second_daemon_on_a_symlink_or_another_spelling_is_refused(tmp_path: Path) -> None:
    space, link, dotted = _same_file_by_three_paths(tmp_path)
    space.add("Every second", "--query", "SELECT 1 AS one", "--every", "1s")
    first = space.start()
    try:
        first.wait_for("Scheduler is running")
        for other in (link, dotted, Path("tasks.json")):  # the last relative to real/
            second = subprocess.run(
                [
                    sys.executable,
                    str(DAEMON),
                    "--tasks-file",
                    str(other),
                    "--env-file",
                    str(space.env_file),
                ],
                cwd=space.folder,
                env=space.process_env({}),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert second.returncode == 1, second.stderr
            spelled = os.path.abspath(space.folder / other)
            given = "" if other != link else f" (where {spelled} leads)"  # abspath drops ..
            assert second.stderr.strip().splitlines()[-1] == (
                f"Error: another scheduler (pid {first.process.pid}) is already running for "
                f"{space.tasks_file}{given}"
            )
        assert first.process.poll() is None
    finally:
        assert first.stop() == 0
    assert link.is_symlink()


def test_edit_through_a_symlink_changes_the_real_file_and_keeps_the_link(tmp_path: Path) -> None:
    space, link, _ = _same_file_by_three_paths(tmp_path)
    space.add("Linked", "--query", "SELECT 1 AS one", "--every", "1h")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage_tasks.py"),
            "--tasks-file",
            str(link),
            "--env-file",
            str(space.env_file),
            "edit",
            "Linked",
            "--query",
            "SELECT 2 AS two",
        ],
        cwd=tmp_path,
        env=space.process_env({}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Updated" in done.stdout
    assert link.is_symlink() and link.resolve() == space.tasks_file
    assert space.task("Linked")["query"] == "SELECT 2 AS two"
    # lock and temp files live beside the real file, none beside the link
    assert sorted(p.name for p in link.parent.iterdir()) == ["tasks.json"]


_ADDER = """
import sys, uuid
from src.core.task import Task
from src.services.task_store import TaskStore
store = TaskStore(sys.argv[1])
for i in range(int(sys.argv[3])):
    store.add(Task.from_dict({
        "id": str(uuid.uuid4()), "name": f"{sys.argv[2]} {i}", "query": "SELECT 1",
        "schedule": {"interval": "1h"}, "email": {"to": ["a@example.com"]},
    }))
"""


def test_edits_through_a_symlink_and_the_real_path_under_load_lose_nothing(
    tmp_path: Path,
) -> None:
    space, link, dotted = _same_file_by_three_paths(tmp_path)
    each = 60
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _ADDER, str(path), label, str(each)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path, label in ((space.tasks_file, "real"), (link, "link"), (dotted, "dots"))
    ]
    errors = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    for proc in procs:
        if proc.stderr:
            proc.stderr.close()
    assert [e for e in errors if e[0] != 0] == []
    names = {t["name"] for t in space.document()["tasks"]}
    assert len(names) == 3 * each
    assert link.is_symlink()


# --- a streamed fetch longer than timeout_seconds, each batch fast -------------------------

#: Each 5000-row batch (the runner's) takes ~0.25-0.4 s, well under the 1 s timeout; all of
#: them take 6-12 s. Only a deadline on the whole fetch stops it in time.
SLOW_STREAMS = {
    "postgresql": (
        "SELECT g, CASE WHEN g % 5000 = 0 THEN pg_sleep(0.4) END AS pause "
        "FROM generate_series(1, 150000) g"
    ),
    "mariadb": ("SELECT seq, IF(seq % 5000 = 0, SLEEP(0.4), 0) AS pause FROM seq_1_to_150000"),
    "sqlite": (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 150000) "
        "SELECT x, (WITH RECURSIVE d(y) AS (SELECT x UNION ALL SELECT y + 1 FROM d "
        "WHERE y < x + 100) SELECT count(*) FROM d) AS work FROM c"
    ),
}


@pytest.mark.parametrize("backend", sorted(SLOW_STREAMS))
def test_slow_streamed_fetch_is_cut_at_the_timeout_and_nothing_is_sent(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        sqlite3.connect(tmp_path / "demo.db").close()
        url = f"sqlite:///{tmp_path / 'demo.db'}"
    else:
        url = request.getfixturevalue("pg_url" if backend == "postgresql" else "mariadb_url")
    store = write_task(tmp_path, query=SLOW_STREAMS[backend], timeout_seconds=1)
    env = {"DATABASE_URL": url}
    settings = Settings.from_env(env, tmp_path)
    query = QueryService(env)
    try:
        started = time.monotonic()
        outcome = Runner(store, settings, query).run(store.load().tasks[0])
        took = time.monotonic() - started
    finally:
        query.close()
    assert outcome.status == "timeout", outcome.error
    assert outcome.error is not None and "longer than 1 s" in str(outcome.error)
    assert took < 5, took  # 1 s (+2 s where the server has a limit of its own), not 6-12 s
    assert list(settings.exports_dir.rglob("*.*")) == []  # partial files removed
    assert not settings.smtp.outbox_dir.exists() or not list(settings.smtp.outbox_dir.iterdir())
    print(f"{backend}: timeout recorded after {took:.1f} s")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_start_sweeps_partial_export_files_of_a_run_killed_mid_fetch(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    space = Workspace(tmp_path)
    # ~100 s (SQLite), ~160 s (PostgreSQL): killed long before
    slow = SLOW_STREAMS[backend].replace("150000", "2000000")
    if backend == "postgresql":  # COPY text: past 1,000 rows its csv goes to a second process
        space.write_env(
            DATABASE_URL=request.getfixturevalue("pg_url"), EXPORT_SECOND_PROCESS_ROWS="1000"
        )
    space.add("Slow", "--query", slow, "--every", "1s", "--timeout", "300", "--no-check",
              "--xlsx", "--csv", "--no-pdf")  # fmt: skip
    exports = space.data / "exports"
    daemon = space.start()
    try:
        daemon.wait_until(lambda: any(exports.rglob(".*.csv.*.part")), "a partial csv")
    finally:
        daemon.kill()  # kill -9 mid-fetch; its run dies with it (PR_SET_PDEATHSIG)
    if backend == "postgresql":
        # the run's second process (export/side.py) removed its csv when its run went
        deadline = time.monotonic() + 30
        while any(exports.rglob(".*.csv.*.part")):
            assert time.monotonic() < deadline, "the side process left its partial csv"
            time.sleep(0.1)
    # the run's own files are left for the next start
    left = sorted(exports.rglob(".*.part"))
    assert [".xlsx." in p.name for p in left] == ([True] if backend == "postgresql" else
                                                  [False, True]), left  # fmt: skip
    older = time.time() - 3600  # past the bound: max(10 min, timeout 300 s + kill grace 15 s)
    for path in left:
        os.utime(path, (older, older))
    live = left[0].with_name(".Slow.csv.0123abcd.part")  # as a `manage_tasks.py run` now writes
    live.write_text("x")
    other = left[0].with_name(".notes.part")  # not the exporters' pattern: not ours to remove
    other.write_text("x")
    os.utime(other, (older, older))
    space.edit_json(lambda doc: doc["tasks"][0].update(enabled=False))
    done = space.run_once()
    assert done.returncode == 0, done.stderr
    assert f"removed {len(left)} partial export file(s) of cut-off runs" in done.stderr
    assert not any(p.exists() for p in left) and live.exists() and other.exists()
