"""One run of one task, end to end: query -> exports -> email -> history and summary.

What the daemon calls at each fire time and what ``manage_tasks.py run`` calls.
The result of the query is read once, in batches, and fed to every export at the
same time, so memory stays flat whatever the row count. A failure at any step
becomes data (a ``failed`` or ``timeout`` record, the task's ``last_error``), never
a half-sent report: files of a failed export are removed, and the email is built
only from finished files.

Longer than ~400 lines on purpose: the steps of one run share its outcome and record,
and read best in the order they happen.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from src.core.chart import ChartData
from src.core.clock import now as clock_now
from src.core.column_format import ReportColumns, declared_types
from src.core.column_types import ColumnTyper
from src.core.errors import ConfigError, NotRecorded, QueryTimeout, RunError, ValidationError
from src.core.export_options import FULL_RESULT_FORMATS
from src.core.result import Row
from src.core.runvars import run_variables
from src.core.task import Task
from src.core.vocabulary import ExportFormat, RunStatus, Trigger
from src.services.export import ExportContext, ExportFile, get_exporter
from src.services.export.files import prune_exports, render_filename, run_folder
from src.services.export.writers import RunWriters
from src.services.history import RunHistory
from src.services.mail import (
    BuiltMessage,
    Delivery,
    ReportEmail,
    build_report_message,
    send_with_retry,
    should_send,
)
from src.services.permissions import make_private_dir
from src.services.query import QueryService
from src.services.recorder import (
    RunLog,
    RunRecorder,
    RunRef,
    delivery_json,
    error_json,
    file_json,
)
from src.services.settings import Settings
from src.services.task_store import TaskStore

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """What a run did, for the CLI and the daemon."""

    run_id: str
    task: Task
    status: RunStatus
    started_at: datetime
    finished_at: datetime
    rows: int = 0
    rowcount: int | None = None
    files: list[ExportFile] = field(default_factory=list)
    delivery: Delivery | None = None
    email_skipped: str | None = None
    email_attempted: bool = False  # the "emailing" line was written
    error: RunError | None = None
    notes: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    preview: list[Row] = field(default_factory=list)
    #: The task's columns applied to the result (labels, formats, totals), once it ran
    layout: ReportColumns | None = None
    #: The chart's points over every row (None: the task has no chart, or no rows ran)
    chart: ChartData | None = None
    dry_run: bool = False
    message: BuiltMessage | None = None
    progress: Callable[[str], None] = field(default=lambda line: None, repr=False)
    #: a task with steps: what each step did (src/services/steps/results.py::StepResult)
    step_results: list[Any] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def ok(self) -> bool:
        return self.status == RunStatus.SUCCESS


class Runner:
    def __init__(
        self,
        store: TaskStore,
        settings: Settings,
        query: QueryService,
        *,
        clock: Callable[[], datetime] = clock_now,
        sleep: Callable[[float], None] = time.sleep,
        env: Mapping[str, str] | None = None,
        log: RunLog | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.query = query
        #: the product's settings (.env and environment): where a step's pass_env is read
        self.env: dict[str, str] = dict(env or {})
        self.clock = clock
        self.sleep = sleep
        #: where the run's records go: runs.jsonl, or the cluster's (src/services/cluster/)
        self.history: RunLog = log or RunHistory(settings.history_path, settings.history_keep_days)
        self.recorder = RunRecorder(self.history, store, clock=clock)
        # Reports hold business data: the data folder is not for other users.
        make_private_dir(settings.data_dir)

    def run(
        self,
        task: Task,
        *,
        trigger: Trigger = Trigger.MANUAL,
        scheduled_for: datetime | None = None,
        attempt: int = 1,
        run_id: str | None = None,
        dry_run: bool = False,
        to: Sequence[str] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> RunOutcome:
        """Run ``task`` once; always returns an outcome and leaves a final record.

        Any Exception -- a named error, or a bug -- ends as a ``failed`` record
        (see :func:`_unexpected` for what a bug's record says). Ctrl-C (KeyboardInterrupt:
        a person's ``manage_tasks.py run``; the daemon's workers ignore SIGINT) ends as an
        ``interrupted`` record, then unwinds. Other BaseExceptions (SystemExit, the
        worker's ``Terminated``) unwind after the partial files are removed; whoever
        stopped the run records it.

        ``dry_run`` builds everything (query, files, message) but sends nothing and
        records nothing. ``to`` sends to these addresses instead of the task's
        recipients (cc and bcc dropped). ``progress`` receives one line per step.
        """
        trigger = Trigger(trigger)  # an unknown trigger is a bug of the caller: ValueError
        run_id = run_id or str(uuid.uuid4())
        started = self.clock()
        run_at = scheduled_for or started
        outcome = RunOutcome(run_id, task, RunStatus.RUNNING, started, started, dry_run=dry_run)
        outcome.progress = progress or (lambda line: None)
        if to is not None:
            addresses = tuple(to)
            task = task.with_changes(email=replace(task.email, to=addresses, cc=(), bcc=()))
            outcome.task = task
        ref = RunRef(run_id, task.id, task.name, trigger, run_at, attempt)
        recorder = None if dry_run else self.recorder
        if recorder is not None:
            try:
                recorder.started(ref, started)
            except OSError as exc:  # nothing done yet: a run that cannot be recorded never is
                raise NotRecorded(
                    f"the run's start could not be recorded in the history "
                    f"({exc.strerror or exc}); nothing was run"
                ) from exc
        step = "query and export"
        try:
            if task.steps:
                step = "steps"
                self._steps(task, ref, outcome, recorder)
            else:
                self._query_and_export(task, run_id, run_at, outcome)
                if not outcome.columns and outcome.rowcount is None and task.enabled_exports:
                    outcome.notes.append(
                        f"the query returned {outcome.rows} rows without columns: nothing to export"
                    )
                if recorder is not None:
                    files = [file_json(f) for f in outcome.files]
                    recorder.step(ref, "exported", rows=outcome.rows, files=files)
                step = "email"
                self._email(task, ref, outcome)
            outcome.status = RunStatus.SUCCESS
        except (RunError, ConfigError, ValidationError) as exc:
            error = exc if isinstance(exc, RunError) else RunError(str(exc), permanent=True)
            outcome.error = error
            timed_out = isinstance(exc, QueryTimeout)
            outcome.status = RunStatus.TIMEOUT if timed_out else RunStatus.FAILED
        except Exception as exc:
            outcome.error = _unexpected(exc, step, run_id)
            outcome.status = RunStatus.FAILED
        except KeyboardInterrupt:
            if recorder is not None:
                recorder.ended_without_result(
                    ref, RunStatus.INTERRUPTED, _stopped_by_hand(step), started_at=started
                )
            raise
        outcome.finished_at = self.clock()
        if recorder is not None:
            self._finish(recorder, ref, outcome)
        return outcome

    # -- steps --

    def _steps(
        self, task: Task, ref: RunRef, outcome: RunOutcome, recorder: RunRecorder | None
    ) -> None:
        """A task with steps: each in order (src/services/steps/)."""
        from src.services.steps.sequence import StepSequence

        sequence = StepSequence(self, task, ref, outcome, recorder, dict(os.environ))
        try:
            sequence.run()
        finally:
            outcome.step_results = sequence.results

    def _sql(self, task: Task) -> str:
        if task.query is not None:
            return task.query
        path = Path(task.query_file or "")
        if not path.is_absolute():
            path = self.store.path.resolve().parent / path
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RunError(
                f"query_file {task.query_file!r}: cannot read {path}: {exc.strerror}",
                permanent=True,
            ) from None

    def _query_and_export(
        self,
        task: Task,
        run_id: str,
        run_at: datetime,
        outcome: RunOutcome,
        folder: Path | None = None,
    ) -> None:
        """``folder``: where the files go (an sql step's own); default: the run's folder."""
        sql = self._sql(task)
        folder = folder or run_folder(self.settings.exports_dir, task.name, run_id, run_at)
        values = self._template_values(task, run_id, run_at)
        context = ExportContext(
            title=task.name,
            run_at=run_at,
            zone=task.zone,
            description=task.description,
            columns=task.columns,
            locale=task.locale,
            chart=task.chart,
        )
        formats = task.enabled_exports
        # COPY writes the database's own columns and forms: not with labels, hidden
        # columns, or values formatted as the report shows them
        if (
            formats == [ExportFormat.CSV]
            and not task.columns
            and not task.exports[ExportFormat.CSV].get("formatted")
            and self._copy_csv(task, sql, run_at, folder, values, outcome)
        ):
            return
        writers: RunWriters | None = None
        preview = outcome.preview
        try:
            with self.query.execute(
                task.connection,
                sql,
                task.params,
                run_at=run_at,
                zone=task.zone,
                timeout_seconds=task.timeout_seconds,
                read_only=task.read_only,
            ) as result:
                outcome.rowcount = result.rowcount
                outcome.notes.extend(result.notes)
                layout = context.layout(result.columns)
                outcome.layout = layout
                outcome.columns = layout.labels
                outcome.notes.extend(layout.notes)
                if task.chart is not None:
                    names = [layout.all[i].name for i in layout.visible]
                    outcome.chart = ChartData(task.chart, layout.labels, names)
                typer = ColumnTyper(result.columns, declared_types(task.columns, task.types))
                # the run counts the totals (below), once for the email and every file
                shared = replace(context, totals=layout.totals)
                files: list[tuple[str, Path, dict[str, Any]]] = []
                for fmt in formats if result.columns else []:
                    options = dict(task.exports[fmt])
                    if fmt == ExportFormat.PDF and "full_result_in" not in options:
                        full = next((f for f in FULL_RESULT_FORMATS if f in formats), None)
                        options["full_result_in"] = full
                    files.append((fmt, self._export_path(task, fmt, folder, values), options))
                one_process = self.settings.exports_in_one_process
                writers = RunWriters(
                    files, result.columns, shared, False if one_process else None,
                    self.settings.second_process_rows,
                )  # fmt: skip
                for batch in typer.batches(result.batches):
                    outcome.rows += len(batch)
                    outcome.progress(f"fetched {outcome.rows:,} rows")
                    shown = layout.project(batch)
                    layout.add_to_totals(shown)
                    if outcome.chart is not None:
                        outcome.chart.add(shown)
                    if len(preview) < self.settings.preview_rows:
                        preview.extend(shown[: self.settings.preview_rows - len(preview)])
                    writers.write_batch(batch)
                if writers.in_side_process:
                    second = " and ".join(writers.in_side_process)
                    outcome.progress(f"the {second} written by a second process")
                outcome.notes.extend(typer.notes)
                chart_problem = outcome.chart.problem() if outcome.chart else None
                if chart_problem:  # one note for every file: none of them draws it
                    outcome.notes.append(chart_problem)
            outcome.files = writers.close(layout.totals) if writers is not None else []
            for exported in outcome.files:
                outcome.progress(f"wrote {exported.path} ({exported.size_bytes:,} bytes)")
        except BaseException:
            if writers is not None:
                writers.abort()
            raise
        for exported in outcome.files:
            outcome.notes.extend(exported.notes)

    def _copy_csv(
        self,
        task: Task,
        sql: str,
        run_at: datetime,
        folder: Path,
        values: dict[str, Any],
        outcome: RunOutcome,
    ) -> bool:
        """A CSV-only task on PostgreSQL: the server writes the file (COPY), ~10x faster
        than rows through Python. False when the query service says COPY does not apply;
        the normal path then runs. Value formats differ slightly: see query/copy.py."""
        path = self._export_path(task, ExportFormat.CSV, folder, values)
        options = get_exporter(ExportFormat.CSV).check_options(task.exports[ExportFormat.CSV])
        copied = self.query.copy_csv(
            task.connection,
            sql,
            task.params,
            run_at=run_at,
            zone=task.zone,
            timeout_seconds=task.timeout_seconds,
            read_only=task.read_only,
            path=path,
            bom=options["bom"],
            delimiter=options["delimiter"],
            preview_rows=self.settings.preview_rows,
        )
        if copied is None:
            return False
        outcome.rows = copied.rows
        outcome.notes.extend(copied.notes)
        outcome.columns = copied.columns
        outcome.preview.extend(copied.preview)
        outcome.files = [
            ExportFile(ExportFormat.CSV, path, copied.size_bytes, copied.rows, copied.rows)
        ]
        outcome.progress(
            f"wrote {path} ({copied.size_bytes:,} bytes, {copied.rows:,} rows, by PostgreSQL COPY)"
        )
        return True

    def _export_path(self, task: Task, fmt: str, folder: Path, values: dict[str, Any]) -> Path:
        template = str(task.exports[fmt].get("filename") or "")
        return folder / render_filename(template or self.settings.filename_template, values, fmt)

    def _template_values(self, task: Task, run_id: str, run_at: datetime) -> dict[str, Any]:
        values: dict[str, Any] = dict(run_variables(run_at, task.zone))
        values.update(task_name=task.name, run_id=run_id, row_count=0, duration="")
        return values

    def _email(
        self,
        task: Task,
        ref: RunRef,
        outcome: RunOutcome,
        *,
        variables: Mapping[str, Any] | None = None,
        record: Mapping[str, Any] | None = None,
    ) -> None:
        """``variables``: more template values (an email step's ``steps.<id>.<field>``);
        ``record``: more fields of its "emailing" and "emailed" records (its step id)."""
        email = task.email
        if not email.recipients:
            outcome.email_skipped = "the task has no recipients"
            return
        if not should_send(email.send_if, outcome.rows):
            outcome.email_skipped = f"send_if is {str(email.send_if)!r} and the result has " + (
                f"{outcome.rows} rows" if outcome.rows else "no rows"
            )
            return
        values: dict[str, Any] = dict(variables or {})
        values.update(run_variables(ref.scheduled_for, task.zone))
        values["run_id"] = ref.run_id
        report = ReportEmail(
            task_name=task.name,
            description=task.description,
            to=email.to,
            cc=email.cc,
            bcc=email.bcc,
            subject=email.subject,
            body=email.body,
            variables=values,
            row_count=outcome.rows,
            duration=(self.clock() - outcome.started_at).total_seconds(),
            columns=outcome.columns,
            preview_rows=outcome.preview,
            preview_limit=self.settings.preview_rows,
            zone=task.zone,
            formats=outcome.layout.shown_specs if outcome.layout else (),
            totals=outcome.layout.total_texts(task.zone)
            if outcome.layout and outcome.layout.has_totals
            else (),
            attachments=[f.path for f in outcome.files],
            locale=task.locale,
            **self._chart_picture(task, outcome),
        )
        built = build_report_message(report, self.settings.smtp, now=self.clock())
        outcome.message = built
        if outcome.dry_run:
            outcome.email_skipped = (
                f"dry run: a {built.size_bytes:,}-byte message to "
                f"{', '.join(built.recipients)} was built, not sent"
            )
            return
        outcome.progress(f"sending to {', '.join(built.recipients)}")
        # Exactly once: nothing is sent that was not first recorded as about to be sent.
        # A history that says "emailing" and not "emailed" is read as "may have gone out"
        # (the daemon never sends that occurrence again on its own); a failed send says so.
        try:
            self.recorder.step(
                ref, "emailing", recipients=list(built.recipients), **dict(record or {})
            )
        except OSError as exc:
            raise RunError(
                f"the run could not be recorded ({exc.strerror or exc}); its email was not "
                "sent, so that it cannot go out twice",
                permanent=False,
            ) from None
        outcome.email_attempted = True
        delivery = send_with_retry(
            self.settings.smtp,
            built,
            attempts=self.settings.smtp_retries,
            delay=self.settings.smtp_retry_delay,
            sleep=self.sleep,
            now=self.clock(),
        )
        outcome.delivery = delivery
        try:
            self.recorder.step(ref, "emailed", email=delivery_json(delivery), **dict(record or {}))
        except OSError as exc:
            # sent, not recorded: the "emailing" line keeps it from being sent again
            outcome.notes.append(f"the email went out but its record could not be written: {exc}")
        refused = delivery.refused_error()
        if refused is not None:
            raise refused

    @staticmethod
    def _chart_picture(task: Task, outcome: RunOutcome) -> dict[str, Any]:
        """The email's chart (a PNG and its title), or the note of why it is not drawn."""
        chart = outcome.chart
        if chart is None or outcome.layout is None:
            return {}
        problem = chart.problem()
        if problem is not None:
            return {"notes": [problem[0].upper() + problem[1:] + "."]}
        from src.services.export.chart_png import chart_png  # PIL and reportlab: charts only

        png = chart_png(chart, outcome.layout.shown_specs, zone=task.zone, locale=task.locale)
        return {"chart_png": png, "chart_title": chart.title}

    def _finish(self, recorder: RunRecorder, ref: RunRef, outcome: RunOutcome) -> None:
        error = outcome.error
        note = recorder.finished(
            ref,
            outcome.status,
            started_at=outcome.started_at,
            at=outcome.finished_at,
            error=error_json(error.kind, str(error), error.permanent) if error else None,
            duration_seconds=round(outcome.duration, 3),
            rows=outcome.rows,
            rowcount=outcome.rowcount,
            files=[file_json(f) for f in outcome.files],
            email=delivery_json(outcome.delivery) if outcome.delivery else None,
            email_skipped=outcome.email_skipped,
            # the send was tried and failed: nothing went out (see "emailing" above)
            email_sent=False if outcome.email_attempted and outcome.delivery is None else None,
            notes=outcome.notes or None,
        )
        if note is not None:
            outcome.notes.append(note)
        prune_exports(self.settings.exports_dir, self.settings.exports_keep_days, self.clock())


def _stopped_by_hand(step: str) -> str:
    """What an ``interrupted`` record says of a run stopped with Ctrl-C during ``step``."""
    if step == "email":
        return (
            "stopped with Ctrl-C while emailing: the email may have been sent; ask a "
            "recipient before running the task again"
        )
    if step == "steps":
        return "stopped with Ctrl-C during its steps; the steps that ended are listed with it"
    return f"stopped with Ctrl-C during the {step}; nothing was sent"


def _unexpected(exc: Exception, step: str, run_id: str) -> RunError:
    """A bug's error, for the record: its type and where it was raised, never its text,
    which may quote a secret (a UnicodeEncodeError shows the character of a password it
    could not encode, and its position). Permanent: the same run would fail the same way.
    The log gets the frames (file, line, code), again without the text."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    kind = type(exc).__name__
    log.error(
        "run %s: unexpected %s during the %s step:\n%s",
        run_id,
        kind,
        step,
        "".join(traceback.format_list(frames)).rstrip(),
    )
    return RunError(
        f"unexpected error {kind}{where} during the {step} step (a bug: please report it "
        "with the log lines of this run; its text is left out as it may quote a secret)",
        permanent=True,
    )
