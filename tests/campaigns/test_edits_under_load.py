"""Edits under load: several processes edit tasks.json while the daemon runs tasks every second.

* Editor processes (``python -m tests.campaigns.test_edits_under_load editor ...``) each own a
  few tasks (names ``P<n>-<k>``) and, until their deadline, add, edit (description),
  enable, disable and delete them through the CLI: editor 0 starts a real
  ``manage_tasks.py`` process per edit, the others call the same click commands in a
  loop (many more edits per second). Each keeps the state it expects; a refused edit
  is recorded with its message.
* The daemon (``--log-format json``) runs every enabled task every second, so workers
  write run summaries into tasks.json under the same lock as the editors.
* A reader process parses tasks.json as fast as it can and counts any read that is
  not valid JSON.

Afterwards, with the daemon stopped by SIGTERM (running runs finish):

* no edit lost: the file holds exactly the tasks the editors expect, each with the
  description and enabled flag its editor last gave it, plus the two fixed tasks;
* no summary lost: for every task in the file, ``run_count`` equals the number of
  its runs in the history that update the summary (all but ``skipped``);
* the daemon's view followed: its last event for each task (added, enabled,
  disabled, rescheduled, removed) matches the final file;
* the reader never saw invalid JSON.

``EDITS_SECONDS`` (default 20) sets how long the editors run; docs/reliability.md has
the figures of a 60 s run.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_harness import ROOT, DaemonProcess, Workspace

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("EDITS_SECONDS", "20"))
SEED = int(os.environ.get("EDITS_SEED", "7"))
EDITORS = 3
FIXED = ("Fixed 1", "Fixed 2")
MAX_OWN_TASKS = 2
#: run statuses whose finished line comes with a summary update (skipped ones do not)
COUNTED = ("success", "failed", "timeout", "interrupted")


# --- the processes ---------------------------------------------------------------------------


def editor(number: int, tasks_file: Path, env_file: Path, seconds: float, out: Path) -> None:
    """Edit this editor's own tasks until the deadline; write what it expects to ``out``."""
    from click.testing import CliRunner

    from src.cli.app import cli

    rng = random.Random(SEED * 100 + number)
    base = ["--tasks-file", str(tasks_file), "--env-file", str(env_file)]
    use_process = number == 0
    expected: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    ops: Counter[str] = Counter()
    added = 0
    deadline = time.monotonic() + seconds

    def call(op: str, *args: str) -> bool:
        if use_process:
            done = subprocess.run(
                [sys.executable, str(ROOT / "manage_tasks.py"), *base, *args],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=ROOT,
            )
            code, output = done.returncode, done.stdout + done.stderr
        else:
            result = CliRunner().invoke(cli, [*base, *args])
            code, output = result.exit_code, result.output
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                output += f"\n{type(result.exception).__name__}: {result.exception}"
        ops[op] += 1
        if code != 0:
            failures.append(f"{op} {args[1] if len(args) > 1 else ''}: exit {code}: {output}")
        return code == 0

    while time.monotonic() < deadline:
        if not use_process:  # a breath between edits: leaves the daemon's runs some CPU
            time.sleep(rng.uniform(0.01, 0.08))
        names = sorted(expected)
        roll = rng.random()
        if not names or (len(names) < MAX_OWN_TASKS and roll < 0.25):
            added += 1
            name = f"P{number}-{added}"
            description = f"{name} v0"
            enabled = rng.random() < 0.7
            args = ["add", "--name", name, "--description", description, "--to", "x@example.com"]
            args += ["--query", "SELECT * FROM sales", "--every", "1s", "--csv", "--no-xlsx"]
            if call("add", *args, *([] if enabled else ["--disabled"])):
                expected[name] = {"description": description, "enabled": enabled}
            continue
        name = rng.choice(names)
        task = expected[name]
        if roll < 0.6:
            version = int(task["description"].rsplit("v", 1)[1]) + 1
            description = f"{name} v{version}"
            if call("edit", "edit", name, "--description", description):
                task["description"] = description
        elif roll < 0.9:
            verb = "disable" if task["enabled"] else "enable"
            if call(verb, verb, name):
                task["enabled"] = not task["enabled"]
        elif call("delete", "delete", name, "--yes"):
            del expected[name]
    out.write_text(
        json.dumps({"expected": expected, "failures": failures, "ops": dict(ops)}),
        encoding="utf-8",
    )


def reader(tasks_file: Path, stop_file: Path, out: Path) -> None:
    """Parse tasks.json until ``stop_file`` appears; count reads and invalid ones."""
    reads = 0
    invalid: list[str] = []
    while not stop_file.exists():
        raw = tasks_file.read_bytes()
        reads += 1
        try:
            json.loads(raw)
        except ValueError as exc:
            invalid.append(f"{exc}: {raw[:200]!r}")
    out.write_text(json.dumps({"reads": reads, "invalid": invalid}), encoding="utf-8")


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.campaigns.test_edits_under_load", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


# --- the test --------------------------------------------------------------------------------


def _daemon_view(daemon: DaemonProcess) -> dict[str, str]:
    """Per task id, what the daemon's last event says: enabled, disabled or removed."""
    view: dict[str, str] = {}
    for line in list(daemon.lines):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind, task_id = event.get("event"), event.get("task_id")
        if not task_id:
            continue
        if kind in ("scheduled", "added", "enabled", "rescheduled"):
            disabled = "(disabled)" in event["message"] or event.get("enabled") is False
            view[task_id] = "disabled" if disabled else "enabled"
        elif kind == "disabled":
            view[task_id] = "disabled"
        elif kind == "removed":
            view[task_id] = "removed"
    return view


def test_concurrent_cli_edits_while_the_daemon_runs_lose_nothing(tmp_path: Path) -> None:
    space = Workspace(tmp_path)
    space.write_env(MAX_CONCURRENT_RUNS="2")
    for name in FIXED:
        space.add(name, "--query", "SELECT * FROM sales", "--every", "1s")
    daemon = space.start("--log-format", "json")
    processes: list[subprocess.Popen[str]] = []
    stop_file = tmp_path / "stop-reader"
    try:
        daemon.wait_until(lambda: "Scheduler is running" in daemon.output, "the daemon to run")
        processes.append(
            _spawn("reader", str(space.tasks_file), str(stop_file), str(tmp_path / "reader.json"))
        )
        for number in range(EDITORS):
            processes.append(
                _spawn(
                    "editor",
                    str(number),
                    str(space.tasks_file),
                    str(space.env_file),
                    str(SECONDS),
                    str(tmp_path / f"editor{number}.json"),
                )
            )
        for process in processes[1:]:
            out, _ = process.communicate(timeout=SECONDS + 300)
            assert process.returncode == 0, out
        stop_file.touch()
        out, _ = processes[0].communicate(timeout=60)
        assert processes[0].returncode == 0, out

        expected: dict[str, dict[str, Any]] = {}
        failures: list[str] = []
        ops: Counter[str] = Counter()
        by_editor: list[int] = []
        for number in range(EDITORS):
            result = json.loads((tmp_path / f"editor{number}.json").read_text(encoding="utf-8"))
            expected.update(result["expected"])
            failures += result["failures"]
            ops.update(result["ops"])
            by_editor.append(sum(result["ops"].values()))
        assert failures == []

        # the daemon follows the final file (poll every 0.5 s; generous guard)
        def daemon_follows() -> bool:
            view = _daemon_view(daemon)
            tasks = space.document()["tasks"]
            return all(
                view.get(t["id"]) == ("enabled" if t["enabled"] else "disabled") for t in tasks
            ) and sum(state != "removed" for state in view.values()) == len(tasks)

        daemon.wait_until(daemon_follows, "the daemon's jobs to match tasks.json")
        assert daemon.stop() == 0
    finally:
        stop_file.touch()
        for process in processes:
            if process.poll() is None:
                process.kill()
        if daemon.process.poll() is None:
            daemon.kill()

    reads = json.loads((tmp_path / "reader.json").read_text(encoding="utf-8"))
    assert reads["invalid"] == [] and reads["reads"] > 0

    tasks = {t["name"]: t for t in space.document()["tasks"]}
    assert set(tasks) == set(expected) | set(FIXED)
    for name, want in expected.items():
        got = {"description": tasks[name].get("description"), "enabled": tasks[name]["enabled"]}
        assert got == want, name

    counted = Counter(r.task_id for r in space.runs() if r.status in COUNTED)
    lost = {
        name: (task.get("run_count", 0), counted[task["id"]])
        for name, task in tasks.items()
        if task.get("run_count", 0) != counted[task["id"]]
    }
    assert lost == {}, "run_count in tasks.json vs runs in the history"
    assert "reload-failed" not in daemon.output

    statuses = Counter(r.status for r in space.runs())
    print(
        f"\nedits under load: {SECONDS:g} s, {sum(ops.values())} edits {dict(ops)} by "
        f"{EDITORS} processes {by_editor} (the first starting manage_tasks.py per edit), "
        "0 lost, 0 refused; "
        f"runs {dict(statuses)}; summaries checked on {len(tasks)} tasks "
        f"({sum(counted[t['id']] for t in tasks.values())} runs); reader parsed the file "
        f"{reads['reads']} times, 0 invalid"
    )


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "editor":
        editor(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]), float(sys.argv[5]),
               Path(sys.argv[6]))  # fmt: skip
    elif role == "reader":
        reader(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        raise SystemExit(f"unknown role {role!r}: editor or reader")
