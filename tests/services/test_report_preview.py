"""A preview's folder (src/services/report_preview.py): the run is the runner's dry run
into the preview's folder, and the page shows the message as a client would, inline
images (the chart) included, read back by a real Chromium."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from src.core.errors import EmailError, ExportError, QueryError, QueryTimeout, RunError
from src.services.demo import build_demo_database
from src.services.report_preview import (
    EMAIL_EML,
    EMAIL_HTML,
    PAGE,
    PreviewFailed,
    default_folder,
    prune_previews,
    run_preview,
    what_to_check,
    write_preview,
)
from tests.services.test_runner import Harness, make_task

QUERY = "SELECT region, SUM(total) AS revenue FROM sales GROUP BY region ORDER BY region"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG of one colour (what the chart change attaches; made here, no library)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def harness(tmp_path: Path):
    db = tmp_path / "demo.db"
    build_demo_database(db, date(2026, 11, 23), days_ahead=5)
    columns = {"revenue": {"label": "Revenue", "format": "currency", "currency": "EUR",
                           "total": "sum"}}  # fmt: skip
    task = make_task(name="Revenue", query=QUERY, columns=columns, description="By region")
    h = Harness(tmp_path, {"DATABASE_URL": f"sqlite:///{db}"}, task)
    yield h
    h.close()


def test_the_dry_run_writes_into_the_preview_folder_only(harness: Harness, tmp_path: Path) -> None:
    folder = tmp_path / "preview"
    made = run_preview(harness.store, harness.settings, harness.query, harness.task, folder)
    assert made.outcome.ok and made.outcome.dry_run and made.outcome.rows == 4
    assert {p.name for p in folder.iterdir()} >= {PAGE, EMAIL_EML, EMAIL_HTML}
    assert all(folder in f.path.parents for f in made.outcome.files)
    assert harness.export_files() == [] and harness.outbox() == [] and harness.history() == []
    html = (folder / EMAIL_HTML).read_text()
    assert "Revenue (total)" in html and "By region" in html


def test_a_failed_run_names_the_step_and_leaves_no_folder(harness: Harness, tmp_path: Path) -> None:
    task = harness.task.with_changes(query="SELECT nope FROM sales")
    folder = tmp_path / "preview"
    with pytest.raises(PreviewFailed) as info:
        run_preview(harness.store, harness.settings, harness.query, task, folder)
    assert str(info.value).startswith("the preview of 'Revenue' failed in its query step: ")
    assert "What to check: check the task's SQL" in str(info.value)
    assert info.value.permanent
    assert not folder.exists()
    kept = tmp_path / "mine"
    (kept / "old").mkdir(parents=True)
    with pytest.raises(PreviewFailed):
        run_preview(harness.store, harness.settings, harness.query, task, kept)
    assert (kept / "old").is_dir()  # a folder the person gave is never removed


def test_inline_images_are_written_and_shown_on_the_page(
    harness: Harness, tmp_path: Path, page: Any
) -> None:
    """The chart change attaches a PNG inside the HTML part (multipart/related, a
    Content-ID) and points at it with cid:. The page must show that very image."""
    outcome = harness.runner.run(harness.task, dry_run=True)
    assert outcome.message is not None
    message = outcome.message.message
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    chart = png(300, 120, (200, 40, 40))
    page_html = str(html_part.get_content()).replace(
        '<table role="presentation" class="key-figures"',
        '<img class="chart" src="cid:chart-1@db-scheduler" alt="Revenue by region" width="300">'
        '<table role="presentation" class="key-figures"',
        1,
    )
    html_part.set_content(page_html, subtype="html")
    html_part.add_related(chart, "image", "png", cid="<chart-1@db-scheduler>")
    outcome.message.data = message.as_bytes()
    folder = tmp_path / "preview"
    made = write_preview(outcome, folder)
    assert [p.name for p in made.images] == ["inline-1.png"]
    assert made.images[0].read_bytes() == chart
    email_html = (folder / EMAIL_HTML).read_text()
    assert 'src="inline-1.png"' in email_html and "cid:" not in email_html
    page.goto((folder / PAGE).as_uri())
    drawn = page.evaluate(
        "() => [...document.images].map(i => [i.getAttribute('src'), i.naturalWidth])"
    )
    assert drawn == [["inline-1.png", 300]]
    assert page.locator("h1").first.inner_text() == "Preview of Revenue"


def test_the_default_folder_is_private_under_the_data_folder(harness: Harness) -> None:
    moment = datetime(2026, 11, 30, 8, 5, 9, tzinfo=UTC)
    folder = default_folder(harness.settings, harness.task, moment)
    assert folder == harness.settings.data_dir / "previews" / "20261130T080509Z_Revenue"


def test_old_default_previews_go_as_old_run_folders_do(harness: Harness) -> None:
    previews = harness.settings.data_dir / "previews"
    now = datetime(2026, 11, 30, 8, tzinfo=UTC)
    old = default_folder(harness.settings, harness.task, datetime(2026, 10, 1, tzinfo=UTC))
    recent = default_folder(harness.settings, harness.task, datetime(2026, 11, 20, tzinfo=UTC))
    mine = previews / "my notes"
    for folder in (old, recent, mine):
        (folder / "sub").mkdir(parents=True)
        (folder / "index.html").write_text("x")
    assert prune_previews(harness.settings, now) == [old]  # EXPORTS_KEEP_DAYS: 30
    assert sorted(p.name for p in previews.iterdir()) == sorted([recent.name, "my notes"])


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (QueryError("x", permanent=True), "`manage_tasks.py validate` has the database compile"),
        (QueryTimeout("x", permanent=False), "raise timeout_seconds"),
        (ExportError("x", permanent=False), "the preview folder is writable"),
        (EmailError("x", permanent=True), "SMTP_* / EMAIL_MAX_BYTES"),
        (RunError("x", permanent=True), "check the task with `manage_tasks.py validate`"),
    ],
)
def test_each_kind_of_failure_says_what_to_check(error: RunError, words: str) -> None:
    assert words in what_to_check(error)
