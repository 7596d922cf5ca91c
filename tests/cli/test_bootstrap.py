"""src/cli/bootstrap.py: the entry points started by the system interpreter, for real.

Each test copies the entry points, src/ and the demo tasks into a temporary folder and
starts them with /usr/bin/python3 (Debian's interpreter, without the project's packages)
in an environment holding only PATH and HOME, as a fresh shell would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ROOT

SYSTEM_PYTHON = Path("/usr/bin/python3")
PROJECT_VENV = ROOT / ".venv"


def _system_python_without_packages() -> None:
    if not SYSTEM_PYTHON.exists():
        pytest.skip("no /usr/bin/python3 on this machine")
    probe = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import click"], capture_output=True, env=_fresh_env()
    )
    if probe.returncode == 0:
        pytest.skip("/usr/bin/python3 has click installed: it cannot stand for a bare system")


def _fresh_env() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}


def _copy_project(target: Path, *, with_venv: bool) -> Path:
    for name in ("manage_tasks.py", "scheduler_daemon.py"):
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "src", target / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "examples" / "demo-tasks.json", target / "tasks.json")
    if with_venv:
        if not (PROJECT_VENV / "bin" / "python").exists():
            pytest.skip("the project's .venv is not built")
        (target / ".venv").symlink_to(PROJECT_VENV.resolve())
    return target


def _run(
    folder: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*argv],
        cwd=folder,
        env=env or _fresh_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "start",
    [[str(SYSTEM_PYTHON), "manage_tasks.py"], ["./manage_tasks.py"]],
    ids=["python3", "shebang"],
)
def test_system_python_reexecs_with_the_venv(tmp_path: Path, start: list[str]) -> None:
    _system_python_without_packages()
    folder = _copy_project(tmp_path, with_venv=True)
    helped = _run(folder, *start, "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("Usage: manage_tasks.py")
    listed = _run(folder, *start, "list")
    assert listed.returncode == 0, listed.stderr
    assert "Demo sales" in listed.stdout
    daemon = _run(folder, str(SYSTEM_PYTHON), "scheduler_daemon.py", "--help")
    assert daemon.returncode == 0, daemon.stderr
    assert daemon.stdout.startswith("Usage: scheduler_daemon.py")


@pytest.mark.parametrize("script", ["manage_tasks.py", "scheduler_daemon.py"])
def test_without_venv_one_line_hint_and_exit_1(tmp_path: Path, script: str) -> None:
    _system_python_without_packages()
    folder = _copy_project(tmp_path, with_venv=False)
    result = _run(folder, str(SYSTEM_PYTHON), script, "--help")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr == (
        f"{script}: the project's packages are not installed for /usr/bin/python3; "
        f"run `make run` (or `make venv`) in {folder} first, then run this command again\n"
    )


def test_a_venv_that_does_not_take_gives_the_hint_not_a_loop(tmp_path: Path) -> None:
    """A .venv whose python is not a venv (here: the system one) re-execs once, then stops."""
    _system_python_without_packages()
    folder = _copy_project(tmp_path, with_venv=False)
    (folder / ".venv" / "bin").mkdir(parents=True)
    (folder / ".venv" / "bin" / "python").symlink_to(SYSTEM_PYTHON)
    result = _run(folder, str(SYSTEM_PYTHON), "manage_tasks.py", "list")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "make run" in result.stderr


def test_an_interpreter_with_the_packages_runs_without_a_venv(tmp_path: Path) -> None:
    """A deploy that ran `pip install -r requirements.txt` (docs/deploy.md) has no .venv."""
    folder = _copy_project(tmp_path, with_venv=False)
    result = _run(folder, sys.executable, "manage_tasks.py", "list")
    assert result.returncode == 0, result.stderr
    assert "Demo sales" in result.stdout
