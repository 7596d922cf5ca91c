"""The daemon's settings, read from .env / the environment; defaults with their reasons.

| Variable | Default | Meaning |
|---|---|---|
| ``MAX_CONCURRENT_RUNS`` | ``4`` | Runs at once; more wait in a queue. |
| ``SHUTDOWN_GRACE_SECONDS`` | ``30`` | On SIGTERM, how long running runs may finish. |
| ``RUN_KILL_GRACE_SECONDS`` | ``15`` | Past ``timeout_seconds``, until the run is killed. |
| ``CATCH_UP_WINDOW`` | ``24h`` | Missed runs older than this are not caught up. |
| ``RETRY_MAX_DELAY_SECONDS`` | ``3600`` | Cap of the exponential retry backoff. |
| ``RELOAD_POLL_SECONDS`` | ``0.5`` | How often tasks.json is checked for changes. |
| ``CLOCK_STEP_SECONDS`` | ``2`` | A wall-clock jump larger than this is a clock step. |
| ``CLOCK_STABLE_SECONDS`` | ``600`` | After a step (or start), retention waits this long. |
| ``STORAGE_CHECK_SECONDS`` | ``5`` | How often free space is looked at (and a write tried). |
| ``STORAGE_MIN_FREE_BYTES`` | ``1048576`` | Less free in ``DATA_DIR``: no run starts. |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from src.core.errors import ConfigError, ValidationError
from src.core.schedule import parse_period
from src.services.envparse import env_number

#: Two cores run four report queries comfortably; more mostly makes each one slower.
MAX_CONCURRENT_RUNS = 4
#: Long enough for a typical report to finish and mail; short of systemd's 90 s stop timeout.
SHUTDOWN_GRACE_SECONDS = 30.0
#: The query's own timeout fires first; this leaves time for exports and the email after it.
RUN_KILL_GRACE_SECONDS = 15.0
#: After SIGTERM a run's process group has this long to exit before SIGKILL.
TERM_TO_KILL_SECONDS = 2.0
#: A day: yesterday's report still matters after a night of downtime, last week's does not.
CATCH_UP_WINDOW = timedelta(hours=24)
#: An hour: retries keep coming while a server is down, but not hammering it.
RETRY_MAX_DELAY_SECONDS = 3600.0
#: Twice a second meets "changes seen within 2 s" with room for the reload.
RELOAD_POLL_SECONDS = 0.5
#: NTP slews at most 0.5 ms a second and the clocks are compared every second: anything
#: past 2 s is a step (or a suspend), not drift, and is still far below a schedule's grain.
CLOCK_STEP_SECONDS = 2.0
#: Ten minutes: chrony/ntpd correct a bad source or RTC within minutes; retention (the
#: only thing that waits) loses nothing by waiting that long.
CLOCK_STABLE_SECONDS = 600.0
#: The main loop compares the clocks at least this often, even when idle: a step is
#: noticed (and the timers re-planned) within a second.
CLOCK_CHECK_SECONDS = 1.0
#: A few seconds: a freed disk is used again soon, and a statvfs call costs nothing.
STORAGE_CHECK_SECONDS = 5.0
#: A megabyte: a run's records and the state file take kilobytes; with less, the run's
#: records would fail before its end, so it is better not started.
STORAGE_MIN_FREE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class DaemonSettings:
    max_concurrent_runs: int = MAX_CONCURRENT_RUNS
    shutdown_grace_seconds: float = SHUTDOWN_GRACE_SECONDS
    run_kill_grace_seconds: float = RUN_KILL_GRACE_SECONDS
    term_to_kill_seconds: float = TERM_TO_KILL_SECONDS
    catch_up_window: timedelta = CATCH_UP_WINDOW
    retry_max_delay_seconds: float = RETRY_MAX_DELAY_SECONDS
    reload_poll_seconds: float = RELOAD_POLL_SECONDS
    clock_step_seconds: float = CLOCK_STEP_SECONDS
    clock_stable_seconds: float = CLOCK_STABLE_SECONDS
    storage_check_seconds: float = STORAGE_CHECK_SECONDS
    storage_min_free_bytes: int = STORAGE_MIN_FREE_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DaemonSettings:
        window_text = (env.get("CATCH_UP_WINDOW") or "").strip()
        window = CATCH_UP_WINDOW
        if window_text:
            try:
                window = parse_period(window_text, "CATCH_UP_WINDOW")
            except ValidationError as exc:
                raise ConfigError(f"CATCH_UP_WINDOW={window_text!r}: {exc.message}") from None
        max_runs = env_number(env, "MAX_CONCURRENT_RUNS", MAX_CONCURRENT_RUNS, 1)
        if max_runs != int(max_runs):
            raise ConfigError(f"MAX_CONCURRENT_RUNS={max_runs:g} is not a whole number")
        return cls(
            max_concurrent_runs=int(max_runs),
            shutdown_grace_seconds=env_number(
                env, "SHUTDOWN_GRACE_SECONDS", SHUTDOWN_GRACE_SECONDS, 0
            ),
            run_kill_grace_seconds=env_number(
                env, "RUN_KILL_GRACE_SECONDS", RUN_KILL_GRACE_SECONDS, 0
            ),
            catch_up_window=window,
            retry_max_delay_seconds=env_number(
                env, "RETRY_MAX_DELAY_SECONDS", RETRY_MAX_DELAY_SECONDS, 0
            ),
            reload_poll_seconds=env_number(env, "RELOAD_POLL_SECONDS", RELOAD_POLL_SECONDS, 0.05),
            clock_step_seconds=env_number(env, "CLOCK_STEP_SECONDS", CLOCK_STEP_SECONDS, 0.5),
            clock_stable_seconds=env_number(env, "CLOCK_STABLE_SECONDS", CLOCK_STABLE_SECONDS, 0),
            storage_check_seconds=env_number(
                env, "STORAGE_CHECK_SECONDS", STORAGE_CHECK_SECONDS, 0.1
            ),
            storage_min_free_bytes=int(
                env_number(env, "STORAGE_MIN_FREE_BYTES", STORAGE_MIN_FREE_BYTES, 0)
            ),
        )
