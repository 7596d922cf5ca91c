"""What one step of a run did: its record, and what later steps can read of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from src.core import defaults
from src.core.clock import to_utc_iso
from src.core.errors import RunError
from src.core.steps import Step, step_reference
from src.core.vocabulary import StepResultField, StepStatus
from src.services.export import ExportFile
from src.services.recorder import file_json

if TYPE_CHECKING:
    from src.services.runner import RunOutcome

#: Where a step's CPU and memory figures come from.
OWN_PROCESSES = "the step's processes (wait4)"
RUN_PROCESS = "the run's process (the step runs inside it)"


@dataclass
class StepResult:
    step: Step
    status: StepStatus = StepStatus.SKIPPED
    started_at: datetime | None = None
    ended_at: datetime | None = None
    attempts: int = 0
    exit_code: int | None = None
    rows: int | None = None
    rows_affected: int | None = None
    files: list[ExportFile] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    output_bytes: int = 0
    output_dropped_bytes: int = 0
    cpu_user_seconds: float | None = None
    cpu_system_seconds: float | None = None
    max_rss_bytes: int | None = None
    usage_of: str | None = None
    leftovers: int = 0
    error: RunError | None = None
    #: why a skipped step did not run
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    #: an sql step's own outcome (columns, preview, layout) for an email that attaches it
    report: RunOutcome | None = None

    @property
    def failed(self) -> bool:
        return self.status in (StepStatus.FAILED, StepStatus.TIMEOUT)

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def output(self) -> list[str]:
        """The last lines printed: stdout's, or stderr's when stdout was silent."""
        return self.stdout or self.stderr

    def template_values(self) -> dict[str, Any]:
        """``steps.<id>.<field>`` -> value, for the templates and parameters of later steps;
        a figure the step does not have is empty text (bound as NULL)."""
        duration = self.duration
        values: dict[StepResultField, Any] = {
            StepResultField.STATUS: str(self.status),
            StepResultField.ROW_COUNT: self.rows,
            StepResultField.ROWS_AFFECTED: self.rows_affected,
            StepResultField.FILES: ", ".join(str(f.path) for f in self.files),
            StepResultField.EXIT_CODE: self.exit_code,
            StepResultField.OUTPUT: "\n".join(self.output[-defaults.STEP_OUTPUT_LINES :]),
            StepResultField.LAST_LINE: self.output[-1] if self.output else "",
            StepResultField.DURATION: round(duration, 3) if duration is not None else None,
        }
        return {step_reference(self.step.id, str(key)): value for key, value in values.items()}

    def to_json(self) -> dict[str, Any]:
        """The step as its run record keeps it (``step_results`` of the run)."""
        duration = self.duration
        out: dict[str, Any] = {
            "id": self.step.id,
            "name": self.step.name,
            "kind": str(self.step.kind),
            "status": str(self.status),
            "started_at": to_utc_iso(self.started_at) if self.started_at else None,
            "ended_at": to_utc_iso(self.ended_at) if self.ended_at else None,
            "duration_seconds": round(duration, 3) if duration is not None else None,
            "attempts": self.attempts or None,
            "exit_code": self.exit_code,
            "rows": self.rows,
            "rows_affected": self.rows_affected,
            "files": [file_json(f) for f in self.files] or None,
            "stdout_tail": self.stdout or None,
            "stderr_tail": self.stderr or None,
            "output_bytes": self.output_bytes or None,
            "output_dropped_bytes": self.output_dropped_bytes or None,
            "cpu_user_seconds": _rounded(self.cpu_user_seconds),
            "cpu_system_seconds": _rounded(self.cpu_system_seconds),
            "max_rss_bytes": self.max_rss_bytes,
            "usage_of": self.usage_of,
            "leftover_processes_killed": self.leftovers or None,
            "error": (
                {
                    "type": self.error.kind,
                    "message": str(self.error),
                    "permanent": self.error.permanent,
                }
                if self.error
                else None
            ),
            "reason": self.reason,
            "notes": self.notes or None,
        }
        return {k: v for k, v in out.items() if v is not None}


def _rounded(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def files_in(folder: Path) -> list[ExportFile]:
    """The regular files a program left in its step folder, as the step's files."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        kind = path.suffix.lstrip(".").lower() or "file"
        found.append(ExportFile(kind, path, path.stat().st_size, 0, 0))
    return found
