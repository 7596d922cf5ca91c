"""The steps of a task: one type per kind, each with its tasks.json form.

A task with ``steps`` runs them in order; a task with ``query`` and no steps is the
one-query report it always was. Every step has an ``id`` (unique in its task, used by
later steps as ``{steps.<id>.<field>}`` and ``attach: [<id>]``), a ``name``, a
``kind``, its own ``timeout_seconds`` (None: the task's), ``retry`` (within the run)
and ``on_failure``. The kinds are read and checked by :mod:`step_reader`; they are run
by ``src/services/steps/``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from src.core import defaults
from src.core.vocabulary import CODE_STEP_KINDS, OnFailure, StepKind, StepResultField

if TYPE_CHECKING:  # task.py imports this module for Task.steps
    from src.core.task import EmailSpec

#: A step id: a word (letters, digits, ``_``, ``-``), as it is written in templates.
STEP_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
#: A reference to an earlier step's result in a template: ``steps.<id>.<field>``.
STEP_REFERENCE = re.compile(r"steps\.([A-Za-z_][A-Za-z0-9_-]{0,63})\.([a-z_]+)")
#: Names a step's texts (arguments, environment, messages) may use besides the run's:
#: ``{step_dir}`` (the folder whose files become the step's files), ``{run_dir}``.
STEP_PLACES = ("step_dir", "run_dir")


def step_reference(step_id: str, result_field: str) -> str:
    return f"steps.{step_id}.{result_field}"


def references_to(step_ids: Sequence[str]) -> tuple[str, ...]:
    """Every ``steps.<id>.<field>`` name the given (earlier) steps offer."""
    return tuple(step_reference(i, f) for i in step_ids for f in StepResultField.values())


@dataclass(frozen=True)
class StepRetry:
    """Tries of a failed step within its run (the task's ``retry`` retries whole runs)."""

    max_retries: int = defaults.STEP_RETRY_MAX
    delay_seconds: float = defaults.STEP_RETRY_DELAY_SECONDS

    def to_dict(self) -> dict[str, Any]:
        return {"max_retries": self.max_retries, "delay_seconds": self.delay_seconds}


@dataclass(frozen=True, kw_only=True)
class Step:
    kind: ClassVar[StepKind]
    id: str
    name: str
    #: None: the task's timeout_seconds (the run's own limit stops every step anyway)
    timeout_seconds: float | None = None
    retry: StepRetry = field(default_factory=StepRetry)
    on_failure: OnFailure = OnFailure.STOP
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def runs_code(self) -> bool:
        """Whether it runs a program on the machine (command, python, powershell)."""
        return self.kind in CODE_STEP_KINDS

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out.update(id=self.id, name=self.name, kind=self.kind.value)
        out.update(self._fields())
        if self.timeout_seconds is not None:
            out["timeout_seconds"] = self.timeout_seconds
        if self.retry != StepRetry():
            out["retry"] = self.retry.to_dict()
        if self.on_failure is not OnFailure.STOP:
            out["on_failure"] = self.on_failure.value
        return out

    def _fields(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True, kw_only=True)
class SqlStep(Step):
    """A query or a statement. With ``exports`` it is a report step (today's query ->
    xlsx/pdf/csv); without, it records the rows returned or affected."""

    kind: ClassVar[StepKind] = StepKind.SQL
    query: str | None = None
    query_file: str | None = None
    #: None: the task's connection
    connection: str | None = None
    #: bound values; one written exactly ``{steps.<id>.<field>}`` is that earlier result
    params: Mapping[str, Any] = field(default_factory=dict)
    #: None: the task's read_only (read-only by default: a cleanup statement says false)
    read_only: bool | None = None
    exports: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def _fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.query_file is not None:
            out["query_file"] = self.query_file
        else:
            out["query"] = self.query
        if self.connection is not None:
            out["connection"] = self.connection
        if self.params:
            out["params"] = dict(self.params)
        if self.read_only is not None:
            out["read_only"] = self.read_only
        if self.exports:
            out["exports"] = {
                fmt: (bool(o["enabled"]) if set(o) == {"enabled"} else dict(o))
                for fmt, o in self.exports.items()
            }
        return out


@dataclass(frozen=True, kw_only=True)
class ProcessStep(Step):
    """What every step that runs a program shares: where, with what environment, and
    which exit codes count as success."""

    cwd: str | None = None
    #: variables added to the program's environment (templates allowed)
    env: Mapping[str, str] = field(default_factory=dict)
    #: the product's own secrets (DATABASE_URL, DB_*_URL, SMTP_PASSWORD, *_TOKEN, ...) the
    #: program may see: none unless named here
    pass_env: tuple[str, ...] = ()
    exit_codes: tuple[int, ...] = defaults.STEP_EXIT_CODES

    def _process_fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.cwd is not None:
            out["cwd"] = self.cwd
        if self.env:
            out["env"] = dict(self.env)
        if self.pass_env:
            out["pass_env"] = list(self.pass_env)
        if self.exit_codes != defaults.STEP_EXIT_CODES:
            out["exit_codes"] = list(self.exit_codes)
        return out


@dataclass(frozen=True, kw_only=True)
class CommandStep(ProcessStep):
    """A program and its arguments, run without a shell; ``shell: true`` runs one string
    by ``/bin/sh -c`` (values put into it are quoted)."""

    kind: ClassVar[StepKind] = StepKind.COMMAND
    command: tuple[str, ...] | str = ()
    shell: bool = False

    def _fields(self) -> dict[str, Any]:
        command = self.command if isinstance(self.command, str) else list(self.command)
        out: dict[str, Any] = {"command": command}
        if self.shell:
            out["shell"] = True
        out.update(self._process_fields())
        return out


@dataclass(frozen=True, kw_only=True)
class PythonStep(ProcessStep):
    kind: ClassVar[StepKind] = StepKind.PYTHON
    script: str = ""
    args: tuple[str, ...] = ()
    #: None: the interpreter db-scheduler runs on
    interpreter: str | None = None

    def _fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"script": self.script}
        if self.args:
            out["args"] = list(self.args)
        if self.interpreter is not None:
            out["interpreter"] = self.interpreter
        out.update(self._process_fields())
        return out


@dataclass(frozen=True, kw_only=True)
class PowerShellStep(ProcessStep):
    """A script file (``script``) or text (``inline``), run by ``pwsh -NoProfile
    -NonInteractive``."""

    kind: ClassVar[StepKind] = StepKind.POWERSHELL
    script: str | None = None
    inline: str | None = None
    args: tuple[str, ...] = ()

    def _fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.script is not None:
            out["script"] = self.script
        if self.inline is not None:
            out["inline"] = self.inline
        if self.args:
            out["args"] = list(self.args)
        out.update(self._process_fields())
        return out


@dataclass(frozen=True, kw_only=True)
class EmailStep(Step):
    """A message with the files of earlier steps (``attach``), by today's templates,
    size policy and ``send_if`` (counted on the rows of the attached sql steps)."""

    kind: ClassVar[StepKind] = StepKind.EMAIL
    attach: tuple[str, ...] = ()
    #: to, cc, bcc, subject, body, send_if: as a task's ``email``
    email: EmailSpec

    def _fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"attach": list(self.attach)}
        out.update(self.email.to_dict())
        return out


STEP_TYPES: dict[StepKind, type[Step]] = {
    StepKind.SQL: SqlStep,
    StepKind.COMMAND: CommandStep,
    StepKind.PYTHON: PythonStep,
    StepKind.POWERSHELL: PowerShellStep,
    StepKind.EMAIL: EmailStep,
}
