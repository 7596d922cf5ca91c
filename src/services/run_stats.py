"""Per task figures over the kept history: success rate, median and 95th-percentile
duration. One computation for `show` and the daemon's ``/metrics``."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from src.core.vocabulary import RunStatus
from src.services.history import RunRecord

#: Runs that say nothing about the task's health: never run, or still going.
_NOT_COUNTED = (RunStatus.SKIPPED, RunStatus.RUNNING)


@dataclass
class TaskStats:
    task_id: str
    task_name: str
    runs: int = 0
    successes: int = 0
    durations: list[float] = field(default_factory=list)

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.runs if self.runs else None

    @property
    def median_seconds(self) -> float | None:
        return statistics.median(self.durations) if self.durations else None

    @property
    def p95_seconds(self) -> float | None:
        """The nearest-rank 95th percentile: a duration no more than 5 % of runs exceeded."""
        if not self.durations:
            return None
        ordered = sorted(self.durations)
        return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]

    def to_json(self) -> dict[str, Any]:
        """As `show --json` and the API's task give it (``stats``)."""
        return {
            "runs": self.runs,
            "successes": self.successes,
            "success_rate": self.success_rate,
            "duration_median_seconds": self.median_seconds,
            "duration_p95_seconds": self.p95_seconds,
        }

    def describe(self) -> str:
        if not self.runs:
            return "no ended run in the kept history"
        rate = self.success_rate or 0.0
        text = f"{self.successes} of {self.runs} runs succeeded ({rate:.0%})"
        if self.median_seconds is not None and self.p95_seconds is not None:
            text += f"; duration median {self.median_seconds:.1f} s, p95 {self.p95_seconds:.1f} s"
        return text


def stats_of(task_id: str, task_name: str, records: Iterable[RunRecord]) -> TaskStats:
    """One task's figures (none yet: zero runs)."""
    return task_stats(records).get(task_id) or TaskStats(task_id, task_name)


def task_stats(records: Iterable[RunRecord]) -> dict[str, TaskStats]:
    """Figures per task id from the ended runs among ``records``."""
    stats: dict[str, TaskStats] = {}
    for record in records:
        if record.status in _NOT_COUNTED:
            continue
        entry = stats.setdefault(record.task_id, TaskStats(record.task_id, record.task_name))
        entry.task_name = record.task_name or entry.task_name
        entry.runs += 1
        entry.successes += record.status == RunStatus.SUCCESS
        duration = record.data.get("duration_seconds")
        if isinstance(duration, int | float) and not isinstance(duration, bool):
            entry.durations.append(float(duration))
    return stats
