"""manage_tasks.py with tasks that have steps: run, history and show print the steps;
show gives the success rate and durations; validate lists what runs programs and flags
a PowerShell step without pwsh."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from src.services.steps.programs import powershell_program
from tests.cli.test_cli_run import invoke

STEPS: list[dict[str, Any]] = [
    {"id": "count", "kind": "sql", "query": "SELECT id FROM sales"},
    {
        "id": "echo",
        "kind": "command",
        "command": [sys.executable, "-c", "print('rows: {steps.count.row_count}')"],
    },
    {"id": "mail", "kind": "email", "attach": ["echo"], "to": ["ops@example.com"]},
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("CREATE TABLE sales (id INTEGER)")
        conn.executemany("INSERT INTO sales VALUES (?)", [(i,) for i in range(3)])
    tasks = [
        {"id": "t-one", "name": "Steps", "schedule": None, "steps": STEPS},
        {
            "id": "t-ps",
            "name": "Windows job",
            "schedule": None,
            "steps": [{"id": "ps", "kind": "powershell", "script": "job.ps1"}],
        },
    ]
    (tmp_path / "tasks.json").write_text(json.dumps({"version": 2, "tasks": tasks}))
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{tmp_path / 'app.db'}\n")
    return tmp_path


def _invoke(folder: Path, *args: str) -> Any:
    return invoke(folder, *args, env={"DATABASE_URL": f"sqlite:///{folder / 'app.db'}"})


def test_run_history_and_show_print_the_steps(folder: Path) -> None:
    result = _invoke(folder, "run", "Steps")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].startswith("Step count (sql): success, ") and lines[1].endswith(", 3 rows")
    assert lines[2].startswith("Step echo (command): success, ") and "exit 0" in lines[2]
    assert lines[3].startswith("Step mail (email): success")
    history = _invoke(folder, "history").stdout.splitlines()
    assert history[2].startswith("Steps of run ")
    assert history[3].startswith("  count (sql): success, ")
    assert history[4].startswith("  echo (command): success, ") and "peak " in history[4]
    (record,) = json.loads(_invoke(folder, "history", "--json").stdout)
    assert record["step_results"][1]["stdout_tail"] == ["rows: 3"]
    shown = _invoke(folder, "show", "Steps").stdout
    assert "Steps:        3, in this order" in shown
    assert "  echo (command): echo" in shown
    assert "History:      1 of 1 runs succeeded (100%); duration median " in shown
    data = json.loads(_invoke(folder, "show", "Steps", "--json").stdout)
    assert data["stats"]["runs"] == 1 and data["stats"]["success_rate"] == 1.0
    assert [step["id"] for step in data["steps"]] == ["count", "echo", "mail"]


def test_validate_lists_what_runs_programs_and_flags_missing_pwsh(folder: Path) -> None:
    result = _invoke(folder, "validate", "--no-check")
    assert (
        "Runs programs on this machine: 'Steps' (command step 'echo'); "
        "'Windows job' (powershell step 'ps')"
    ) in result.stdout
    assert "Warning: task 'Windows job': steps[0] (ps): 'job.ps1' does not exist" in result.stderr
    if powershell_program() is None:
        assert result.exit_code == 1
        assert (
            "Error: task 'Windows job': step 'ps': PowerShell is not installed: no 'pwsh' on PATH"
        ) in result.stderr


def test_validate_warns_when_others_may_write_a_file_that_runs_programs(folder: Path) -> None:
    (folder / "tasks.json").chmod(0o664)
    result = _invoke(folder, "validate", "--no-check")
    assert (
        f"Warning: {folder / 'tasks.json'} holds steps that run programs and its group may write "
        "it (mode 664): whoever writes it runs programs as the daemon's user; chmod 600 "
    ) in result.stderr
    (folder / "tasks.json").chmod(0o600)
    assert "may write it" not in _invoke(folder, "validate", "--no-check").stderr
