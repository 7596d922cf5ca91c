"""The README's examples run, as written, against the bundled demo database."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from datetime import date

from src.services.demo import build_demo_database
from tests.servers import ROOT


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    tour = text.split("## Quick tour", 1)[1]
    block = re.search(r"```sh\n(.*?)```", tour, re.S)
    assert block, "README's Quick tour must hold a sh block"
    joined = block.group(1).replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip()]


def test_readme_set_up_names_make_run_and_make_test():
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set-up", 1)[1].split("##", 1)[0]
    commands = [
        line.split("#")[0].strip() for line in setup.splitlines() if line.startswith("make")
    ]
    assert commands == ["make run", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_quick_tour_runs(tmp_path):
    build_demo_database(tmp_path / "data" / "demo.db", date.today())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "SMTP_"))}
    env.pop("DATABASE_URL", None)
    env.pop("TASKS_FILE", None)
    commands = readme_commands()
    assert len(commands) >= 8
    outputs = {}
    for command in commands:
        argv = shlex.split(command)
        assert argv[:2] == ["python", "manage_tasks.py"], command
        argv = [sys.executable, str(ROOT / "manage_tasks.py"), *argv[2:]]
        result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        outputs[argv[2]] = result.stdout
    assert "success" in outputs["run"]
    assert "message written to" in outputs["run"]
    assert list((tmp_path / "data" / "outbox").glob("*.eml"))
    assert "Deleted task 'Weekly revenue'" in outputs["delete"]


def test_the_bundled_demo_task_runs_on_the_demo_database(tmp_path):
    """What `make run` runs: the repository's tasks.json on data/demo.db, mail to the outbox."""
    build_demo_database(tmp_path / "data" / "demo.db", date.today())
    (tmp_path / "tasks.json").write_bytes((ROOT / "tasks.json").read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "SMTP_"))}
    for key in ("DATABASE_URL", "TASKS_FILE", "DATA_DIR", "OUTBOX_DIR"):
        env.pop(key, None)
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage_tasks.py"), "run", "Demo sales"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = int(re.search(r"^Rows: (\d+)$", result.stdout, re.M).group(1))
    assert rows > 0  # the demo data covers "yesterday" for a year after it is built
    assert len(list((tmp_path / "data" / "exports").rglob("*.*"))) == 3  # xlsx, pdf, csv
    assert len(list((tmp_path / "data" / "outbox").glob("*.eml"))) == 1
