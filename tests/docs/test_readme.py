"""The README's examples run, as written, against the bundled demo database."""

from __future__ import annotations

import email
import os
import re
import shlex
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.fixtures.demo_project import demo_project, manage_tasks
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


def _project_copy(target: Path) -> Path:
    """What a clone holds that `make once` and the README's commands use; .venv shared."""
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("the project's .venv is not built")
    for name in (
        "manage_tasks.py",
        "scheduler_daemon.py",
        "Makefile",
        "requirements.txt",
        "requirements-dev.txt",
    ):
        shutil.copy2(ROOT / name, target / name)
    for folder in ("src", "scripts", "examples"):
        shutil.copytree(
            ROOT / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    (target / ".venv").symlink_to((ROOT / ".venv").resolve())
    return target


def _fresh_shell_env() -> dict[str, str]:
    """A new login's environment: no venv activated, none of the project's settings."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}


def test_quick_tour_runs_as_written_after_the_set_up(tmp_path):
    """The set-up (`make once`: `make run`'s steps without the endless daemon), then each
    Quick tour line through a shell, exactly as printed, in a shell that activated nothing."""
    folder = _project_copy(tmp_path)
    env = _fresh_shell_env()
    # `-o venv`: the copy's .venv is the suite's own, shared; building it again could
    # reinstall into it for another branch's requirements (scripts/ensure-venv.sh's stamp).
    setup = subprocess.run(
        ["make", "-o", "venv", "once"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "Created tasks.json from examples/demo-tasks.json" in setup.stdout
    commands = readme_commands()
    assert len(commands) >= 8
    outputs = {}
    for command in commands:
        assert command.startswith("./manage_tasks.py "), command
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        outputs[shlex.split(command)[1]] = result.stdout
    assert "success" in outputs["run"]
    assert "message written to" in outputs["run"]
    assert list((folder / "data" / "outbox").glob("*.eml"))
    assert "Deleted task 'Weekly revenue'" in outputs["delete"]


def test_make_tasks_starts_an_untracked_tasks_json_once(tmp_path):
    """The demo's state never lands in a tracked file: tasks.json is git-ignored, made from
    examples/demo-tasks.json on first use (not other-readable) and never overwritten."""
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "tasks.json"], cwd=ROOT, capture_output=True
    )
    assert ignored.returncode == 0, "tasks.json must be git-ignored"
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", "tasks.json"], cwd=ROOT, capture_output=True
    )
    assert tracked.returncode != 0, "tasks.json must not be tracked"
    folder = _project_copy(tmp_path)
    env = _fresh_shell_env()
    first = subprocess.run(["make", "tasks"], cwd=folder, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    made = folder / "tasks.json"
    assert made.read_bytes() == (ROOT / "examples" / "demo-tasks.json").read_bytes()
    assert made.stat().st_mode & 0o777 == 0o640
    made.write_text('{"version": 1, "tasks": []}')
    again = subprocess.run(["make", "tasks"], cwd=folder, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout == ""
    assert made.read_text() == '{"version": 1, "tasks": []}'


def test_the_bundled_demo_task_runs_on_the_demo_database(tmp_path):
    """What `make run` runs: examples/demo-tasks.json (copied to tasks.json) on
    data/demo.db, mail to the outbox."""
    demo_project(tmp_path)
    result = manage_tasks(tmp_path, "run", "Demo sales")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = int(re.search(r"^Rows: (\d+)$", result.stdout, re.M).group(1))
    assert rows > 0  # the demo data covers "yesterday" for a year after it is built
    assert len(list((tmp_path / "data" / "exports").rglob("*.*"))) == 3  # xlsx, pdf, csv
    (eml,) = (tmp_path / "data" / "outbox").glob("*.eml")
    # a finished report: labels, euro amounts, a total and the chart, in every output
    message = email.message_from_bytes(eml.read_bytes())
    assert "image/png" in [part.get_content_type() for part in message.walk()]
    (xlsx,) = (tmp_path / "data" / "exports").rglob("*.xlsx")
    assert "xl/charts/chart1.xml" in zipfile.ZipFile(xlsx).namelist()
    (pdf,) = (tmp_path / "data" / "exports").rglob("*.pdf")
    text = PdfReader(pdf).pages[0].extract_text()
    assert "Revenue by region" in text and "Unpaid orders" in text and "Total" in text
    assert re.search(r"€\d[\d,]*\.\d\d", text)
