"""Pure decisions about delivering a report: whether to send it, and how to word durations.

No I/O here: the mail service (``src/services/mail``) and the task model both use
these, so ``send_if`` is validated when a task is saved and applied when it runs.
"""

from __future__ import annotations

from src.core.errors import ValidationError

#: Accepted values of a task's ``email.send_if``.
SEND_IF_CHOICES = ("always", "rows", "no_rows")


def check_send_if(value: str, field: str = "email.send_if") -> str:
    """Validate ``send_if`` at save time; returns the value as stored."""
    if value not in SEND_IF_CHOICES:
        raise ValidationError(
            field, f"unknown value {value!r}; accepted: " + ", ".join(SEND_IF_CHOICES)
        )
    return value


def should_send(send_if: str, row_count: int) -> bool:
    """Whether a run that produced ``row_count`` rows sends its email.

    ``always``: every run; ``rows``: only when the query returned at least one row
    (an alert that something is there); ``no_rows``: only when it returned none
    (an alert that something is missing).
    """
    check_send_if(send_if)
    if row_count < 0:
        raise ValueError(f"row_count must be >= 0, got {row_count}")
    if send_if == "always":
        return True
    if send_if == "rows":
        return row_count > 0
    return row_count == 0


def format_duration(seconds: float) -> str:
    """A run's duration for people: ``0.4 s``, ``12 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds < 0:
        raise ValueError(f"duration must be >= 0, got {seconds}")
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
