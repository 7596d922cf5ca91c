"""Start the entry points in the project's environment, whatever started them.

``./manage_tasks.py`` and ``python3 scheduler_daemon.py`` may be started by the system
interpreter, which does not have the packages of requirements.txt. Before anything
third-party is imported, :func:`ensure_project_python` re-executes the script with
``.venv/bin/python`` when there is one; without it, an interpreter that has the packages
(a deploy that ran ``pip install -r requirements.txt``, a CI job) runs the script as is,
and any other one gets a single line saying what to do instead of a traceback.

Standard library only: this module runs before the packages are known to be there.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
# Set for the re-executed process, so a .venv that does not take (a broken symlink,
# a copied folder) can never make the script re-execute itself in a loop.
REEXEC_MARKER = "DB_SCHEDULER_REEXEC"
# Imported by every command; if these are there, requirements.txt was installed.
REQUIRED_MODULES = ("click", "sqlalchemy")
HINT = (
    "{script}: the project's packages are not installed for {python}; "
    "run `make run` (or `make venv`) in {root} first, then run this command again"
)


def _running_in(venv: Path) -> bool:
    try:
        return Path(sys.prefix).resolve() == venv.resolve()
    except OSError:
        return False


def _has_packages(names: Sequence[str]) -> bool:
    return all(importlib.util.find_spec(name) is not None for name in names)


def ensure_project_python(
    argv: Sequence[str] | None = None,
    *,
    venv_python: Path = VENV_PYTHON,
    required: Sequence[str] = REQUIRED_MODULES,
) -> None:
    """Return if this interpreter can run the script; else re-exec it or exit 1 with a hint."""
    args = list(sys.argv if argv is None else argv)
    venv = venv_python.parent.parent
    if _running_in(venv):
        os.environ.pop(REEXEC_MARKER, None)  # not inherited by what this process starts
        return
    if (
        venv_python.exists()
        and os.access(venv_python, os.X_OK)
        and os.environ.get(REEXEC_MARKER) != "1"
    ):
        os.environ[REEXEC_MARKER] = "1"
        script = os.path.abspath(args[0])
        os.execv(venv_python, [str(venv_python), script, *args[1:]])
    if _has_packages(required):
        return
    script = os.path.basename(args[0]) if args else "db-scheduler"
    print(HINT.format(script=script, python=sys.executable, root=ROOT), file=sys.stderr)
    raise SystemExit(1)
