"""The scheduler daemon: its main loop, and the parts it wires together.

One thread (the main one) owns all state. APScheduler's thread only announces due
fire times (:mod:`jobs`); signals, those announcements, webhook calls and reloads of
tasks.json wake the main loop through one self-pipe, so the daemon sleeps between
events (idle CPU ~0) and reacts at once. Each round (:meth:`Daemon.tick`):

1. signals (stop, reload); the wall clock against the monotonic one (:mod:`clockwatch`):
   a step re-plans the timers at once and holds retention until the clock is stable;
2. webhook calls handed over by HTTP threads (:mod:`src.services.webhook`);
3. fires: the timetable (:mod:`timetable`) says what is due, the dispatcher
   (:mod:`dispatch`) admits it;
4. ended child runs are reaped and recorded; retries whose time came are queued;
5. queued occurrences start while run slots are free;
6. reloads of tasks.json (parsed in the reload thread, :mod:`reloader`) move jobs;
7. the state file is flushed and systemd's watchdog fed (:mod:`notify`);
8. every few seconds the data folder is looked at (:mod:`storage`): while it cannot be
   written no run starts, due occurrences are held and the daemon's records kept in
   memory; once it can, they are written and the held occurrences caught up.

Start-up recovery (cut-off runs, missed occurrences) is :mod:`recovery`; every record
of a run goes through :class:`~src.services.recorder.RunRecorder`. Each step is a
method a test can call with its own ``now``.

Longer than ~400 lines on purpose: start, the loop, the clock watch and shutdown share
the one state the main thread owns; the deciding is in the modules named above, and
what is left here is wiring, one short method per step, read top to bottom.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

from src.core.clock import now as clock_now
from src.services.cluster.mode import ClusterMode
from src.services.cluster.pause import ClusterPause
from src.services.history import RunHistory
from src.services.permissions import private_file_warnings
from src.services.recorder import RunLog, RunRecorder
from src.services.retention import GATE, RetentionGate
from src.services.scheduler.api import serve_http
from src.services.scheduler.clockwatch import ClockWatch
from src.services.scheduler.dispatch import ChildSetup, Dispatcher
from src.services.scheduler.eventlog import EventLog
from src.services.scheduler.instance import InstanceLock, hard_link_warnings
from src.services.scheduler.jobs import JobTable
from src.services.scheduler.notify import Notifier
from src.services.scheduler.pause import PAUSED_WHY, PauseFile, PauseState, pause_path
from src.services.scheduler.recovery import (
    HistoryView,
    recover,
    sweep_run_files,
    sweep_stale_parts,
)
from src.services.scheduler.reloader import Reloader
from src.services.scheduler.settings import CLOCK_CHECK_SECONDS, DaemonSettings
from src.services.scheduler.state import StateFile
from src.services.scheduler.storage import HeldFires, HeldLog, StorageHealth
from src.services.scheduler.timetable import Timetable, occurrence_key
from src.services.settings import Settings
from src.services.task_store import TaskStore
from src.services.webhook import Handoff, HttpServer, Metrics, WebhookSettings


@dataclass(frozen=True)
class DaemonOptions:
    tasks_file: Path
    env_file: Path | None = None
    once: bool = False
    log_level: str = "INFO"
    log_format: str = "text"
    http: str | None = None  # --http HOST:PORT (wins over HTTP_LISTEN)
    upgrade_db: bool = False  # --upgrade-db: bring the cluster schema up to date at start


class Daemon:
    def __init__(
        self,
        options: DaemonOptions,
        env: Mapping[str, str],
        *,
        clock: Callable[[], datetime] = clock_now,
        monotonic: Callable[[], float] | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.options = options
        self.env = dict(env)
        # a test's fake wall clock without a monotonic one is its own: it never steps; and
        # a test's daemon holds a retention gate of its own, not the process's
        real = clock is clock_now
        self.monotonic = monotonic or (time.monotonic if real else lambda: clock().timestamp())
        self.gate = GATE if real else RetentionGate()
        self.tasks_file = options.tasks_file
        default_timezone = self.env.get("DEFAULT_TIMEZONE") or "UTC"
        self.settings = Settings.from_env(self.env, base_dir=self.tasks_file.resolve().parent)
        self.daemon_settings = DaemonSettings.from_env(self.env)
        # cluster mode (CLUSTER_DATABASE_URL, src/services/cluster/): the tasks, history and
        # pause are the cluster's, each occurrence is claimed, and the clock is the database's
        self.cluster = ClusterMode.from_env(
            self.env,
            capacity=self.daemon_settings.max_concurrent_runs,
            running=lambda: len(self.dispatch.busy.running),
        )
        if self.cluster is not None and real:
            clock = self.cluster.node.now
        self.clock = clock
        self.store: TaskStore = TaskStore(self.tasks_file, default_timezone=default_timezone)
        keep_days = self.settings.history_keep_days
        self.history: RunLog = RunHistory(self.settings.history_path, keep_days, self.gate)
        if self.cluster is not None:
            self.store = self.cluster.task_store(self.tasks_file, default_timezone)
            self.history = self.cluster.run_log(keep_days)
        self.events = EventLog()
        # a record the daemon cannot write (a full disk) is held, never dropped
        self.storage = StorageHealth(
            self.settings.data_dir,
            self.events,
            check_seconds=self.daemon_settings.storage_check_seconds,
            min_free_bytes=self.daemon_settings.storage_min_free_bytes,
        )
        self.held_fires = HeldFires(self.events)
        # paused (CLI or API; survives restarts): due occurrences held until resume
        self.pause: PauseFile | ClusterPause = PauseFile(pause_path(self.settings.data_dir))
        if self.cluster is not None:
            self.pause = self.cluster.pause()
        #: cluster mode: due while the database could not be reached (caught up on rejoin)
        self.offline_fires = HeldFires(
            self.events, event="offline", why="the cluster database cannot be reached"
        )
        self.paused_fires = HeldFires(self.events, event="paused", why=PAUSED_WHY)
        self.paused = PauseState(False)
        log = HeldLog(self.history, self.settings.history_path, self.storage)
        self.recorder = RunRecorder(log, self.store, clock=clock, hold=self.storage.hold)
        self.state = StateFile(self.settings.data_dir / "scheduler" / "state.json")
        self.work_dir = self.settings.data_dir / "scheduler" / "runs"
        self.notifier = notifier or Notifier()
        self.instance = InstanceLock(self.tasks_file)
        self.metrics = Metrics(clock=clock)
        self.timetable = Timetable(
            JobTable(self._on_fire), self.events, self.daemon_settings.catch_up_window
        )
        self.dispatch = Dispatcher(
            self.timetable.tasks,
            self.daemon_settings,
            ChildSetup(
                self.work_dir,
                self.tasks_file,
                options.env_file,
                default_timezone,
                options.log_level,
                options.log_format,
            ),
            recorder=self.recorder,
            state=self.state,
            storage=self.storage,
            events=self.events,
            metrics=self.metrics,
            clock=clock,
            once=options.once,
        )
        self.dispatch.cluster = self.cluster.claims if self.cluster is not None else None
        # tasks.json is watched and parsed in a thread; the main loop applies its updates
        poll = self.daemon_settings.reload_poll_seconds
        self.reloader = Reloader(self.store, clock, poll, self._wake)
        self.clockwatch = ClockWatch(
            clock(),
            self.monotonic(),
            step_seconds=self.daemon_settings.clock_step_seconds,
            stable_seconds=self.daemon_settings.clock_stable_seconds,
        )
        self.dispatch.retention_hold = self.clockwatch.hold(self.gate, self.monotonic())

        self._fired: deque[tuple[str, list[datetime]]] = deque()
        self._signals: deque[int] = deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._last_flush = 0.0
        self._last_watchdog = 0.0
        self._stopping_since: float | None = None
        self._stop_signals = 0

        # the HTTP API (off unless HTTP_LISTEN / --http): its threads read snapshots and
        # hand calls to the main loop through self.handoff
        self.handoff = Handoff(self._wake)
        self.http: HttpServer | None = None
        self._phase = "starting"
        self.last_tick: datetime | None = None

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
            if self.instance.note:
                self.events.warning("lock", self.instance.note)
            sweep_run_files(self.work_dir, (self.tasks_file, self.state.path))
            for warning in private_file_warnings(
                [p for p in (self.options.env_file, self.tasks_file) if p is not None]
            ):
                self.events.warning("permissions", warning)
            for warning in hard_link_warnings(self.tasks_file):
                self.events.warning("hard-link", warning)
            self._install_signals()
            if self.cluster is not None:
                self.cluster.start(
                    upgrade_schema=self.options.upgrade_db, on_edit=self.reloader.kick
                )
                self.events.info("cluster", f"joined as {self.cluster.describe()}")
                # the timers fire by the database's clock, whatever this machine's says
                self.timetable.jobs.skew = timedelta(seconds=round(self.cluster.node.offset, 3))
            self.start()
            if self.options.once:
                return self._run_once()
            if web is not None:
                self.http = serve_http(self, web)
            return self._run_forever()
        finally:
            self.reloader.stop()
            self.handoff.close()  # first: HTTP threads waiting on the loop get their 503
            if self.http is not None:
                self.http.stop()
            self.timetable.jobs.shutdown()
            self._flush_state()
            self.storage.give_up()
            if self.cluster is not None:
                self.cluster.stop()
            self.instance.release()

    def start(self) -> None:
        """Load the tasks, recover from the last stop, queue what was missed, say so."""
        now = self.clock()
        task_file = self.reloader.prime()  # an invalid file at start is fatal: nothing to run
        self.state.load()
        self.storage.check(force=True)  # a full disk at start: say so, start no run
        view = HistoryView.build(self.history.runs())
        if self.cluster is not None:  # a live peer's runs are not ours to call cut off
            name = self.cluster.node.name
            view.unfinished = [r for r in view.unfinished if r.data.get("node") == name]
        self.dispatch.delivered = set(view.delivered)
        self.timetable.load(task_file.tasks, now, schedule=not self.options.once)
        self.events.info(
            "loaded",
            f"loaded {len(task_file.tasks)} task(s) from {self.tasks_file}",
            tasks=len(task_file.tasks),
            tasks_file=str(self.tasks_file),
        )
        missed = recover(
            task_file.tasks, view, self.state, self.timetable, self.recorder, self.events, now
        )
        self.paused = self.pause.read()
        for due in missed:
            if self.paused.paused:  # run on resume (--once: left for the next start)
                self.paused_fires.add(due.task, [o.scheduled_for for o in due.run])
                due = replace(due, run=[], summary=None)
            self.dispatch.admit(due, now)
        self.state.forget(self.timetable.tasks)
        grace = self.daemon_settings.run_kill_grace_seconds
        if swept := sweep_stale_parts(self.settings.exports_dir, task_file.tasks, grace):
            self.events.info("swept", f"removed {swept} partial export file(s) of cut-off runs")
        self._banner([due.summary for due in missed if due.summary])
        if self.paused.paused:
            self.events.warning(
                "paused",
                f"the scheduler is paused (by {self.paused.by}): no scheduled run starts "
                "until `manage_tasks.py resume` or POST /api/scheduler/resume",
            )

    def _banner(self, catching_up: list[str]) -> None:
        self.timetable.announce(self.clock())
        for line in catching_up:
            self.events.info("catch-up", f"catching up: {line}")
        if not self.timetable.tasks:
            self.events.info(
                "empty",
                f"no tasks in {self.tasks_file} yet; add one with `manage_tasks.py "
                f"--tasks-file {self.tasks_file} add` (e.g. --name Demo --query 'SELECT 1' "
                "--every 1m --to you@example.com); it is picked up within 2 seconds",
            )
        enabled = sum(1 for task in self.timetable.tasks.values() if task.enabled)
        mode = "--once: running due and missed occurrences" if self.options.once else "running"
        self.events.info(
            "running",
            f"Scheduler is {mode} ({enabled} enabled task(s), tasks file "
            f"{self.tasks_file}, pid {os.getpid()})",
            tasks=enabled,
            pid=os.getpid(),
        )

    def _install_signals(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            self._signals.append(signum)

        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, handler)

    # -- loops ------------------------------------------------------------------------------

    def _run_forever(self) -> int:
        self.timetable.jobs.start()
        self.reloader.start()
        # the 10,000 tasks loaded at start live as long as the daemon: keep them out of
        # the collector's full passes, which hold the GIL while a fire waits (~50 ms)
        gc.collect()
        gc.freeze()
        self._phase = "running"
        self.notifier.ready(f"running {len(self.timetable.jobs)} job(s)")
        while True:
            timeout = self.tick()
            if timeout is None:
                return 0
            self.sleep(timeout)

    def _run_once(self) -> int:
        while not self.dispatch.idle:
            if not self.storage.ok and not self.dispatch.stopping:  # nobody waits for space
                left = self.dispatch.stop()
                self.events.error("storage", f"--once: {left} occurrence(s) left for catch-up")
                self.dispatch.once_result.failed += left
            timeout = self.tick(poll_file=False)
            if timeout is None:
                break
            self.sleep(timeout)
        self.store.apply_pending()  # a summary the last run had to queue, if the lock is free
        result = self.dispatch.once_result
        self.events.info(
            "done",
            f"--once: {result.runs} run(s), {result.failed} not successful",
            runs=result.runs,
            failed=result.failed,
        )
        return 1 if result.failed or self._stop_signals else 0

    def sleep(self, timeout: float) -> None:
        """Until ``timeout`` seconds pass or something wakes the loop."""
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

    def _on_fire(self, task_id: str, times: list[datetime]) -> None:
        """Called in APScheduler's thread: hand over and wake the main loop."""
        self._fired.append((task_id, times))
        self._wake()

    def tick(self, *, poll_file: bool = True) -> float | None:
        """One round of the main loop; returns seconds to sleep, None to exit."""
        while self._signals:
            self._on_signal(self._signals.popleft())
        self.last_tick = now = self.clock()
        self.watch_clock(now)
        self.handoff.run_pending()  # webhook triggers: queued before the queue is started
        while self._fired:
            task_id, times = self._fired.popleft()
            self.fire(task_id, times, now)
        self.dispatch.reap()
        if self._stopping_since is not None:
            return self._shutdown_step()
        if self.storage.check():  # writable again: what was held is caught up per policy
            for due in self.held_fires.due(self.timetable, self.dispatch.delivered, now):
                if due.summary:
                    self.events.info("catch-up", f"catching up: {due.summary}")
                self.dispatch.admit(due, now)
        if self.cluster is not None:
            self.cluster_step(now)
        self.dispatch.release_retries()
        self.dispatch.start_queued(self.clock())  # before a reload: a due run goes first
        if poll_file and self.reloader.updates:
            while self.reloader.updates:  # parsed in the reload thread: only jobs move here
                self.timetable.apply(self.reloader.updates.popleft(), self.clock())
            self.dispatch.start_queued(self.clock())
        self._housekeeping()
        limit = min(self.daemon_settings.reload_poll_seconds, CLOCK_CHECK_SECONDS)
        return self.dispatch.seconds_to_next_event(limit)

    def cluster_step(self, now: datetime) -> None:
        """Cluster mode: back online, what came due meanwhile is caught up (claims keep it
        to one node); dead peers' runs are recorded and re-run per each task's catch_up."""
        assert self.cluster is not None
        # (the heartbeat thread may have taken the node offline and back between two ticks:
        # what was held meanwhile is what says there is something to catch up)
        if self.cluster.online and self.offline_fires.since:
            for due in self.offline_fires.due(self.timetable, self.dispatch.delivered, now):
                self.dispatch.admit(due, now)
        if self.cluster.online and self.gate.refusal() is None:  # the clock stable a while
            dropped = self.cluster.prune_history(now, self.settings.history_keep_days)
            if dropped:
                self.events.info(
                    "history", f"dropped {dropped} line(s) of runs past HISTORY_KEEP_DAYS"
                )
        in_flight = [child.run_id for child in self.dispatch.busy.running.values()]
        for reaped in self.cluster.dead_claims(in_flight):
            key = occurrence_key(reaped.task_id, reaped.scheduled_for)
            if reaped.emailed:
                self.dispatch.delivered.add(key)
                continue
            task = self.timetable.tasks.get(reaped.task_id)
            if task is None or not task.enabled or self.paused.paused:
                continue
            rerun = self.timetable.missed(
                task, now, now, {reaped.scheduled_for}, self.dispatch.delivered
            )
            if rerun is not None:
                self.events.info("take-over", f"run of dead node {reaped.node}: {rerun.summary}")
                self.dispatch.admit(rerun, now)

    def watch_clock(self, now: datetime) -> None:
        """Did the wall clock jump since the last look? Re-plan at once if so; and hold
        retention (here and in the runs started) until it has been stable a while."""
        step = self.clockwatch.observe(now, self.monotonic())
        if step is not None:
            self.events.warning("clock-step", step.message(), step_seconds=round(step.seconds, 3))
            if not step.forward:
                self.dispatch.clock_stepped_back(now, step.describe())
            if not self.options.once:
                self.timetable.on_clock_step(step, now)
        self.dispatch.retention_hold = self.clockwatch.hold(self.gate, self.monotonic())

    def fire(self, task_id: str, times: list[datetime], now: datetime) -> None:
        """``task_id`` is due at ``times``: what the timetable says is due is admitted."""
        if self._stopping_since is not None:
            return
        task = self.timetable.tasks.get(task_id)
        if self.cluster is not None and not self.cluster.online and task is not None:
            self.offline_fires.add(task, times)  # not claimable: caught up on rejoin
            return
        if not self.storage.ok and task is not None and task.enabled:
            self.held_fires.add(task, times)  # not run, not recorded: caught up later
            return
        if self.paused.paused and task is not None and task.enabled:
            self.paused_fires.add(task, times)
            return
        due = self.timetable.fired(task_id, times, now, self.dispatch.delivered)
        if due is not None:
            self.dispatch.admit(due, now)

    def apply_pause(self, state: PauseState, now: datetime) -> None:
        """Take a pause or resume (the file changed, or the API asked) into effect."""
        was = self.paused.paused
        self.paused = state
        if state.paused and not was:
            self.events.info(
                "paused", f"scheduler paused by {state.by}: no new scheduled runs until resumed"
            )
        elif was and not state.paused:
            self.events.info("resumed", "scheduler resumed; catching up per each task's catch_up")
            for due in self.paused_fires.due(self.timetable, self.dispatch.delivered, now):
                if due.summary:
                    self.events.info("catch-up", f"catching up: {due.summary}")
                self.dispatch.admit(due, now)

    def set_paused(self, paused: bool, by: str) -> PauseState:
        """Pause or resume from the HTTP API (on the main loop, through the handoff)."""
        now = self.clock()
        state = self.pause.write(paused, by, now)
        self.apply_pause(state, now)
        return state

    def _housekeeping(self) -> None:
        moment = time.monotonic()
        if moment - self._last_flush >= 0.5:
            self._last_flush = moment
            self._flush_state()
            self.apply_pause(self.pause.read(), self.clock())
            # run summaries queued while a person's command held tasks.json's lock
            self.store.apply_pending()
        interval = self.notifier.watchdog_seconds
        if interval and moment - self._last_watchdog >= interval / 2:
            self._last_watchdog = moment
            self.notifier.watchdog()

    def _flush_state(self) -> None:
        try:
            self.state.flush(self.clock())
        except OSError as exc:  # stays dirty: flushed again once there is room
            self.storage.failed("the state file", self.state.path, exc)

    @property
    def phase(self) -> str:
        """``starting``, ``running`` or ``stopping`` (read from HTTP threads)."""
        return "stopping" if self._stopping_since is not None else self._phase

    # -- signals and shutdown: warm (finish runs, up to a grace period), then cold ----------

    def _on_signal(self, signum: int) -> None:
        if signum == signal.SIGCHLD:
            return  # only wakes the loop: reaping looks at every child
        if signum == signal.SIGHUP:
            self.events.info("reload", "SIGHUP: reloading the tasks file")
            self.reloader.request_reload()
            return
        self._stop_signals += 1
        name = signal.Signals(signum).name
        running = self.dispatch.busy.running
        if self._stopping_since is not None:
            self.events.warning(
                "stopping", f"{name} again: stopping now, interrupting running runs"
            )
            for child in running.values():
                child.kill_now("shutdown")
            return
        self._stopping_since = time.monotonic()
        self.timetable.jobs.shutdown()
        self.notifier.stopping(f"{name}: stopping")
        dropped = self.dispatch.stop()
        self.events.info(
            "stopping",
            f"{name}: stopping; no new runs; waiting up to "
            f"{self.daemon_settings.shutdown_grace_seconds:g} s for {len(running)} "
            f"running run(s) ({name} again stops at once)"
            + (f"; {dropped} queued/retrying occurrence(s) left for catch-up" if dropped else ""),
            signal=name,
        )

    def _shutdown_step(self) -> float | None:
        assert self._stopping_since is not None
        limits = self.daemon_settings
        running = self.dispatch.busy.running
        if time.monotonic() - self._stopping_since >= limits.shutdown_grace_seconds:
            for child in running.values():
                if child.stop_reason is None:
                    self.events.warning(
                        "stopping",
                        f"run {child.run_id[:8]} of {child.task_name!r} still running after the "
                        f"{limits.shutdown_grace_seconds:g} s grace period; stopping it",
                    )
                    child.stop("shutdown", limits.term_to_kill_seconds)
        for child in running.values():
            child.enforce(limits.term_to_kill_seconds)
        if not running:
            self.events.info("stopped", "scheduler stopped")
            return None
        return 0.1
