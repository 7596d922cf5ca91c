"""Export files (src/services/export/files.py): names, run folders, retention."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from src.core.errors import ValidationError
from src.core.result import Column
from src.services.export import ExportContext, get_exporter
from src.services.export.files import (
    DEFAULT_FILENAME_TEMPLATE,
    MAX_NAME_BYTES,
    prune_exports,
    render_filename,
    run_folder,
)

CONTEXT = ExportContext("t", datetime(2026, 3, 2, 6, 0, tzinfo=UTC), ZoneInfo("Europe/Berlin"))


def values(task_name: str) -> dict[str, object]:
    return {"task_name": task_name, "run_date": date(2026, 3, 2), "run_id": "ab12"}


# --------------------------------------------------------------------------- names


def test_default_template() -> None:
    name = render_filename(DEFAULT_FILENAME_TEMPLATE, values("Daily sales"), "xlsx")
    assert name == "Daily sales_2026-03-02.xlsx"


@pytest.mark.parametrize(
    ("task_name", "expected"),
    [
        ("../etc/passwd", "etc_passwd_2026-03-02.csv"),
        ("a/b", "a_b_2026-03-02.csv"),
        ("a\\b", "a_b_2026-03-02.csv"),
        ("two\nlines\r", "two_lines__2026-03-02.csv"),
        (".hidden", "hidden_2026-03-02.csv"),
        ("x..y", "x.y_2026-03-02.csv"),
        ("Grüße 🌍 Отчёт", "Grüße 🌍 Отчёт_2026-03-02.csv"),
        ("evil\u202etxt.exe", "eviltxt.exe_2026-03-02.csv"),  # right-to-left override removed
        ('q?"<|>*:', "q__2026-03-02.csv"),
    ],
)
def test_names_are_made_safe(task_name: str, expected: str) -> None:
    assert render_filename(DEFAULT_FILENAME_TEMPLATE, values(task_name), "csv") == expected


def test_long_names_are_capped_keeping_the_extension() -> None:
    name = render_filename("{task_name}", values("é" * 500), "xlsx")
    assert name.endswith("é.xlsx")
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert "/" not in name


def test_empty_and_reserved_names_fall_back() -> None:
    assert render_filename("{task_name}", values("../.."), "pdf") == "export.pdf"
    assert render_filename("{task_name}", values(""), "pdf") == "export.pdf"
    assert render_filename("{task_name}", values("CON"), "pdf") == "_CON.pdf"


def test_template_that_spells_the_extension_is_not_doubled() -> None:
    assert render_filename("{task_name}.xlsx", values("r"), "xlsx") == "r.xlsx"


def test_unknown_placeholder_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as err:
        render_filename("{nope}", values("r"), "csv")
    assert "unknown placeholder {nope}" in str(err.value)


# --------------------------------------------------------------------------- folders


def test_run_folder_is_inside_with_private_modes(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    at = datetime(2026, 3, 2, 6, 0, 5, tzinfo=UTC)
    folder = run_folder(exports, "../../escape", "../run", at)
    assert folder.parent == exports
    assert folder.name == "20260302T060005Z_escape_run"
    assert folder.stat().st_mode & 0o777 == 0o750
    writer = get_exporter("csv").open(folder / "x.csv", [Column("a")], CONTEXT)
    writer.write_batch([[1]])
    assert (writer.close().path.stat().st_mode & 0o777) == 0o640
    assert run_folder(exports, "../../escape", "../run", at) == folder  # a retry reuses it


def test_prune_removes_only_old_run_folders(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    old = run_folder(exports, "t", "1", now - timedelta(days=8))
    (old / "report.xlsx").write_bytes(b"x")
    recent = run_folder(exports, "t", "2", now - timedelta(days=6))
    other = exports / "notes"  # not a run folder: never touched
    other.mkdir()
    outside = tmp_path / "20200101T000000Z_outside"  # looks old, but outside: never touched
    outside.mkdir()
    (exports / "20200101T000000Z_link").symlink_to(outside)
    assert prune_exports(exports, 7, now) == [old]
    assert not old.exists()
    assert recent.exists() and other.exists() and outside.exists()
    assert prune_exports(tmp_path / "missing", 7, now) == []
    with pytest.raises(ValidationError):
        prune_exports(exports, -1, now)
