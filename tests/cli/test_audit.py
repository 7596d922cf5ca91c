"""`audit [TASK]`: src/cli/audit.py; every CLI change of a task is in the log."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_accounts import run


def test_cli_changes_are_audited_with_before_and_after(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{tmp_path / 'x.db'}\n")
    added = run(
        tmp_path,
        "add",
        "--name",
        "Sales",
        "--query",
        "SELECT 1",
        "--every",
        "1h",
        "--to",
        "a@example.com",
        "--no-check",
    )
    assert added.exit_code == 0, added.output
    assert run(tmp_path, "edit", "Sales", "--to", "b@example.com", "--no-check").exit_code == 0
    assert run(tmp_path, "disable", "Sales").exit_code == 0
    lines = run(tmp_path, "audit", "Sales").output.splitlines()
    created = json.loads(run(tmp_path, "audit", "Sales", "--json").output)[2]["changes"]
    assert created["name"] == {"before": None, "after": "Sales"}
    assert [line.split(": ", 1)[1] for line in lines] == [
        "task.disable 'Sales' (enabled)",
        "task.update 'Sales' (email.to)",
        f"task.create 'Sales' ({', '.join(created)})",
    ]
    entry = json.loads(run(tmp_path, "audit", "--json", "-n", "2").output)[1]
    assert entry["changes"] == {
        "email.to": {"before": ["a@example.com"], "after": ["b@example.com"]}
    }
    assert entry["via"] == "cli" and entry["actor"].startswith("os:")
    assert run(tmp_path, "delete", "Sales", "--yes").exit_code == 0
    assert "task.delete 'Sales'" in run(tmp_path, "audit", "-n", "1").output
