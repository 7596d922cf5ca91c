"""Which store a process works on: tasks.json and runs.jsonl, or the cluster database.

``CLUSTER_DATABASE_URL`` set: the tasks, the run history (and the API's index of it), the
pause and the audit log are the cluster's (:mod:`src.services.cluster.task_store`,
:mod:`~src.services.cluster.run_log`, :mod:`~src.services.cluster.run_index`,
:mod:`~src.services.cluster.pause`, :mod:`~src.services.cluster.audit`); not set: the
files, exactly as before. Every entry point (the CLI, the daemon, a run's process, the
API) asks here, so they always agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from src.core.task import Task
from src.services.audit import AUDIT_KEEP_DAYS, AuditLog
from src.services.cluster.settings import ClusterSettings
from src.services.envparse import env_int
from src.services.history import RunHistory
from src.services.recorder import RunLog
from src.services.retention import GATE, RetentionGate
from src.services.run_index import HistoryIndex, RunIndex
from src.services.scheduler.pause import PauseFile, pause_path
from src.services.settings import Settings
from src.services.task_store import TaskStore

if TYPE_CHECKING:  # SQLAlchemy loads only in cluster mode
    from src.services.cluster.pause import ClusterPause

ChangeHook = Callable[[Task | None, Task | None], None]


def open_task_store(
    tasks_file: Path,
    env: Mapping[str, str],
    *,
    on_change: ChangeHook | None = None,
) -> TaskStore:
    zone = env.get("DEFAULT_TIMEZONE") or "UTC"
    cluster = ClusterSettings.from_env(env)
    if cluster is None:
        return TaskStore(tasks_file, default_timezone=zone, on_change=on_change)
    from src.services.cluster.database import engine_for
    from src.services.cluster.task_store import ClusterTaskStore

    engine = engine_for(cluster.url, cluster.statement_timeout_seconds, cluster.node_name)
    return ClusterTaskStore(engine, tasks_file, default_timezone=zone, on_change=on_change)


def open_run_log(settings: Settings, env: Mapping[str, str], gate: RetentionGate = GATE) -> RunLog:
    cluster = ClusterSettings.from_env(env)
    if cluster is None:
        return RunHistory(settings.history_path, settings.history_keep_days, gate)
    from src.services.cluster.database import engine_for
    from src.services.cluster.run_log import ClusterRunLog

    engine = engine_for(cluster.url, cluster.statement_timeout_seconds, cluster.node_name)
    return ClusterRunLog(engine, cluster.node_name, settings.history_keep_days)


def open_pause(data_dir: Path, env: Mapping[str, str]) -> PauseFile | ClusterPause:
    cluster = ClusterSettings.from_env(env)
    if cluster is None:
        return PauseFile(pause_path(data_dir))
    from src.services.cluster.database import engine_for
    from src.services.cluster.pause import ClusterPause

    return ClusterPause(
        engine_for(cluster.url, cluster.statement_timeout_seconds, cluster.node_name)
    )


def open_run_index(settings: Settings, env: Mapping[str, str]) -> HistoryIndex:
    """What the API and the pages read runs through: runs.jsonl's SQLite index, or the
    cluster's runs (every node's)."""
    cluster = ClusterSettings.from_env(env)
    if cluster is None:
        return RunIndex(settings.history_path)
    from src.services.cluster.database import engine_for
    from src.services.cluster.run_index import ClusterRunIndex

    return ClusterRunIndex(
        engine_for(cluster.url, cluster.statement_timeout_seconds, cluster.node_name)
    )


def open_audit_log(env: Mapping[str, str], data_dir: Path) -> AuditLog:
    """The audit log: ``<data>/audit.jsonl``, or the cluster's (every node's entries)."""
    keep_days = env_int(env, "AUDIT_KEEP_DAYS", AUDIT_KEEP_DAYS, 1)
    cluster = ClusterSettings.from_env(env)
    if cluster is None:
        return AuditLog(data_dir / "audit.jsonl", keep_days)
    from src.services.cluster.audit import ClusterAuditLog
    from src.services.cluster.database import engine_for

    engine = engine_for(cluster.url, cluster.statement_timeout_seconds, cluster.node_name)
    return ClusterAuditLog(engine, cluster.node_name, data_dir, keep_days)
