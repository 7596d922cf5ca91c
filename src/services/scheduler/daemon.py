"""The scheduler daemon: timetable, live reload, child runs, retries, catch-up, shutdown.

One thread (the main one) owns all state. APScheduler's thread only announces due
fire times (:mod:`jobs`); signals and those announcements wake the main loop
through one self-pipe, so the daemon sleeps between events (idle CPU ~0) and
reacts at once. Every step is a method a test can call with its own ``now``.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import select
import signal
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from src.core.clock import now as clock_now
from src.core.clock import to_utc_iso
from src.core.errors import StoreError, TaskNotFound, ValidationError
from src.core.task import Summary, Task
from src.services.history import RunHistory
from src.services.permissions import private_file_warnings
from src.services.scheduler.api import DaemonApi
from src.services.scheduler.child import ChildRun, Occurrence
from src.services.scheduler.eventlog import EventLog
from src.services.scheduler.instance import InstanceLock
from src.services.scheduler.jobs import JobTable
from src.services.scheduler.notify import Notifier
from src.services.scheduler.occurrences import (
    CatchUp,
    catch_up_of,
    missed_occurrences,
    plan_catch_up,
    retry_delay,
)
from src.services.scheduler.reloader import Reloader, Update
from src.services.scheduler.settings import DaemonSettings
from src.services.scheduler.state import (
    SCHEDULED_TRIGGERS,
    HistoryView,
    StateFile,
    occurrence_key,
)
from src.services.settings import Settings
from src.services.task_store import TaskStore
from src.services.webhook import (
    WEBHOOK_TRIGGER,
    Handoff,
    HealthState,
    HttpServer,
    Metrics,
    TriggerResult,
    WebhookSettings,
    create_app,
)

#: An atomic write's temp file lives for milliseconds; one this old was cut off by a crash.
STALE_TEMP_SECONDS = 600

#: Banner lines listing tasks one by one; past this, a count (10,000 lines help nobody).
BANNER_MAX_TASKS = 200


@dataclass(frozen=True)
class DaemonOptions:
    tasks_file: Path
    env_file: Path | None = None
    once: bool = False
    log_level: str = "INFO"
    log_format: str = "text"
    http: str | None = None  # --http HOST:PORT (wins over HTTP_LISTEN)


@dataclass
class OnceResult:
    runs: int = 0
    failed: int = 0


def _short(task: Task) -> str:
    return f"{task.name!r} ({task.id[:8]})"


def local_time(moment: datetime | None, task: Task) -> str:
    if moment is None:
        return "none"
    return moment.astimezone(task.zone).strftime("%Y-%m-%d %H:%M:%S %Z")


@dataclass
class _Busy:
    """Why a task cannot start another run now."""

    running: dict[str, ChildRun] = field(default_factory=dict)
    queued: dict[str, int] = field(default_factory=dict)  # task id -> occurrences waiting
    retrying: dict[str, Occurrence] = field(default_factory=dict)

    def add_queued(self, task_id: str) -> None:
        self.queued[task_id] = self.queued.get(task_id, 0) + 1

    def remove_queued(self, task_id: str) -> None:
        left = self.queued.get(task_id, 0) - 1
        if left > 0:
            self.queued[task_id] = left
        else:
            self.queued.pop(task_id, None)

    def reason(self, task_id: str) -> str | None:
        if task_id in self.running:
            child = self.running[task_id]
            return (
                f"the previous run (run {child.run_id[:8]}, started "
                f"{to_utc_iso(child.started_wall)}) is still running"
            )
        if task_id in self.queued:
            return "the previous occurrence is still queued (all run slots are busy)"
        if task_id in self.retrying:
            return "the previous occurrence is waiting for its retry"
        return None


class Daemon:
    def __init__(
        self,
        options: DaemonOptions,
        env: Mapping[str, str],
        *,
        clock: Callable[[], datetime] = clock_now,
        notifier: Notifier | None = None,
    ) -> None:
        self.options = options
        self.env = dict(env)
        self.clock = clock
        self.tasks_file = options.tasks_file
        self.default_timezone = self.env.get("DEFAULT_TIMEZONE") or "UTC"
        base_dir = self.tasks_file.resolve().parent
        self.settings = Settings.from_env(self.env, base_dir=base_dir)
        self.config = DaemonSettings.from_env(self.env)
        self.store = TaskStore(self.tasks_file, default_timezone=self.default_timezone)
        self.history = RunHistory(self.settings.history_path, self.settings.history_keep_days)
        self.state = StateFile(self.settings.data_dir / "scheduler" / "state.json")
        self.work_dir = self.settings.data_dir / "scheduler" / "runs"
        self.events = EventLog()
        self.notifier = notifier or Notifier()
        self.instance = InstanceLock(self.tasks_file)
        self.jobs = JobTable(self._on_fire)

        self.tasks: dict[str, Task] = {}
        # tasks.json is watched and parsed in a thread; the main loop applies its updates
        self.reloader = Reloader(self.store, clock, self.config.reload_poll_seconds, self._wake)
        self.busy = _Busy()
        self.queue: deque[Occurrence] = deque()
        self.delivered: set[tuple[str, str]] = set()
        self.once_result = OnceResult()

        self._fired: deque[tuple[str, list[datetime]]] = deque()
        self._signals: deque[int] = deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._last_flush = 0.0
        self._last_watchdog = 0.0
        self._loaded_at: datetime | None = None
        self._stopping_since: float | None = None
        self._stop_signals = 0

        # the HTTP API (off unless HTTP_LISTEN / --http): its threads read the snapshots
        # below and hand calls to the main loop through self.handoff
        self.handoff = Handoff(self._wake)
        self.metrics = Metrics(clock=clock)
        self.http: HttpServer | None = None
        self.task_snapshot: list[Task] = []  # replaced (never changed) by the main loop
        self.webhook_runs: dict[str, tuple[str, str]] = {}  # run id -> (status, task name)
        self._phase = "starting"
        self._last_tick: datetime | None = None
        self._tasks_error: str | None = None

    # -- start ------------------------------------------------------------------------------

    def run(self) -> int:
        """Start, run until stopped (or until done with ``--once``), return the exit code."""
        web = None
        if not self.options.once:  # refuse a bad API setting before taking the lock
            web = WebhookSettings.from_env(
                self.env, self.settings.data_dir, listen=self.options.http
            )
        self.instance.acquire()
        try:
            self._sweep_run_files()
            for warning in private_file_warnings(
                [p for p in (self.options.env_file, self.tasks_file) if p is not None]
            ):
                self.events.warning("permissions", warning)
            self._install_signals()
            self._start()
            if self.options.once:
                return self._run_once()
            if web is not None:
                self._start_http(web)
            return self._run_forever()
        finally:
            self.reloader.stop()
            self.handoff.close()  # first: HTTP threads waiting on the loop get their 503
            if self.http is not None:
                self.http.stop()
            self.jobs.shutdown()
            self.state.flush(self.clock())
            self.instance.release()

    def _sweep_run_files(self) -> None:
        """Remove what runs of an earlier daemon left in the work folder (payloads, result
        temp files of runs cut off by a crash or kill -9). Holding the instance lock means
        none of them is alive: workers die with their daemon (PR_SET_PDEATHSIG)."""
        if self.work_dir.is_dir():
            for leftover in self.work_dir.iterdir():
                if leftover.is_file():
                    leftover.unlink(missing_ok=True)
        # Temp files of an atomic write cut off by a crash. manage_tasks.py may be writing
        # tasks.json right now, so only temp files too old to belong to a live write go.
        cutoff = time.time() - STALE_TEMP_SECONDS
        for target in (self.tasks_file, self.state.path):
            for leftover in target.parent.glob(f".{target.name}.*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    if leftover.stat().st_mtime < cutoff:
                        leftover.unlink()

    def _install_signals(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            self._signals.append(signum)

        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, handler)

    def _start(self) -> None:
        now = self.clock()
        task_file = self.reloader.prime()  # an invalid file at start is fatal: nothing to run
        self._loaded_at = now
        self.state.load()
        view = HistoryView.build(self.history.runs())
        self.delivered = set(view.delivered)
        for record in view.unfinished:
            self._record_interrupted_at_start(record, now)
        self.events.info(
            "loaded",
            f"loaded {len(task_file.tasks)} task(s) from {self.tasks_file}",
            tasks=len(task_file.tasks),
            tasks_file=str(self.tasks_file),
        )
        catching_up: list[str] = []
        for task in task_file.tasks:
            self.tasks[task.id] = task
            if not task.enabled:
                continue
            baseline = max(
                (
                    t
                    for t in (
                        self.state.last_handled.get(task.id),
                        view.last_scheduled.get(task.id),
                        task.created_at,
                    )
                    if t is not None
                ),
                default=now,
            )
            # a retry that was waiting for its backoff when the scheduler stopped runs
            # again (per catch_up), as long as the task's retry policy allows another try
            retries = {
                moment
                for moment, attempt in view.retry_pending.get(task.id, {}).items()
                if attempt <= task.retry.max_retries
            }
            reruns = view.to_rerun.get(task.id, set()) | retries
            summary = self._catch_up(task, baseline, now, reruns)
            if summary:
                catching_up.append(summary)
            if not self.options.once:
                self.jobs.put(task.id, task.schedule, task.schedule.next_after(now))
        self.state.forget(self.tasks)
        self.task_snapshot = list(self.tasks.values())
        self._banner(catching_up)

    def _start_http(self, web: WebhookSettings) -> None:
        self.metrics.seed(self.history)
        app = create_app(DaemonApi(self), web, metrics=self.metrics, clock=self.clock)
        self.http = HttpServer(
            app,
            web.listen.host,
            web.listen.port,
            trusted_proxy=web.trusted_proxy,
            max_body_bytes=web.max_body_bytes,
        )
        self.http.start()

    def _record_interrupted_at_start(self, record: Any, now: datetime) -> None:
        emailed = "emailed" in record.steps
        reason = "the scheduler stopped (crash, kill or power loss) during this run" + (
            "; its email had been sent, so it is not sent again" if emailed else ""
        )
        self.history.append(
            "finished",
            record.run_id,
            now,
            task_id=record.task_id,
            task_name=record.task_name,
            trigger=record.data.get("trigger"),
            scheduled_for=record.data.get("scheduled_for"),
            attempt=record.data.get("attempt"),
            status="interrupted",
            finished_at=to_utc_iso(now),
            reason=reason,
        )
        self.events.warning(
            "interrupted",
            f"run {record.run_id[:8]} of task {record.task_name!r} (scheduled for "
            f"{record.data.get('scheduled_for')}) was interrupted: {reason}",
            run_id=record.run_id,
            task_id=record.task_id,
            emailed=emailed,
        )

    def _catch_up(
        self, task: Task, baseline: datetime, now: datetime, reruns: set[datetime]
    ) -> str | None:
        """Plan the occurrences ``task`` missed since ``baseline``; queue or record them."""
        try:
            policy = catch_up_of(task.extra, self.config.catch_up_window)
        except ValidationError as exc:
            self.events.error(
                "invalid", f"task {_short(task)}: {exc}; using catch_up=latest", task_id=task.id
            )
            policy = CatchUp("latest", self.config.catch_up_window)
        # Occurrences older than the window are never run: they are not even listed, so a
        # task created a year ago costs one window of schedule arithmetic, not a year.
        since = max(baseline, now - policy.window)
        missed, not_listed = missed_occurrences(task.schedule, since, now)
        candidates = [
            t for t in {*missed, *reruns} if occurrence_key(task.id, t) not in self.delivered
        ]
        if not candidates and not not_listed:
            return None
        plan = plan_catch_up(candidates, policy, now, not_listed)
        for moment, reason in plan.skipped:
            self._record_skipped(task, moment, reason, trigger="catch-up", now=now)
        if plan.not_listed:
            self.events.info(
                "missed",
                f"task {_short(task)}: {plan.not_listed} older missed occurrence(s) not listed",
                task_id=task.id,
                count=plan.not_listed,
            )
        for index, moment in enumerate(plan.run):
            # catch_up=all: the missed occurrences of one task wait for each other in order
            occurrence = Occurrence(task.id, moment, trigger="catch-up")
            self._enqueue(occurrence, now, behind_own=index > 0)
        runs = ", ".join(local_time(t, task) for t in plan.run) or "none"
        return (
            f"task {_short(task)}: {plan.missed} missed occurrence(s) ({policy.describe()}); "
            f"running: {runs}"
        )

    def _banner(self, catching_up: list[str]) -> None:
        enabled = [t for t in self.tasks.values() if t.enabled]
        now = self.clock()
        for index, task in enumerate(sorted(self.tasks.values(), key=lambda t: t.name.casefold())):
            if index >= BANNER_MAX_TASKS:
                self.events.info(
                    "scheduled",
                    f"... and {len(self.tasks) - BANNER_MAX_TASKS} more task(s); "
                    "`manage_tasks.py next` lists upcoming runs",
                )
                break
            if not task.enabled:
                self.events.info(
                    "scheduled", f"task {_short(task)}: disabled", task_id=task.id, enabled=False
                )
                continue
            upcoming = task.schedule.next_after(now)
            self.events.info(
                "scheduled",
                f"task {_short(task)}: {task.schedule.describe()}; next run "
                f"{local_time(upcoming, task)} ({task.timezone})",
                task_id=task.id,
                next_run=to_utc_iso(upcoming) if upcoming else None,
            )
        for line in catching_up:
            self.events.info("catch-up", f"catching up: {line}")
        if not self.tasks:
            self.events.info(
                "empty",
                f"no tasks in {self.tasks_file} yet; add one with `manage_tasks.py "
                f"--tasks-file {self.tasks_file} add` (e.g. --name Demo --query 'SELECT 1' "
                "--every 1m --to you@example.com); it is picked up within 2 seconds",
            )
        mode = "--once: running due and missed occurrences" if self.options.once else "running"
        self.events.info(
            "running",
            f"Scheduler is {mode} ({len(enabled)} enabled task(s), tasks file "
            f"{self.tasks_file}, pid {os.getpid()})",
            tasks=len(enabled),
            pid=os.getpid(),
        )

    # -- loops ------------------------------------------------------------------------------

    def _run_forever(self) -> int:
        self.jobs.start()
        self.reloader.start()
        # the 10,000 tasks loaded at start live as long as the daemon: keep them out of
        # the collector's full passes, which hold the GIL while a fire waits (~50 ms)
        gc.collect()
        gc.freeze()
        self._phase = "running"
        self.notifier.ready(f"running {len(self.jobs)} job(s)")
        while True:
            timeout = self.tick()
            if timeout is None:
                return 0
            self._sleep(timeout)

    def _run_once(self) -> int:
        while self.queue or self.busy.running or self.busy.retrying:
            timeout = self.tick(poll_file=False)
            if timeout is None:
                break
            self._sleep(timeout)
        result = self.once_result
        self.events.info(
            "done",
            f"--once: {result.runs} run(s), {result.failed} not successful",
            runs=result.runs,
            failed=result.failed,
        )
        return 1 if result.failed or self._stop_signals else 0

    def _sleep(self, timeout: float) -> None:
        with contextlib.suppress(InterruptedError):
            select.select([self._wake_r], [], [], max(timeout, 0.0))
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # a full pipe already wakes the loop
            self._wake_w.send(b"\0")

    def tick(self, *, poll_file: bool = True) -> float | None:
        """One round of the main loop; returns seconds to sleep, None to exit."""
        while self._signals:
            self._on_signal(self._signals.popleft())
        self._last_tick = now = self.clock()
        self.handoff.run_pending()  # webhook triggers: queued before the queue is started
        while self._fired:
            task_id, times = self._fired.popleft()
            self._handle_fire(task_id, times, now)
        self._reap(self.clock())
        if self._stopping_since is not None:
            return self._shutdown_step()
        self._release_retries()
        self._start_queued(self.clock())  # before applying a reload: a due run goes first
        if poll_file and self.reloader.updates:
            while self.reloader.updates:  # parsed in the reload thread: only jobs move here
                self._apply(self.reloader.updates.popleft())
            self._start_queued(self.clock())
        self._housekeeping()
        return self._next_timeout()

    def _next_timeout(self) -> float:
        timeout = self.config.reload_poll_seconds
        moment = time.monotonic()
        for child in self.busy.running.values():
            timeout = min(timeout, child.seconds_to_next_check())
        for occurrence in self.busy.retrying.values():
            timeout = min(timeout, max(occurrence.not_before - moment, 0.0))
        return timeout

    def _housekeeping(self) -> None:
        moment = time.monotonic()
        if self.state.dirty and moment - self._last_flush >= 0.5:
            self._last_flush = moment
            self.state.flush(self.clock())
        interval = self.notifier.watchdog_seconds
        if interval and moment - self._last_watchdog >= interval / 2:
            self._last_watchdog = moment
            self.notifier.watchdog()

    # -- signals and shutdown ---------------------------------------------------------------

    def _on_signal(self, signum: int) -> None:
        if signum == signal.SIGCHLD:
            return  # only wakes the loop: _reap looks at every child
        if signum == signal.SIGHUP:
            self.events.info("reload", "SIGHUP: reloading the tasks file")
            self.reloader.request_reload()
            return
        self._stop_signals += 1
        name = signal.Signals(signum).name
        if self._stopping_since is None:
            self._stopping_since = time.monotonic()
            self.jobs.shutdown()
            self.notifier.stopping(f"{name}: stopping")
            dropped = len(self.queue) + len(self.busy.retrying)
            for occurrence in self.queue:
                if occurrence.run_id is not None:  # its 202 promised a run: say what became of it
                    self._record_dropped(
                        occurrence,
                        "the scheduler stopped before this run started; trigger it again",
                    )
            self.queue.clear()
            self.busy.queued.clear()
            self.busy.retrying.clear()
            self.events.info(
                "stopping",
                f"{name}: stopping; no new runs; waiting up to "
                f"{self.config.shutdown_grace_seconds:g} s for {len(self.busy.running)} "
                f"running run(s) ({name} again stops at once)"
                + (
                    f"; {dropped} queued/retrying occurrence(s) left for catch-up"
                    if dropped
                    else ""
                ),
                signal=name,
            )
        else:
            self.events.warning(
                "stopping", f"{name} again: stopping now, interrupting running runs"
            )
            for child in self.busy.running.values():
                child.kill_now("shutdown")

    def _shutdown_step(self) -> float | None:
        assert self._stopping_since is not None
        elapsed = time.monotonic() - self._stopping_since
        if elapsed >= self.config.shutdown_grace_seconds:
            for child in self.busy.running.values():
                if child.stop_reason is None:
                    self.events.warning(
                        "stopping",
                        f"run {child.run_id[:8]} of {child.task_name!r} still running after the "
                        f"{self.config.shutdown_grace_seconds:g} s grace period; stopping it",
                    )
                    child.stop("shutdown", self.config.term_to_kill_seconds)
        for child in self.busy.running.values():
            child.enforce(self.config.term_to_kill_seconds)
        if not self.busy.running:
            self.events.info("stopped", "scheduler stopped")
            return None
        return 0.1

    # -- fires, queue, children -------------------------------------------------------------

    def _on_fire(self, task_id: str, times: list[datetime]) -> None:
        """Called in APScheduler's thread: hand over and wake the main loop."""
        self._fired.append((task_id, times))
        self._wake()

    def _handle_fire(self, task_id: str, times: list[datetime], now: datetime) -> None:
        task = self.tasks.get(task_id)
        if task is None or not task.enabled or self._stopping_since is not None:
            return
        if len(times) > 1:  # the machine slept or the clock jumped: some fires are late
            self._catch_up(task, times[0] - timedelta(microseconds=1), now, set())
            return
        self._enqueue(Occurrence(task_id, times[0], fired_at=time.monotonic()), now)

    def _enqueue(self, occurrence: Occurrence, now: datetime, *, behind_own: bool = False) -> None:
        task = self.tasks[occurrence.task_id]
        self.state.mark(task.id, occurrence.scheduled_for)
        reason = None if behind_own else self.busy.reason(task.id)
        if reason is not None:
            self._record_skipped(task, occurrence.scheduled_for, reason, occurrence.trigger, now)
            return
        self.busy.add_queued(task.id)
        self.queue.append(occurrence)

    def _record_skipped(
        self, task: Task, scheduled_for: datetime, reason: str, trigger: str, now: datetime
    ) -> None:
        run_id = str(uuid.uuid4())
        if trigger in SCHEDULED_TRIGGERS:  # a webhook run is no occurrence of the schedule
            self.state.mark(task.id, scheduled_for)
        self.metrics.observe_run({"task_id": task.id, "task_name": task.name, "status": "skipped"})
        self.history.append(
            "finished",
            run_id,
            now,
            task_id=task.id,
            task_name=task.name,
            trigger=trigger,
            scheduled_for=to_utc_iso(scheduled_for),
            status="skipped",
            reason=reason,
        )
        self.events.info(
            "skipped",
            f"task {_short(task)}: occurrence {local_time(scheduled_for, task)} skipped: {reason}",
            task_id=task.id,
            run_id=run_id,
            scheduled_for=to_utc_iso(scheduled_for),
            reason=reason,
        )

    def _release_retries(self) -> None:
        moment = time.monotonic()
        for task_id, occurrence in list(self.busy.retrying.items()):
            if occurrence.not_before <= moment:
                del self.busy.retrying[task_id]
                self.busy.add_queued(task_id)
                self.queue.append(occurrence)

    def _start_queued(self, now: datetime) -> None:
        waiting: list[Occurrence] = []  # next occurrences of tasks that are running
        while self.queue and len(self.busy.running) < self.config.max_concurrent_runs:
            occurrence = self.queue.popleft()
            if occurrence.task_id in self.busy.running:
                waiting.append(occurrence)
                continue
            self.busy.remove_queued(occurrence.task_id)
            task = self.tasks.get(occurrence.task_id)
            if task is None or not task.enabled:
                if occurrence.run_id is not None:
                    self._record_dropped(
                        occurrence, "the task was deleted or disabled before this run started"
                    )
                self.events.info(
                    "dropped",
                    f"occurrence {to_utc_iso(occurrence.scheduled_for)} of task "
                    f"{occurrence.task_id[:8]} not started: the task was deleted or disabled",
                    task_id=occurrence.task_id,
                )
                continue
            key = occurrence_key(task.id, occurrence.scheduled_for)
            # exactly once: this occurrence's report already went out. Only the schedule's
            # occurrences count; a webhook run is an extra run, whatever second it starts in.
            if occurrence.trigger in SCHEDULED_TRIGGERS and key in self.delivered:
                self._record_skipped(
                    task,
                    occurrence.scheduled_for,
                    "its email was already sent (exactly once per occurrence)",
                    occurrence.trigger,
                    now,
                )
                continue
            self._spawn(task, occurrence, now)
        self.queue.extendleft(reversed(waiting))

    def _spawn(self, task: Task, occurrence: Occurrence, now: datetime) -> None:
        run_id = occurrence.run_id or str(uuid.uuid4())
        hard_timeout = float(task.timeout_seconds) + self.config.run_kill_grace_seconds
        try:
            child = ChildRun.spawn(
                occurrence,
                run_id,
                task.to_dict(),
                work_dir=self.work_dir,
                tasks_file=self.tasks_file,
                env_file=self.options.env_file,
                default_timezone=self.default_timezone,
                log_level=self.options.log_level,
                log_format=self.options.log_format,
                hard_timeout=hard_timeout,
                now=now,
            )
        except OSError as exc:
            self.events.error(
                "failed",
                f"task {_short(task)}: cannot start a run process: {exc}",
                task_id=task.id,
            )
            self._write_finished(task, occurrence, run_id, "failed", f"cannot start: {exc}", now)
            self.webhook_runs.pop(run_id, None)
            self.metrics.observe_run(
                {"task_id": task.id, "task_name": task.name, "status": "failed"}
            )
            return
        self.busy.running[task.id] = child
        if run_id in self.webhook_runs:
            self.webhook_runs[run_id] = ("running", task.name)
        late_ms = (now - occurrence.scheduled_for).total_seconds() * 1000
        self.events.info(
            "started",
            f"task {_short(task)}: run {run_id[:8]} started (scheduled "
            f"{local_time(occurrence.scheduled_for, task)}, {occurrence.trigger}, attempt "
            f"{occurrence.attempt}, pid {child.pid}, {late_ms:.0f} ms late)",
            task_id=task.id,
            run_id=run_id,
            scheduled_for=to_utc_iso(occurrence.scheduled_for),
            trigger=occurrence.trigger,
            attempt=occurrence.attempt,
            pid=child.pid,
            late_ms=round(late_ms, 1),
        )

    def _reap(self, now: datetime) -> None:
        for task_id, child in list(self.busy.running.items()):
            code = child.poll()
            if code is None:
                child.enforce(self.config.term_to_kill_seconds)
                continue
            del self.busy.running[task_id]
            try:
                self._finished(child, code, self.clock())
            finally:
                child.cleanup()
                self.webhook_runs.pop(child.run_id, None)  # the history has it from here on

    def _finished(self, child: ChildRun, code: int, now: datetime) -> None:
        occurrence = child.occurrence
        task = self.tasks.get(occurrence.task_id)
        name = task.name if task else child.task_name
        result = child.result()
        emailed = bool(result and result.get("emailed"))
        if emailed and occurrence.trigger in SCHEDULED_TRIGGERS:
            self.delivered.add(occurrence_key(occurrence.task_id, occurrence.scheduled_for))
        permanent = True
        if child.stop_reason == "timeout" and result is None:
            limit = task.timeout_seconds if task else "?"
            status = "timeout"
            message = (
                f"the run took longer than timeout_seconds={limit} plus "
                f"{self.config.run_kill_grace_seconds:g} s; its process group was killed"
                + (" (SIGKILL: it did not stop on SIGTERM)" if child.killed else " (SIGTERM)")
            )
            self._write_finished_for(child, name, status, message, now)
        elif child.stop_reason == "shutdown" and result is None:
            status = "interrupted"
            message = "the scheduler was stopped during this run" + (
                " (killed)" if child.killed else ""
            )
            self._write_finished_for(child, name, status, message, now)
        elif result is None:
            status = "failed"
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            message = f"the run's process ended without a result ({how}); see the log above"
            permanent = False
            self._write_finished_for(child, name, status, message, now)
        else:
            status = str(result.get("status"))
            error = result.get("error") or {}
            message = str(error.get("message")) if error else ""
            permanent = bool(error.get("permanent", True))
        duration = time.monotonic() - child.started
        rows = result.get("rows") if result else None
        self.metrics.observe_run(
            {
                "task_id": occurrence.task_id,
                "task_name": name,
                "status": status,
                "duration_seconds": (result or {}).get("duration", duration),
                "rows": rows,
                "emailed": emailed,
                "finished_at": now,
            }
        )
        level = logging.INFO if status == "success" else logging.WARNING
        self.events.log(
            level,
            "finished",
            f"task {name!r}: run {child.run_id[:8]} finished: {status}"
            + (f", {rows} rows" if rows is not None else "")
            + f", {duration:.1f} s"
            + (f"; {message}" if message else ""),
            task_id=occurrence.task_id,
            run_id=child.run_id,
            status=status,
            rows=rows,
            duration_seconds=round(duration, 3),
            attempt=occurrence.attempt,
            error=message or None,
        )
        if self.options.once and (status != "success"):
            retry_pending = self._maybe_retry(task, occurrence, status, permanent, emailed, now)
            if not retry_pending:
                self.once_result.failed += 1
        elif status != "success":
            self._maybe_retry(task, occurrence, status, permanent, emailed, now)
        self.once_result.runs += 1

    def _maybe_retry(
        self,
        task: Task | None,
        occurrence: Occurrence,
        status: str,
        permanent: bool,
        emailed: bool,
        now: datetime,
    ) -> bool:
        if task is None or status not in ("failed", "timeout") or self._stopping_since:
            return False
        if permanent or emailed:
            if occurrence.attempt <= task.retry.max_retries:
                why = "the error is permanent" if permanent else "its email was already sent"
                self.events.info(
                    "not-retried", f"task {_short(task)}: not retried: {why}", task_id=task.id
                )
            return False
        if occurrence.attempt > task.retry.max_retries:
            return False
        delay = retry_delay(
            occurrence.attempt,
            task.retry.delay_seconds,
            task.retry.backoff,
            self.config.retry_max_delay_seconds,
        )
        retry = Occurrence(
            task.id,
            occurrence.scheduled_for,
            trigger=occurrence.trigger,
            attempt=occurrence.attempt + 1,
            not_before=time.monotonic() + delay,
        )
        self.busy.retrying[task.id] = retry
        self.events.info(
            "retry",
            f"task {_short(task)}: attempt {retry.attempt} of {task.retry.max_retries + 1} "
            f"in {delay:g} s",
            task_id=task.id,
            attempt=retry.attempt,
            delay_seconds=delay,
        )
        return True

    def _write_finished_for(
        self, child: ChildRun, name: str, status: str, message: str, now: datetime
    ) -> None:
        task = self.tasks.get(child.occurrence.task_id)
        self._write_finished(task, child.occurrence, child.run_id, status, message, now, name)

    def _write_finished(
        self,
        task: Task | None,
        occurrence: Occurrence,
        run_id: str,
        status: str,
        message: str,
        now: datetime,
        name: str | None = None,
    ) -> None:
        """Record a run the worker could not finish itself (killed, crashed, not started)."""
        self.history.append(
            "finished",
            run_id,
            now,
            task_id=occurrence.task_id,
            task_name=name or (task.name if task else ""),
            trigger=occurrence.trigger,
            scheduled_for=to_utc_iso(occurrence.scheduled_for),
            attempt=occurrence.attempt,
            status=status,
            finished_at=to_utc_iso(now),
            error={"type": status, "message": message, "permanent": status != "failed"},
        )

        def change(current: Task) -> Task:
            summary = current.summary
            return current.with_changes(
                summary=Summary(
                    last_run=now,
                    last_status=status,
                    last_error=message,
                    next_run=self.jobs.next_fire(current.id),
                    run_count=summary.run_count + 1,
                    error_count=summary.error_count + 1,
                )
            )

        try:
            self.store.update(occurrence.task_id, change, touch=False)
        except (TaskNotFound, StoreError) as exc:
            self.events.warning(
                "summary", f"run {run_id[:8]}: task summary not updated: {exc}", run_id=run_id
            )

    # -- the HTTP API's side (queue_webhook runs on the main loop, via the handoff) -----------

    def queue_webhook(self, task_id: str) -> TriggerResult:
        """Queue a webhook run of ``task_id`` now, under the no-overlap rule.

        Its run id is made here and used by the run, so the id in the 202 is the one in
        the history. A refusal queues nothing: a 202 always becomes a run or a record.
        """
        if self._stopping_since is not None:
            return TriggerResult(None, False, "the scheduler is stopping", unavailable=True)
        task = self.tasks.get(task_id)
        if task is None:
            return TriggerResult(None, False, "the task was deleted from the tasks file")
        if not task.enabled:
            return TriggerResult(None, False, "the task is disabled")
        reason = self.busy.reason(task_id)
        if reason is not None:
            return TriggerResult(None, False, reason)
        run_id = str(uuid.uuid4())
        occurrence = Occurrence(
            task_id, self.clock(), trigger=WEBHOOK_TRIGGER, run_id=run_id, fired_at=time.monotonic()
        )
        self.busy.add_queued(task_id)
        self.queue.append(occurrence)
        self.webhook_runs[run_id] = ("queued", task.name)  # the API logs the call itself
        return TriggerResult(run_id, True)

    def health(self) -> HealthState:
        """The scheduler as the main loop last left it (read from HTTP threads)."""
        return HealthState(
            scheduler_state="stopping" if self._stopping_since is not None else self._phase,
            tasks_loaded=len(self.task_snapshot),
            last_tick=self._last_tick,
            tasks_file_error=self._tasks_error,
            queue_depth=len(self.queue),
            running=len(self.busy.running),
        )

    def _record_dropped(self, occurrence: Occurrence, reason: str) -> None:
        """A promised webhook run that will not start: recorded ``skipped`` under its id."""
        assert occurrence.run_id is not None
        name = self.webhook_runs.pop(occurrence.run_id, ("", ""))[1]
        now = self.clock()
        self.history.append(
            "finished",
            occurrence.run_id,
            now,
            task_id=occurrence.task_id,
            task_name=name,
            trigger=occurrence.trigger,
            scheduled_for=to_utc_iso(occurrence.scheduled_for),
            status="skipped",
            finished_at=to_utc_iso(now),
            reason=reason,
        )
        self.metrics.observe_run(
            {"task_id": occurrence.task_id, "task_name": name, "status": "skipped"}
        )

    # -- live reload ------------------------------------------------------------------------

    def reload(self, *, force: bool = False) -> None:
        """Look at tasks.json now and apply what changed, on this thread (for tests and
        ``--once``; the running daemon's reload thread does the looking)."""
        update = self.reloader.check(force=force)
        if update is not None:
            self._apply(update)

    def _apply(self, update: Update) -> None:
        """Bring the jobs in line with a reload; an invalid file keeps the last good set."""
        if update.error is not None:
            self.events.error(
                "reload-failed",
                f"tasks file not reloaded, still running the {len(self.tasks)} task(s) "
                f"loaded before: {update.error}",
            )
            self._tasks_error = update.error
            return
        now = self.clock()
        was_bad = self._tasks_error is not None
        self._tasks_error = None
        previous_load = self._loaded_at or now
        self._loaded_at = update.read_at
        changes = 0
        for task in update.tasks.values():
            old = self.tasks.get(task.id)
            self.tasks[task.id] = task
            if task.id not in update.redefined:
                continue  # only its run summary changed (the daemon's own runs): no churn
            changes += 1
            if not task.enabled:
                self.jobs.remove(task.id)
                self.events.info(
                    "disabled" if old is not None else "added",
                    f"task {_short(task)}: "
                    + ("disabled; no more runs" if old is not None else "added (disabled)"),
                    task_id=task.id,
                )
                continue
            if old is None:
                # fire times since it was created (or since the last look) are not lost
                since = max(
                    t
                    for t in (task.created_at, previous_load - timedelta(seconds=1))
                    if t is not None
                )
                first = task.schedule.next_after(min(since, now))
                verb = "added"
            else:
                first = task.schedule.next_after(now)
                verb = "enabled" if not old.enabled else "rescheduled"
            self.jobs.put(task.id, task.schedule, first)
            self.events.info(
                verb,
                f"task {_short(task)}: {verb}; {task.schedule.describe()}; next run "
                f"{local_time(first, task)} ({task.timezone})",
                task_id=task.id,
                next_run=to_utc_iso(first) if first else None,
            )
        for task_id in update.removed:
            gone = self.tasks.pop(task_id)
            self.jobs.remove(task_id)
            changes += 1
            self.events.info(
                "removed", f"task {_short(gone)}: deleted; no more runs", task_id=task_id
            )
        self.task_snapshot = [self.tasks[task_id] for task_id in update.order]
        if changes or update.forced or was_bad:
            self.events.info(
                "reloaded",
                f"tasks file reloaded{' (valid again)' if was_bad else ''}: {changes} "
                f"change(s), {len(self.jobs)} job(s)",
                changes=changes,
                jobs=len(self.jobs),
            )
