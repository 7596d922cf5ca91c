"""The daemon's time logic without waiting: fake clocks and shifted state.

DST: a daily 02:30 task fires once on spring-forward day (at 03:00, the first valid
time) and once on fall-back day (the first 02:30), in America/New_York and
Europe/Berlin, both through the APScheduler trigger the daemon uses and through
catch-up after a downtime across the night.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from src.core.clock import to_utc_iso
from src.core.errors import TaskValidationErrors
from src.core.schedule import CronSchedule
from src.core.task import Task, new_task_id
from src.core.vocabulary import CatchUpPolicy, RunStatus, Trigger
from src.services.history import RunHistory
from src.services.recorder import RunRecorder, RunRef
from src.services.scheduler.daemon import Daemon, DaemonOptions
from src.services.scheduler.jobs import ScheduleTrigger
from src.services.scheduler.notify import Notifier
from src.services.scheduler.recovery import HistoryView
from src.services.scheduler.retries import retry_delay
from src.services.scheduler.timetable import CatchUp, catch_up_of, plan_catch_up
from src.services.task_store import TaskStore

ROOT = Path(__file__).resolve().parent.parent

# (zone, local day, expected local fire times on that day)
DST_DAYS = [
    ("America/New_York", "2026-03-08", ["03:00 EDT"]),  # 02:00 -> 03:00: 02:30 does not exist
    ("America/New_York", "2026-11-01", ["02:30 EST"]),  # 02:00 -> 01:00: 02:30 exists once
    ("Europe/Berlin", "2026-03-29", ["03:00 CEST"]),  # 02:00 -> 03:00
    ("Europe/Berlin", "2026-10-25", ["02:30 CEST"]),  # 03:00 -> 02:00: 02:30 twice, first wins
]


def _fires_on(trigger: ScheduleTrigger, zone: ZoneInfo, day: str) -> list[str]:
    """Drive the trigger as APScheduler does (previous fire -> next) over three days."""
    start = datetime.fromisoformat(day).replace(tzinfo=zone) - timedelta(days=1)
    fire = trigger.get_next_fire_time(None, start.astimezone(UTC))
    seen: list[str] = []
    while fire is not None and fire < start.astimezone(UTC) + timedelta(days=3):
        local = fire.astimezone(zone)
        if local.date().isoformat() == day:
            seen.append(local.strftime("%H:%M %Z"))
        fire = trigger.get_next_fire_time(fire, fire)
    return seen


@pytest.mark.parametrize(("zone_name", "day", "expected"), DST_DAYS)
def test_trigger_fires_once_on_dst_days(zone_name: str, day: str, expected: list[str]) -> None:
    zone = ZoneInfo(zone_name)
    trigger = ScheduleTrigger(CronSchedule.parse("30 2 * * *", zone))
    assert _fires_on(trigger, zone, day) == expected


def _daemon(tmp_path: Path, now: datetime) -> Daemon:
    options = DaemonOptions(tasks_file=tmp_path / "tasks.json", once=True)
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    return Daemon(options, env, clock=lambda: now)


@pytest.mark.parametrize(("zone_name", "day", "expected"), DST_DAYS)
@pytest.mark.parametrize("policy", ["all", "latest"])
def test_catch_up_across_a_dst_night_runs_it_once(
    tmp_path: Path, zone_name: str, day: str, expected: list[str], policy: str
) -> None:
    zone = ZoneInfo(zone_name)
    midnight = datetime.fromisoformat(day).replace(tzinfo=zone)
    created = midnight - timedelta(hours=6)  # the daemon went down before the night...
    now = midnight + timedelta(hours=8)  # ...and came back in the morning
    store = TaskStore(tmp_path / "tasks.json")
    task = Task.from_dict(
        {
            "id": new_task_id(),
            "name": "Nightly",
            "query": "SELECT 1",
            "schedule": {"cron": "30 2 * * *"},
            "timezone": zone_name,
            "catch_up": policy,
        }
    )
    store.add(task, now=created)
    daemon = _daemon(tmp_path, now)
    daemon.start()
    queued = [o.scheduled_for.astimezone(zone).strftime("%H:%M %Z") for o in daemon.dispatch.queue]
    assert queued == expected
    assert all(o.trigger == "catch-up" for o in daemon.dispatch.queue)


def test_state_file_is_the_baseline_after_restart(tmp_path: Path) -> None:
    zone = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 6, 10, 12, 0, tzinfo=zone)
    store = TaskStore(tmp_path / "tasks.json")
    task = Task.from_dict(
        {
            "id": new_task_id(),
            "name": "Hourly",
            "query": "SELECT 1",
            "schedule": {"cron": "0 * * * *"},
            "timezone": "Europe/Berlin",
            "catch_up": "all",
        }
    )
    store.add(task, now=now - timedelta(days=3))
    state = tmp_path / "data" / "scheduler" / "state.json"
    state.parent.mkdir(parents=True)
    handled = now - timedelta(hours=2, minutes=30)  # 09:30: 10:00, 11:00, 12:00 were missed
    task_id = store.load().tasks[0].id
    state.write_text(f'{{"version": 1, "last_handled": {{"{task_id}": "{to_utc_iso(handled)}"}}}}')
    daemon = _daemon(tmp_path, now)
    daemon.start()
    assert [o.scheduled_for.astimezone(zone).hour for o in daemon.dispatch.queue] == [10, 11, 12]


def test_plan_latest_skips_older_and_window() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    times = [now - timedelta(hours=h) for h in (30, 3, 2, 1)]
    plan = plan_catch_up(times, CatchUp("latest", timedelta(hours=24)), now)
    assert plan.run == [now - timedelta(hours=1)]
    reasons = [reason for _, reason in plan.skipped]
    assert len(reasons) == 3
    assert reasons[0].startswith("missed; older than the catch-up window")
    assert all(r.startswith("missed; only the latest") for r in reasons[1:])


def test_catch_up_policy_comes_from_the_task_else_the_daemon_default() -> None:
    def task(**fields: str) -> Task:
        base = {"id": "c1", "name": "C", "query": "SELECT 1", "schedule": {"cron": "0 * * * *"}}
        return Task.from_dict({**base, **fields})

    day = timedelta(hours=24)
    assert catch_up_of(task(), day) == CatchUp(CatchUpPolicy.LATEST, day)
    assert catch_up_of(task(catch_up="all", catch_up_window="2h"), day) == CatchUp(
        CatchUpPolicy.ALL, timedelta(hours=2)
    )
    with pytest.raises(TaskValidationErrors, match="'sometimes'"):
        task(catch_up="sometimes")  # refused when the task is loaded, never at a fire


def test_retry_delay_is_exponential_and_capped() -> None:
    assert [retry_delay(a, 60, 2, 3600) for a in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert retry_delay(20, 60, 2, 3600) == 3600
    assert retry_delay(5000, 60, 2, 3600) == 3600  # no overflow


def test_notifier_sends_to_notify_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(5)
        notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "20000000"})
        assert notifier.watchdog_seconds == 20.0
        assert notifier.ready("running 3 job(s)")
        message = server.recv(4096).decode()
        assert message.splitlines()[:2] == ["READY=1", "STATUS=running 3 job(s)"]
        assert notifier.watchdog()
        assert server.recv(4096) == b"WATCHDOG=1"
    assert not Notifier({}).ready("x")  # no NOTIFY_SOCKET: nothing to do


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip(
            "systemd-analyze is not installed (not a service: the systemd package is absent "
            "on this machine, so the unit files cannot be checked here)"
        )
    units = ROOT / "deploy" / "systemd"
    # verify needs the ExecStart binary to exist: point it at this venv's python
    for name in ("db-scheduler.service", "db-scheduler-once.service", "db-scheduler-once.timer"):
        text = (units / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("/opt/db-scheduler", str(ROOT)), "utf-8")
    result = subprocess.run(
        [
            analyze,
            "verify",
            *(str(tmp_path / n) for n in sorted(p.name for p in tmp_path.iterdir())),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    ours = [line for line in result.stderr.splitlines() if "db-scheduler" in line]
    assert result.returncode == 0 and not ours, result.stderr


def _history_lines(history: RunHistory, task_id: str, at: datetime, *steps: dict) -> None:
    recorder = RunRecorder(history, None, clock=lambda: at)
    for index, fields in enumerate(steps):
        run_id = f"r{index}-{at:%H%M}"
        ref = RunRef(run_id, task_id, "Hourly", Trigger.SCHEDULE, at, fields.get("attempt", 1))
        recorder.started(ref, at)
        if fields["status"] == RunStatus.SKIPPED:
            recorder.skipped(ref, fields["reason"])
        else:
            status = RunStatus(fields["status"])
            recorder.finished(ref, status, started_at=at, at=at, error=fields.get("error"))


def test_a_retry_pending_when_the_scheduler_stopped_runs_after_the_restart(
    tmp_path: Path,
) -> None:
    zone = ZoneInfo("UTC")
    now = datetime(2026, 6, 10, 12, 30, tzinfo=zone)
    store = TaskStore(tmp_path / "tasks.json")
    task = Task.from_dict(
        {
            "id": "retry-1",
            "name": "Hourly",
            "query": "SELECT 1",
            "schedule": {"cron": "0 * * * *"},
            "retry": {"max_retries": 2},
            "catch_up": "all",
        }
    )
    store.add(task, now=now - timedelta(days=3))
    history = RunHistory(tmp_path / "data" / "runs.jsonl")
    transient = {"status": "failed", "error": {"type": "query", "permanent": False}}
    permanent = {"status": "failed", "error": {"type": "query", "permanent": True}}
    noon = datetime(2026, 6, 10, 12, tzinfo=zone)
    _history_lines(history, "retry-1", noon - timedelta(hours=2), {**transient, "attempt": 3})
    _history_lines(history, "retry-1", noon - timedelta(hours=1), permanent)
    _history_lines(history, "retry-1", noon, {**transient, "attempt": 1})
    daemon = _daemon(tmp_path, now)
    daemon.start()
    # 10:00 used up its retries, 11:00 failed for good; 12:00 was waiting for attempt 2
    assert [o.scheduled_for.hour for o in daemon.dispatch.queue] == [12]
    # a later decision settles an occurrence: recorded as skipped, it is not picked again
    _history_lines(history, "retry-1", noon, {"status": "skipped", "reason": "test"})
    used_up = {noon - timedelta(hours=2): 3}  # listed, but the daemon sees no try left
    assert HistoryView.build(history.runs()).retry_pending == {"retry-1": used_up}
