"""Retries: whether a run that did not succeed is tried again, and when.

A run is retried when it failed or timed out for a reason that may pass (a
transient error: the database restarting, the SMTP server down), its email was not
sent, and its task's ``retry.max_retries`` allows another attempt. The wait grows
``delay_seconds * backoff ** (attempt - 1)``, capped by ``RETRY_MAX_DELAY_SECONDS``.
Pure functions of their inputs: the dispatcher acts on the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from src.core.task import Task
from src.core.vocabulary import RunStatus
from src.services.scheduler.timetable import Occurrence

#: Statuses a retry can help.
RETRIABLE = (RunStatus.FAILED, RunStatus.TIMEOUT)


def retry_delay(attempt: int, delay_seconds: float, backoff: float, cap_seconds: float) -> float:
    """Seconds to wait before attempt ``attempt + 1`` after attempt ``attempt`` failed:
    ``delay * backoff ** (attempt - 1)``, at most ``cap_seconds``."""
    exponent = max(attempt - 1, 0)
    try:
        delay = delay_seconds * (backoff**exponent)
    except OverflowError:
        delay = cap_seconds
    return float(min(max(delay, 0.0), cap_seconds))


@dataclass(frozen=True)
class RetryDecision:
    """The next attempt (and its delay), or why there is none worth saying."""

    attempt: Occurrence | None = None
    delay: float = 0.0
    not_retried: str | None = None  # said in the log when retries were left


def decide_retry(
    task: Task,
    occurrence: Occurrence,
    status: RunStatus,
    *,
    permanent: bool,
    emailed: bool,
    cap_seconds: float,
    now_monotonic: float,
) -> RetryDecision:
    if status not in RETRIABLE:
        return RetryDecision()
    retries_left = occurrence.attempt <= task.retry.max_retries
    if permanent or emailed:
        why = "the error is permanent" if permanent else "its email was already sent"
        return RetryDecision(not_retried=why if retries_left else None)
    if not retries_left:
        return RetryDecision()
    delay = retry_delay(
        occurrence.attempt, task.retry.delay_seconds, task.retry.backoff, cap_seconds
    )
    attempt = Occurrence(
        task.id,
        occurrence.scheduled_for,
        trigger=occurrence.trigger,
        attempt=occurrence.attempt + 1,
        not_before=now_monotonic + delay,
    )
    return RetryDecision(attempt, delay)
