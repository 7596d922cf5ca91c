"""One clock: aware UTC instants everywhere; code that schedules takes ``now``."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def now() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


def to_utc_iso(moment: datetime) -> str:
    """Store instants as UTC ISO 8601 with a ``Z`` (second precision)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}; instants must carry a zone")
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_instant(text: str) -> datetime:
    """Parse a stored instant (``2026-01-02T03:04:05Z`` or with an offset) to aware UTC.

    A naive text is taken as UTC: that is how earlier versions stored instants.
    """
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def local_text(moment: datetime | None, zone: ZoneInfo) -> str:
    """An instant as a person reads it in ``zone``: ``2026-11-24 09:00 CET`` (``-``: none).
    One format for `list`, `show`, `next` and the pages."""
    if moment is None:
        return "-"
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
