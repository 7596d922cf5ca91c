"""Tasks with steps, run by the real runner: SQLite, real programs, the outbox.

Covers the package through ``Runner.run``: src/services/steps/sequence.py (order,
on_failure, retries, timeouts, dry run, bound results), src/services/steps/results.py
(the step records and template values), src/services/steps/programs.py (argument lists,
the shell's quoting, PowerShell) and src/services/steps/environment.py (no secrets).
The email of a step reaches a real SMTP server in tests/campaigns/test_steps_daemon.py.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from src.core.task import Task
from src.services.query import QueryService
from src.services.runner import Runner, RunOutcome
from src.services.settings import Settings
from src.services.steps.environment import is_product_secret
from src.services.steps.programs import powershell_program
from src.services.task_store import TaskStore

WHEN = datetime(2026, 11, 23, 8, tzinfo=UTC)

SUMMARIZE = """
import csv, os, sys
source, target = sys.argv[1], sys.argv[2]
rows = list(csv.reader(open(source, encoding="utf-8-sig")))[1:]
with open(target, "w") as handle:
    handle.write(f"{len(rows)} lines deleted\\n")
print("env:", os.environ.get("DATABASE_URL"), os.environ.get("SMTP_PASSWORD"),
      os.environ.get("API_TOKEN"), os.environ.get("DB_SALES_URL"), os.environ.get("GREETING"))
print("summarized", len(rows))
"""


class Space:
    def __init__(self, folder: Path, steps: list[dict[str, Any]], **task: Any) -> None:
        self.folder = folder
        self.db = folder / "app.db"
        with sqlite3.connect(self.db) as conn:
            conn.execute("CREATE TABLE logs (id INTEGER, msg TEXT, at TEXT)")
            conn.executemany(
                "INSERT INTO logs VALUES (?, ?, ?)",
                [(1, "old", "2020-01-01"), (2, "older", "2019-05-05"), (3, "new", "2099-01-01")],
            )
        (folder / "summarize.py").write_text(SUMMARIZE)
        self.env = {
            "DATABASE_URL": f"sqlite:///{self.db}",
            "DB_SALES_URL": f"sqlite:///{self.db}",
        }
        document = {
            "id": "t-steps",
            "name": "Nightly",
            "schedule": None,
            "timezone": "UTC",
            "timeout_seconds": 60,
            "steps": steps,
            **task,
        }
        self.store = TaskStore(folder / "tasks.json")
        self.store.path.write_text(json.dumps({"version": 2, "tasks": [document]}))
        self.settings = Settings.from_env(self.env, folder)
        self.query = QueryService(self.env)
        self.sleeps: list[float] = []
        self.runner = Runner(
            self.store, self.settings, self.query, sleep=self.sleeps.append, env=self.env
        )

    def run(self, dry_run: bool = False) -> RunOutcome:
        task: Task = self.store.load().tasks[0]
        return self.runner.run(task, scheduled_for=WHEN, dry_run=dry_run)

    def record(self) -> dict[str, Any]:
        (record,) = self.runner.history.runs()
        return record.to_json()

    def steps(self) -> dict[str, dict[str, Any]]:
        return {step["id"]: step for step in self.record()["step_results"]}

    def outbox(self) -> list[Path]:
        return sorted(self.settings.smtp.outbox_dir.glob("*.eml"))


@pytest.fixture
def space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # the product's secrets in the run's own environment, as systemd's EnvironmentFile puts them
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:hunter2@db/x")
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2")
    monkeypatch.setenv("API_TOKEN", "tok-hunter2")
    made: list[Space] = []

    def make(steps: list[dict[str, Any]], **task: Any) -> Space:
        made.append(Space(tmp_path, steps, **task))
        return made[-1]

    yield make
    for item in made:
        item.query.close()


CLEANUP = {
    "id": "cleanup",
    "kind": "sql",
    "query": "DELETE FROM logs WHERE at < '2021-01-01' RETURNING id, msg",
    "read_only": False,
    "exports": {"csv": True},
}
SCRIPT = {
    "id": "script",
    "kind": "python",
    "script": "summarize.py",
    "args": ["{steps.cleanup.files}", "{step_dir}/summary.txt"],
    "env": {"GREETING": "hello {task_name}"},
    "pass_env": ["DB_SALES_URL"],
}
MAIL = {
    "id": "mail",
    "kind": "email",
    "attach": ["cleanup", "script"],
    "to": ["ops@example.com"],
    "subject": "{steps.cleanup.row_count} deleted, script said {steps.script.last_line}",
    "body": "Output:\n{steps.script.output}",
}


def test_three_steps_run_in_order_and_the_email_attaches_both_files(space) -> None:
    s = space([CLEANUP, SCRIPT, MAIL])
    outcome = s.run()
    assert outcome.ok, outcome.error
    steps = s.steps()
    assert [step["status"] for step in steps.values()] == ["success"] * 3
    assert steps["cleanup"]["rows"] == 2
    assert steps["script"]["exit_code"] == 0
    summary = Path(steps["script"]["files"][0]["path"])
    assert summary.name == "summary.txt" and summary.read_text() == "2 lines deleted\n"
    # the product's secrets stay out unless named; pass_env and env come in
    db_sales = s.env["DB_SALES_URL"]
    assert steps["script"]["stdout_tail"][0] == f"env: None None None {db_sales} hello Nightly"
    assert steps["script"]["max_rss_bytes"] > 0 and "wait4" in steps["script"]["usage_of"]
    (eml,) = s.outbox()
    message = message_from_bytes(eml.read_bytes(), policy=default_policy)
    assert message["Subject"] == "2 deleted, script said summarized 2"
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Output:\nenv: None None None" in body
    names = sorted(part.get_filename() for part in message.iter_attachments())
    assert names == ["Nightly_2026-11-23.csv", "summary.txt"]
    record = s.record()
    assert record["steps"][:3] == ["started", "step_started", "step"]
    assert "emailing" in record["steps"] and record["status"] == "success"
    with sqlite3.connect(s.db) as conn:
        assert conn.execute("SELECT count(*) FROM logs").fetchone() == (1,)


def test_on_failure_stop_skips_the_rest_and_the_run_fails(space) -> None:
    fail = {
        "id": "fail",
        "kind": "command",
        "command": [
            sys.executable,
            "-c",
            "import sys; print('boom', file=sys.stderr); sys.exit(3)",
        ],
    }
    s = space(
        [
            fail,
            {**SCRIPT, "args": ["x", "y"]},
            {**MAIL, "attach": ["script"], "subject": "s", "body": "b"},
        ]
    )
    outcome = s.run()
    assert not outcome.ok and outcome.error is not None
    assert str(outcome.error) == "step 'fail' ended with exit code 3 (accepted: 0): boom"
    steps = s.steps()
    assert steps["fail"]["status"] == "failed" and steps["fail"]["stderr_tail"] == ["boom"]
    assert steps["script"]["status"] == "skipped"
    assert steps["script"]["reason"] == "not run: step 'fail' failed and its on_failure is stop"
    assert steps["mail"]["status"] == "skipped" and s.outbox() == []
    assert s.record()["status"] == "failed" and s.record()["error"]["type"] == "step"


def test_on_failure_continue_runs_the_rest_and_the_run_still_fails(space) -> None:
    fail = {
        "id": "fail",
        "kind": "command",
        "command": ["false"],
        "on_failure": "continue",
    }
    s = space(
        [fail, {**MAIL, "attach": ["fail"], "subject": "fail: {steps.fail.exit_code}", "body": "b"}]
    )
    outcome = s.run()
    assert not outcome.ok
    assert [step["status"] for step in s.steps().values()] == ["failed", "success"]
    (eml,) = s.outbox()
    assert message_from_bytes(eml.read_bytes(), policy=default_policy)["Subject"] == "fail: 1"


def test_accepted_exit_codes_and_a_retry_that_succeeds(space, tmp_path: Path) -> None:
    flaky = (
        "import pathlib, sys\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "n = int(p.read_text()) if p.exists() else 0\n"
        "p.write_text(str(n + 1))\n"
        "sys.exit(0 if n else 5)"
    )
    steps = [
        {"id": "three", "kind": "command", "command": ["sh", "-c", "exit 3"], "exit_codes": [0, 3]},
        {
            "id": "flaky",
            "kind": "command",
            "command": [sys.executable, "-c", flaky, str(tmp_path / "count")],
            "retry": {"max_retries": 2, "delay_seconds": 7},
        },
    ]
    s = space(steps)
    assert s.run().ok
    done = s.steps()
    assert done["three"]["exit_code"] == 3 and done["three"]["status"] == "success"
    assert done["flaky"]["attempts"] == 2 and s.sleeps == [7.0]
    assert "attempt 1 failed" in done["flaky"]["notes"][0]


def test_a_shell_command_quotes_what_it_is_given(space, tmp_path: Path) -> None:
    hostile = {"id": "say", "kind": "command", "command": ["echo", "x; touch pwned"]}
    shell = {
        "id": "sh",
        "kind": "command",
        "shell": True,
        "command": "echo {steps.say.output} > {step_dir}/said.txt",
        "cwd": str(tmp_path),
    }
    s = space([hostile, shell])
    assert s.run().ok
    assert not (tmp_path / "pwned").exists()
    (said,) = s.steps()["sh"]["files"]
    assert Path(said["path"]).read_text() == "x; touch pwned\n"


def test_a_step_timeout_stops_the_step_not_the_whole_budget(space) -> None:
    slow = {
        "id": "slow",
        "kind": "command",
        "command": ["sleep", "30"],
        "timeout_seconds": 1,
        "on_failure": "continue",
    }
    after = {"id": "after", "kind": "command", "command": ["true"]}
    s = space([slow, after])
    outcome = s.run()
    steps = s.steps()
    assert steps["slow"]["status"] == "timeout" and steps["after"]["status"] == "success"
    assert steps["slow"]["duration_seconds"] < 10
    assert outcome.status == "failed"  # a step's own timeout; the run's time was not up
    assert "took longer than 1 s" in str(outcome.error)


def test_a_result_is_bound_as_a_query_parameter(space) -> None:
    clean = {
        "id": "clean",
        "kind": "sql",
        "query": "DELETE FROM logs WHERE id = 3",
        "read_only": False,
    }
    check = {
        "id": "check",
        "kind": "sql",
        "query": "SELECT :n AS deleted, :what AS what",
        "params": {"n": "{steps.clean.rows_affected}", "what": "{literal}"},
        "exports": {"csv": True},
    }
    s = space([clean, check])
    assert s.run().ok
    steps = s.steps()
    assert steps["clean"]["rows_affected"] == 1
    (exported,) = steps["check"]["files"]
    assert Path(exported["path"]).read_text(encoding="utf-8-sig").splitlines()[1] == "1,{literal}"


def test_a_cleanup_statement_needs_read_only_false(space) -> None:
    s = space([{"id": "clean", "kind": "sql", "query": "DELETE FROM logs"}])
    outcome = s.run()
    assert not outcome.ok and "read" in str(outcome.error).lower()
    with sqlite3.connect(s.db) as conn:
        assert conn.execute("SELECT count(*) FROM logs").fetchone() == (3,)


def test_a_dry_run_runs_no_program_and_no_writing_statement(space, tmp_path: Path) -> None:
    touch = {"id": "touch", "kind": "command", "command": ["touch", str(tmp_path / "ran")]}
    s = space([CLEANUP, touch, {**MAIL, "attach": ["cleanup"], "subject": "dry", "body": "b"}])
    outcome = s.run(dry_run=True)
    assert outcome.ok
    assert not (tmp_path / "ran").exists() and s.outbox() == []
    assert [r.reason for r in outcome.step_results][:2] == [
        "dry run: a statement that may change data (read_only: false) is not run",
        "dry run: programs are not run",
    ]
    with sqlite3.connect(s.db) as conn:
        assert conn.execute("SELECT count(*) FROM logs").fetchone() == (3,)


@pytest.mark.skipif(powershell_program() is not None, reason="pwsh is installed here")
def test_without_pwsh_a_powershell_step_fails_with_that_reason(space) -> None:
    s = space([{"id": "ps", "kind": "powershell", "inline": "Write-Output 'hi'"}])
    outcome = s.run()
    assert not outcome.ok
    assert "PowerShell is not installed: no 'pwsh' on PATH" in str(outcome.error)
    assert s.steps()["ps"]["status"] == "failed"


def test_a_real_pwsh_runs_an_inline_script(space) -> None:
    if powershell_program() is None:
        pytest.skip(
            "pwsh (PowerShell 7) is not installed: Microsoft's package repository "
            "(packages.microsoft.com) is not reachable from this machine; see docs/steps.md"
        )
    s = space(
        [
            {
                "id": "ps",
                "kind": "powershell",
                "inline": 'Write-Output "hi $($args[0])"',
                "args": ["there"],
            }
        ]
    )
    assert s.run().ok
    assert s.steps()["ps"]["stdout_tail"] == ["hi there"]


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DATABASE_URL", True),
        ("DB_SALES_URL", True),
        ("SMTP_PASSWORD", True),
        ("WEBHOOK_TOKEN", True),
        ("GITHUB_TOKEN", True),
        ("AWS_SECRET", True),
        ("PATH", False),
        ("LANG", False),
        ("DB_SCHEDULER_RUN_ID", False),
    ],
)
def test_which_variables_are_the_products_secrets(name: str, secret: bool) -> None:
    assert is_product_secret(name) is secret
