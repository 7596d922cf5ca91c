"""One run of a task with steps: each step in order, each recorded as it ends.

The runner hands a task with ``steps`` here (``Runner.run``); this runs them with the
runner's own parts -- an sql step is the runner's query-and-export on a task made of
the step, an email step the runner's email (the "emailing" record before the send: a
message that may have gone out is never sent again) -- and writes each step's record
through the run's :class:`~src.services.recorder.RunRecorder`.

Order and failure: a step that fails with ``on_failure: stop`` (the default) leaves the
later steps ``skipped``; with ``continue`` they run. Either way the run ends failed,
with the first failure's error. The task's ``timeout_seconds`` is the whole run's: a
step gets what is left of it at most. A dry run runs only what cannot change anything
(read-only sql steps) and builds, never sends, the messages.
"""

from __future__ import annotations

import resource
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from src.core import defaults
from src.core.errors import ConfigError, QueryTimeout, RunError, StepError, ValidationError
from src.core.steps import STEP_REFERENCE, EmailStep, ProcessStep, SqlStep, Step
from src.core.task import Task
from src.core.vocabulary import OnFailure, RunStatus, StepStatus
from src.services.export.files import run_folder
from src.services.permissions import make_private_dir
from src.services.recorder import RunRecorder, RunRef
from src.services.steps.environment import step_environment
from src.services.steps.process import run_program
from src.services.steps.programs import program_line, rendered_env, working_folder
from src.services.steps.results import OWN_PROCESSES, RUN_PROCESS, StepResult, files_in

if TYPE_CHECKING:
    from src.services.runner import Runner, RunOutcome


class StepSequence:
    def __init__(
        self,
        runner: Runner,
        task: Task,
        ref: RunRef,
        outcome: RunOutcome,
        recorder: RunRecorder | None,
        inherited_env: dict[str, str],
    ) -> None:
        self.runner = runner
        self.task = task
        self.ref = ref
        self.outcome = outcome
        self.recorder = recorder
        self.inherited_env = inherited_env
        self.clock: Callable[[], datetime] = runner.clock
        self.results: list[StepResult] = []
        self.values: dict[str, Any] = {}

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> list[StepResult]:
        task, ref, settings = self.task, self.ref, self.runner.settings
        run_dir = run_folder(settings.exports_dir, task.name, ref.run_id, ref.scheduled_for)
        self.values = self.runner._template_values(task, ref.run_id, ref.scheduled_for)
        self.values["run_dir"] = str(run_dir)
        stopped_by: StepResult | None = None
        for step in task.steps:
            result = StepResult(step)
            self.results.append(result)
            if stopped_by is not None:
                result.reason = (
                    f"not run: step {stopped_by.step.id!r} {stopped_by.status} and its "
                    "on_failure is stop"
                )
            else:
                self._run_step(step, result, run_dir)
            self._record(result)
            self.values.update(result.template_values())
            if result.failed and step.on_failure is OnFailure.STOP and stopped_by is None:
                stopped_by = result
        self._sum_up()
        return self.results

    def _remaining(self) -> float:
        spent = (self.clock() - self.outcome.started_at).total_seconds()
        return float(self.task.timeout_seconds) - spent

    def _run_step(self, step: Step, result: StepResult, run_dir: Path) -> None:
        step_dir = run_dir / step.id  # made when a step writes files (not an email's)
        if not isinstance(step, EmailStep):
            make_private_dir(step_dir)
        values = {**self.values, "step_dir": str(step_dir)}
        skip = self._dry_run_skip(step)
        if skip:
            result.reason = skip
            return
        if self.recorder is not None:
            self.recorder.step_started(self.ref, step.id, str(step.kind))
        tries = 1 + step.retry.max_retries
        for attempt in range(1, tries + 1):
            result.attempts = attempt
            result.error, result.status = None, StepStatus.SUCCESS
            result.started_at = self.clock()
            limit = step.timeout_seconds or float(self.task.timeout_seconds)
            budget = min(limit, self._remaining())
            try:
                if budget <= 0:
                    raise QueryTimeout(
                        f"the run's timeout_seconds={self.task.timeout_seconds:g} was used up "
                        "by the steps before this one",
                        permanent=True,
                    )
                self._execute(step, result, values, step_dir, run_dir, budget, attempt)
            except QueryTimeout as exc:
                result.status, result.error = StepStatus.TIMEOUT, exc
            except (RunError, ConfigError, ValidationError) as exc:
                error = exc if isinstance(exc, RunError) else RunError(str(exc), permanent=True)
                result.status, result.error = StepStatus.FAILED, error
            result.ended_at = self.clock()
            if not result.failed or attempt == tries:
                break
            result.notes.append(f"attempt {attempt} {result.status}: {result.error}")
            self.runner.sleep(step.retry.delay_seconds)

    def _dry_run_skip(self, step: Step) -> str | None:
        if not self.outcome.dry_run:
            return None
        if isinstance(step, ProcessStep):
            return "dry run: programs are not run"
        if isinstance(step, SqlStep) and not self._read_only(step):
            return "dry run: a statement that may change data (read_only: false) is not run"
        return None

    def _read_only(self, step: SqlStep) -> bool:
        return self.task.read_only if step.read_only is None else step.read_only

    def _execute(
        self,
        step: Step,
        result: StepResult,
        values: dict[str, Any],
        step_dir: Path,
        run_dir: Path,
        budget: float,
        attempt: int,
    ) -> None:
        if isinstance(step, ProcessStep):
            self._program(step, result, values, step_dir, run_dir, budget, attempt)
            return
        before = resource.getrusage(resource.RUSAGE_SELF)
        try:
            if isinstance(step, SqlStep):
                self._sql(step, result, step_dir, budget)
            elif isinstance(step, EmailStep):
                self._email(step, result, values)
        finally:
            after = resource.getrusage(resource.RUSAGE_SELF)
            result.cpu_user_seconds = after.ru_utime - before.ru_utime
            result.cpu_system_seconds = after.ru_stime - before.ru_stime
            result.max_rss_bytes = after.ru_maxrss * 1024
            result.usage_of = RUN_PROCESS

    # -- the kinds -------------------------------------------------------------------------

    def _sql(self, step: SqlStep, result: StepResult, step_dir: Path, budget: float) -> None:
        from src.services.runner import RunOutcome

        task = self.task
        params = dict(task.params)
        for key, value in step.params.items():
            reference = value[1:-1] if isinstance(value, str) else ""
            params[key] = (
                self.values.get(reference) if STEP_REFERENCE.fullmatch(reference) else value
            )
        sub = task.with_changes(
            query=step.query,
            query_file=step.query_file,
            connection=step.connection or task.connection,
            params=params,
            read_only=self._read_only(step),
            exports=step.exports,
            timeout_seconds=budget,
            steps=(),
        )
        report = RunOutcome(self.ref.run_id, sub, RunStatus.RUNNING, self.clock(), self.clock())
        report.progress = self.outcome.progress
        report.dry_run = self.outcome.dry_run
        result.report = report
        self.runner._query_and_export(
            sub, self.ref.run_id, self.ref.scheduled_for, report, step_dir
        )
        result.rows = report.rows if report.columns else None
        result.rows_affected = report.rowcount if not report.columns else None
        result.files = list(report.files)
        result.notes.extend(report.notes)

    def _program(
        self,
        step: ProcessStep,
        result: StepResult,
        values: dict[str, Any],
        step_dir: Path,
        run_dir: Path,
        budget: float,
        attempt: int,
    ) -> None:
        base = self.runner.settings.base_dir
        text = {k: ("" if v is None else v) for k, v in values.items()}
        scratch = run_dir / ".scripts"
        argv = program_line(step, text, base=base, scratch=scratch)
        cwd = working_folder(step, text, base, step_dir)
        marker = f"{self.ref.run_id}/{step.id}/{attempt}/{uuid.uuid4().hex[:8]}"
        env = step_environment(
            step,
            inherited=self.inherited_env,
            settings=self.runner.env,
            rendered_env=rendered_env(step, text),
            run_id=self.ref.run_id,
            marker=marker,
            step_dir=str(step_dir),
        )
        self.outcome.progress(f"step {step.id}: {argv[0]}")
        try:
            ran = run_program(
                argv,
                cwd=cwd,
                env=env,
                timeout=budget,
                marker=marker,
                cap=defaults.STEP_OUTPUT_CAP_BYTES,
            )
        except OSError as exc:
            raise RunError(
                f"step {step.id!r}: cannot start {argv[0]!r}: {exc.strerror or exc}",
                permanent=True,
            ) from None
        lines = defaults.STEP_OUTPUT_LINES
        result.exit_code = ran.exit_code
        result.stdout, result.stderr = ran.stdout.lines(lines), ran.stderr.lines(lines)
        result.output_bytes = ran.stdout.total + ran.stderr.total
        result.output_dropped_bytes = ran.stdout.dropped + ran.stderr.dropped
        result.cpu_user_seconds = ran.cpu_user_seconds
        result.cpu_system_seconds = ran.cpu_system_seconds
        result.max_rss_bytes = ran.max_rss_bytes
        result.usage_of = OWN_PROCESSES
        result.leftovers = ran.leftovers
        result.files = files_in(step_dir)
        if ran.leftovers:
            result.notes.append(
                f"{ran.leftovers} process(es) the step left running were stopped at its end"
            )
        if ran.timed_out:
            raise QueryTimeout(
                f"step {step.id!r} took longer than {budget:g} s and was stopped with every "
                "process it started",
                permanent=True,
            )
        if ran.exit_code not in step.exit_codes:
            how = f"signal {-ran.exit_code}" if ran.exit_code < 0 else f"exit code {ran.exit_code}"
            last = (
                result.stderr[-1] if result.stderr else (result.stdout[-1] if result.stdout else "")
            )
            raise RunError(
                f"step {step.id!r} ended with {how} (accepted: "
                f"{', '.join(map(str, step.exit_codes))})" + (f": {last}" if last else ""),
                permanent=True,
            )

    def _email(self, step: EmailStep, result: StepResult, values: dict[str, Any]) -> None:
        from src.services.runner import RunOutcome

        attached = [r for r in self.results if r.step.id in step.attach]
        first_report = next((r.report for r in attached if r.report and r.report.columns), None)
        sub_task = self.task.with_changes(email=step.email, steps=())
        sub = RunOutcome(
            self.ref.run_id, sub_task, RunStatus.RUNNING, self.outcome.started_at, self.clock()
        )
        sub.dry_run = self.outcome.dry_run
        sub.progress = self.outcome.progress
        sub.rows = sum(r.rows or 0 for r in attached)
        sub.files = [f for r in attached for f in r.files]
        if first_report is not None:
            sub.columns, sub.preview, sub.layout = (
                first_report.columns,
                first_report.preview,
                first_report.layout,
            )
        text = {k: ("" if v is None else v) for k, v in values.items() if k.startswith("steps.")}
        try:
            self.runner._email(sub_task, self.ref, sub, variables=text, record={"step_id": step.id})
        finally:
            self.outcome.email_attempted = self.outcome.email_attempted or sub.email_attempted
            if sub.delivery is not None:
                self.outcome.delivery = sub.delivery
            if sub.message is not None:
                self.outcome.message = sub.message
        if sub.email_skipped:
            result.reason = sub.email_skipped
            result.status = StepStatus.SKIPPED
        result.files = list(sub.files)

    # -- records ---------------------------------------------------------------------------

    def _record(self, result: StepResult) -> None:
        if self.recorder is None:
            return
        try:
            self.recorder.step_ended(self.ref, result.to_json())
        except OSError as exc:  # the run's end still says what happened
            self.outcome.notes.append(
                f"step {result.step.id}: its record could not be written: {exc}"
            )

    def _sum_up(self) -> None:
        outcome = self.outcome
        outcome.rows = sum(r.rows or 0 for r in self.results)
        outcome.files = [
            f for r in self.results if not isinstance(r.step, EmailStep) for f in r.files
        ]
        affected = [r.rows_affected for r in self.results if r.rows_affected is not None]
        outcome.rowcount = sum(affected) if affected else None
        for result in self.results:
            outcome.notes.extend(f"step {result.step.id}: {note}" for note in result.notes)
        failed = [r for r in self.results if r.failed]
        if not failed:
            return
        first = failed[0]
        assert first.error is not None
        more = f" (and {len(failed) - 1} more step(s) failed)" if len(failed) > 1 else ""
        run_out = first.status is StepStatus.TIMEOUT and self._remaining() <= 0
        error_type = QueryTimeout if run_out else StepError
        raise error_type(f"{first.error}{more}", permanent=first.error.permanent)


def step_outcome_lines(results: list[StepResult]) -> list[str]:
    """One line per step, for `run`'s output."""
    lines = []
    for result in results:
        figures = []
        if result.duration is not None:
            figures.append(f"{result.duration:.1f} s")
        if result.rows is not None:
            figures.append(f"{result.rows} rows")
        if result.rows_affected is not None:
            figures.append(f"{result.rows_affected} rows affected")
        if result.exit_code is not None:
            figures.append(f"exit {result.exit_code}")
        if result.files:
            figures.append(f"{len(result.files)} file(s)")
        detail = str(result.error) if result.error else (result.reason or "")
        lines.append(
            f"Step {result.step.id} ({result.step.kind}): {result.status}"
            + (f", {', '.join(figures)}" if figures else "")
            + (f" -- {detail}" if detail else "")
        )
    return lines
