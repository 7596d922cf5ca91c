"""The program line of a command, python or powershell step, from its definition.

Values put into an argument list go in as they are (each is one argument: no shell
reads them); values put into a ``shell: true`` command are quoted for ``/bin/sh`` first,
so an earlier step's output cannot become shell syntax. Relative script paths are
taken from the folder of tasks.json, as ``query_file`` is.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from src.core import defaults
from src.core.errors import RunError
from src.core.steps import CommandStep, PowerShellStep, ProcessStep, PythonStep
from src.core.templating import render

#: Always given to pwsh: no profile of the daemon's user, never a prompt that waits.
PWSH_FLAGS = ("-NoProfile", "-NonInteractive")


def powershell_program() -> str | None:
    """The path of ``pwsh`` (PowerShell 7), or None when it is not installed."""
    return shutil.which(defaults.POWERSHELL)


def pwsh_missing(step_id: str) -> RunError:
    return RunError(
        f"step {step_id!r}: PowerShell is not installed: no {defaults.POWERSHELL!r} on PATH. "
        "Install PowerShell 7 (see docs/steps.md); the step was not run",
        permanent=True,
    )


def _path(text: str, base: Path) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def program_line(
    step: ProcessStep, values: Mapping[str, Any], *, base: Path, scratch: Path
) -> list[str]:
    """The argv of ``step`` with its templates filled from ``values``. ``scratch`` is a
    folder of the run outside the step's own, where an inline PowerShell script is
    written. Raises RunError (pwsh missing), ValidationError (a template)."""
    where = f"steps.{step.id}"
    if isinstance(step, CommandStep):
        if isinstance(step.command, str):
            quoted = {k: shlex.quote(_text(v)) for k, v in values.items()}
            return ["/bin/sh", "-c", render(step.command, quoted, f"{where}.command")]
        return [render(arg, values, f"{where}.command") for arg in step.command]
    args = [render(arg, values, f"{where}.args") for arg in getattr(step, "args", ())]
    if isinstance(step, PythonStep):
        script = _path(render(step.script, values, f"{where}.script"), base)
        return [step.interpreter or sys.executable, str(script), *args]
    if isinstance(step, PowerShellStep):
        pwsh = powershell_program()
        if pwsh is None:
            raise pwsh_missing(step.id)
        if step.inline is not None:
            script = scratch / f"{step.id}.ps1"
            scratch.mkdir(mode=0o700, exist_ok=True)
            script.write_text(step.inline, encoding="utf-8")
        else:
            script = _path(step.script or "", base)
        return [pwsh, *PWSH_FLAGS, "-File", str(script), *args]
    raise TypeError(f"not a program step: {step!r}")  # the step kinds are closed


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def working_folder(
    step: ProcessStep, values: Mapping[str, Any], base: Path, step_dir: Path
) -> Path:
    """``cwd`` (relative: from the folder of tasks.json), or the step's own folder."""
    if step.cwd is None:
        return step_dir
    folder = _path(render(step.cwd, values, f"steps.{step.id}.cwd"), base)
    if not folder.is_dir():
        raise RunError(f"step {step.id!r}: cwd {str(folder)!r} is not a folder", permanent=True)
    return folder


def rendered_env(step: ProcessStep, values: Mapping[str, Any]) -> dict[str, str]:
    return {k: render(v, values, f"steps.{step.id}.env.{k}") for k, v in step.env.items()}
