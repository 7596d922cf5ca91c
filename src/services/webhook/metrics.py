"""Prometheus metrics with the official client, in a registry of their own.

The daemon owns one :class:`Metrics`, calls :meth:`Metrics.observe_run` when a run
ends (or is skipped), and hands it to :func:`create_app`, which serves it at
``/metrics``. Counters start at zero with the process (Prometheus handles the
reset); the last-success time per task is read back from the run history at start,
so a restart does not make an alert on "no success for a day" fire.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from src.core.clock import now as clock_now
from src.core.clock import parse_instant
from src.core.vocabulary import RunStatus
from src.services.recorder import RunLog
from src.services.run_stats import TaskStats, task_stats
from src.services.webhook.control import HealthState

PREFIX = "db_scheduler"
#: Report runs last from a second to an hour; buckets spread over that range.
DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
_LABELS = ("task_id", "task")

log = logging.getLogger("db_scheduler.webhook")


class _SchedulerCollector:
    """Queue depth, runs in progress, tasks loaded and the last tick, read at scrape time."""

    def __init__(self, health: Callable[[], HealthState]) -> None:
        self.health = health

    def describe(self) -> Iterable[Metric]:
        return self._families(None)

    def collect(self) -> Iterable[Metric]:
        return self._families(self.health())

    def _families(self, state: HealthState | None) -> list[Metric]:
        values: list[tuple[str, str, float | None]] = [
            ("queue_depth", "Runs waiting for a free run slot.", None),
            ("runs_in_progress", "Runs going on now.", None),
            ("tasks_loaded", "Tasks the scheduler has loaded.", None),
            ("last_tick_timestamp_seconds", "When the scheduler loop last went round.", None),
            ("tasks_file_ok", "1 when tasks.json was read and valid at the last look.", None),
            ("storage_ok", "1 when the data folder can be written (0: runs are held).", None),
            ("held_records", "Records the scheduler could not write yet, kept in memory.", None),
        ]
        if state is not None:
            tick = state.last_tick.timestamp() if state.last_tick else None
            numbers = (
                state.queue_depth,
                state.running,
                state.tasks_loaded,
                tick,
                0 if state.tasks_file_error else 1,
                0 if state.storage_error else 1,
                state.held_records,
            )
            values = [(n, d, v) for (n, d, _), v in zip(values, numbers, strict=True)]
        families: list[Metric] = []
        for name, doc, value in values:
            family = GaugeMetricFamily(f"{PREFIX}_{name}", doc)
            if value is not None:
                family.add_metric([], float(value))
            families.append(family)
        return families


class _ClusterCollector:
    """Cluster mode: each node's heartbeat age, runs in flight, capacity and whether it is
    alive (label ``node``), this node's name, and whether the database answered, read at
    scrape time from the rows ``manage_tasks.py nodes`` lists (``nodes()``)."""

    def __init__(self, node: str, nodes: Callable[[], list[dict[str, Any]]]) -> None:
        self.node = node
        self.nodes = nodes

    def describe(self) -> Iterable[Metric]:
        return self._families(None)

    def collect(self) -> Iterable[Metric]:
        try:
            rows = self.nodes()
        except OSError as exc:  # the cluster database is away: said by a gauge, not a 500
            log.warning("/metrics: the cluster's nodes could not be read: %s", exc)
            return self._families(None)
        return self._families(rows)

    def _families(self, rows: list[dict[str, Any]] | None) -> list[Metric]:
        this = GaugeMetricFamily(
            f"{PREFIX}_cluster_this_node",
            "This node's name (NODE_NAME), as a label.",
            labels=["node"],
        )
        this.add_metric([self.node], 1.0)
        up = GaugeMetricFamily(
            f"{PREFIX}_cluster_database_up",
            "1 when the cluster database answered this scrape (0: the nodes below are missing).",
        )
        families: list[Metric] = [this, up]
        per_node = [
            ("heartbeat_age_seconds", "Seconds since the node's last heartbeat."),
            ("runs_in_flight", "Runs the node had going at its last heartbeat."),
            ("capacity", "Runs the node may have going at once (MAX_CONCURRENT_RUNS)."),
            ("alive", "1 when the node is alive (0: dead past the limit, or stopped)."),
        ]
        for key, doc in per_node:
            family = GaugeMetricFamily(f"{PREFIX}_cluster_node_{key}", doc, labels=["node"])
            for row in rows or []:
                value = row["state"] == "alive" if key == "alive" else row[key]
                family.add_metric([str(row["name"])], float(value))
            families.append(family)
        up.add_metric([], 0.0 if rows is None else 1.0)
        return families


class _HistoryCollector:
    """Success rate, median and p95 duration per task over the kept history, read at
    scrape time (again only when runs.jsonl changed)."""

    def __init__(self, history: RunLog) -> None:
        self.history = history
        self._seen: tuple[int, int] | None = None
        self._stats: dict[str, TaskStats] = {}

    def describe(self) -> Iterable[Metric]:
        return self._families({})

    def collect(self) -> Iterable[Metric]:
        # runs.jsonl: read again only when it changed; the cluster's history (no file):
        # read at each scrape
        path = getattr(self.history, "path", None)
        try:
            status = path.stat() if path is not None else None
            seen = (status.st_size, status.st_mtime_ns) if status else None
        except OSError:
            seen = (0, 0)
        if seen is None or seen != self._seen:
            self._stats, self._seen = task_stats(self.history.runs()), seen
        return self._families(self._stats)

    @staticmethod
    def _families(stats: Mapping[str, TaskStats]) -> list[Metric]:
        labels = list(_LABELS)
        rate = GaugeMetricFamily(
            f"{PREFIX}_task_success_ratio",
            "Share of the task's ended runs in the kept history that succeeded (0-1).",
            labels=labels,
        )
        median = GaugeMetricFamily(
            f"{PREFIX}_task_duration_median_seconds",
            "Median run duration of the task over the kept history.",
            labels=labels,
        )
        p95 = GaugeMetricFamily(
            f"{PREFIX}_task_duration_p95_seconds",
            "95th-percentile (nearest rank) run duration of the task over the kept history.",
            labels=labels,
        )
        for entry in stats.values():
            values = [entry.task_id, entry.task_name]
            if entry.success_rate is not None:
                rate.add_metric(values, entry.success_rate)
            if entry.median_seconds is not None and entry.p95_seconds is not None:
                median.add_metric(values, entry.median_seconds)
                p95.add_metric(values, entry.p95_seconds)
        return [rate, median, p95]


class Metrics:
    def __init__(self, *, clock: Callable[[], datetime] = clock_now) -> None:
        self.clock = clock
        self.registry = CollectorRegistry()
        self.runs = Counter(
            f"{PREFIX}_runs",
            "Runs by task and final status (success, failed, timeout, skipped, interrupted).",
            (*_LABELS, "status"),
            registry=self.registry,
        )
        self.duration = Histogram(
            f"{PREFIX}_run_duration_seconds",
            "Run duration from start to the last step.",
            _LABELS,
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            f"{PREFIX}_rows_exported", "Result rows exported.", _LABELS, registry=self.registry
        )
        self.emails = Counter(
            f"{PREFIX}_emails_sent",
            "Report emails sent (or written to the outbox).",
            _LABELS,
            registry=self.registry,
        )
        self.last_success = Gauge(
            f"{PREFIX}_last_success_timestamp_seconds",
            "When the task's last successful run finished (Unix time).",
            _LABELS,
            registry=self.registry,
        )
        self.webhook_calls = Counter(
            f"{PREFIX}_webhook_triggers",
            "Trigger calls by result (accepted, replayed, refused, unauthorized, limited, ...).",
            ("result",),
            registry=self.registry,
        )
        self._watching = False
        self._watching_cluster = False
        self._reading_history = False

    def watch(self, health: Callable[[], HealthState]) -> None:
        """Serve the scheduler's gauges from ``health()`` (once; later calls do nothing)."""
        if not self._watching:
            self.registry.register(_SchedulerCollector(health))
            self._watching = True

    def watch_cluster(self, node: str, nodes: Callable[[], list[dict[str, Any]]]) -> None:
        """Cluster mode: serve the nodes' gauges from ``nodes()`` (once)."""
        if not self._watching_cluster:
            self.registry.register(_ClusterCollector(node, nodes))
            self._watching_cluster = True

    def observe_run(self, run: Mapping[str, Any]) -> None:
        """Count a run that ended. ``run`` is shaped like a history record
        (``RunRecord.to_json()``) or the worker's result plus the task:

        ``status`` (required), ``task_id``, ``task_name``, ``duration_seconds`` (or
        ``duration``), ``rows``, ``emailed`` (bool) or ``email`` (the delivery, when
        sent), ``finished_at`` (ISO text or datetime; default now).
        """
        labels = (str(run.get("task_id") or ""), str(run.get("task_name") or ""))
        status = str(run.get("status") or RunStatus.FAILED)
        self.runs.labels(*labels, status).inc()
        if status == RunStatus.SKIPPED:
            return
        duration = run.get("duration_seconds", run.get("duration"))
        if isinstance(duration, int | float) and not isinstance(duration, bool):
            self.duration.labels(*labels).observe(max(float(duration), 0.0))
        rows = run.get("rows")
        if isinstance(rows, int) and not isinstance(rows, bool) and rows > 0:
            self.rows.labels(*labels).inc(rows)
        if run.get("emailed") or run.get("email"):
            self.emails.labels(*labels).inc()
        if status == RunStatus.SUCCESS:
            self.last_success.labels(*labels).set(_instant(run.get("finished_at"), self.clock))

    def seed(self, history: RunLog) -> None:
        """Last success per task from the history (at start), without counting runs; the
        per task success rate and durations are read from it at each scrape."""
        if not self._reading_history:
            self.registry.register(_HistoryCollector(history))
            self._reading_history = True
        for record in history.runs():
            if record.status == RunStatus.SUCCESS:
                finished = record.data.get("finished_at") or record.data.get("at")
                moment = _instant(finished, self.clock)
                self.last_success.labels(record.task_id, record.task_name).set(moment)

    def count_webhook(self, result: str) -> None:
        self.webhook_calls.labels(result).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _instant(value: Any, clock: Callable[[], datetime]) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return parse_instant(value).timestamp()
        except ValueError:
            pass
    return clock().timestamp()
