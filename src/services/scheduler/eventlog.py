"""Logging for journald and log shippers: one line per event on stderr.

Text: ``2026-03-01 09:00:00,123 INFO started task 'Daily sales' ...``.
JSON (``--log-format json``): one object per line with ``time``, ``level``,
``event``, ``message`` and the event's fields (``task_id``, ``run_id``, ...).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from src.core.task import Task

LOG_FORMATS = ("text", "json")
LOGGER_NAME = "db_scheduler"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        item: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", None) or record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            item.update({k: v for k, v in fields.items() if k not in item})
        if record.exc_info:
            item["exception"] = self.formatException(record.exc_info)
        return json.dumps(item, ensure_ascii=False, default=str)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


class EventLog:
    """``events.info("started", "task 'x' started", task_id=...)``: a line with fields."""

    def __init__(self, name: str = LOGGER_NAME) -> None:
        self.logger = logging.getLogger(name)

    def log(self, level: int, event: str, message: str, **fields: Any) -> None:
        self.logger.log(level, message, extra={"event": event, "fields": fields})

    def info(self, event: str, message: str, **fields: Any) -> None:
        self.log(logging.INFO, event, message, **fields)

    def warning(self, event: str, message: str, **fields: Any) -> None:
        self.log(logging.WARNING, event, message, **fields)

    def error(self, event: str, message: str, **fields: Any) -> None:
        self.log(logging.ERROR, event, message, **fields)


# -- how events name things -------------------------------------------------------------


def short(task: Task) -> str:
    """A task in a log line: ``'Daily sales' (3f2a9c1e)``."""
    return f"{task.name!r} ({task.id[:8]})"


def local_time(moment: datetime | None, task: Task) -> str:
    """An instant in a log line, in the task's zone."""
    if moment is None:
        return "none"
    return moment.astimezone(task.zone).strftime("%Y-%m-%d %H:%M:%S %Z")
