"""src/services/mail/outbox.py: messages written to real files, and pruned by the clock
the caller gives (OUTBOX_KEEP_DAYS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from src.core.errors import ConfigError, ValidationError
from src.services.mail import SmtpSettings, prune_outbox, send_test_message
from src.services.mail.settings import DEFAULT_OUTBOX_KEEP_DAYS

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_a_run_writing_to_the_outbox_prunes_messages_older_than_keep_days(tmp_path: Path) -> None:
    settings = SmtpSettings.from_env({"OUTBOX_KEEP_DAYS": "3"}, base_dir=tmp_path)
    assert settings.outbox_keep_days == 3
    first = send_test_message(settings, "a@example.com", now=NOW - timedelta(days=5))
    second = send_test_message(settings, "a@example.com", now=NOW - timedelta(days=2))
    assert first.outbox_path and first.outbox_path.exists()  # nothing was old yet
    mine = tmp_path / "outbox" / "notes.txt"  # a person's own file: never touched
    mine.write_text("keep me")
    third = send_test_message(settings, "a@example.com", now=NOW)
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == sorted(
        [second.outbox_path.name, third.outbox_path.name, "notes.txt"]  # type: ignore[union-attr]
    )


def test_prune_goes_by_the_time_in_the_name_at_the_cutoff(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    names = {
        "old": "20261115T095959Z_daily-sales_aaaaaaaaaa.eml",  # 8 days and a second
        "edge": "20261116T100000Z_daily-sales_bbbbbbbbbb.eml",  # exactly 7 days: kept
        "new": "20261123T090000Z_daily-sales_cccccccccc.eml",
        "not ours": "20261101T000000Z_notes.txt",
    }
    for name in names.values():
        (outbox / name).write_bytes(b"x")
    (outbox / "20261101T000000Z_folder.eml").mkdir()
    (outbox / "20261101T000000Z_link.eml").symlink_to(outbox / names["new"])
    assert prune_outbox(outbox, 7, NOW) == [outbox / names["old"]]
    left = {p.name for p in outbox.iterdir()}
    assert left == {
        names["edge"],
        names["new"],
        names["not ours"],
        "20261101T000000Z_folder.eml",
        "20261101T000000Z_link.eml",
    }
    assert prune_outbox(tmp_path / "missing", 7, NOW) == []


def test_keep_days_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        prune_outbox(tmp_path, -1, NOW)
    with pytest.raises(ValueError):
        prune_outbox(tmp_path, 7, NOW.replace(tzinfo=None))
    assert SmtpSettings.from_env({}).outbox_keep_days == DEFAULT_OUTBOX_KEEP_DAYS == 7
    with pytest.raises(ConfigError, match="OUTBOX_KEEP_DAYS='0' is not a whole number"):
        SmtpSettings.from_env({"OUTBOX_KEEP_DAYS": "0"})
