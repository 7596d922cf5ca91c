"""The PDF exporter, read back with pypdf."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from src.core.errors import ValidationError
from src.core.result import Column
from src.services.export import ExportContext, get_exporter
from src.services.export.pdf import FONT_FILES, fit, fonts
from tests.servers import require

CONTEXT = ExportContext(
    "Daily sales", datetime(2026, 3, 2, 6, 0, tzinfo=UTC), ZoneInfo("Europe/Berlin")
)


def write(path: Path, columns: list[str], rows: list[list[Any]], **options: Any) -> Any:
    writer = get_exporter("pdf").open(path, [Column(c) for c in columns], CONTEXT, options)
    for start in range(0, len(rows), 50):
        writer.write_batch(rows[start : start + 50])
    return writer.close()


def pages_text(path: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


def rows_of(n: int) -> list[list[Any]]:
    return [
        [
            i,
            f"customer {i}",
            date(2024, 1, 1),
            Decimal("12.50"),
            datetime(2024, 7, 1, 10, tzinfo=UTC),
        ]
        for i in range(1, n + 1)
    ]


COLUMNS = ["id", "customer", "day", "amount", "at"]


def test_title_run_time_header_values_and_page_numbers(tmp_path: Path) -> None:
    path = tmp_path / "r.pdf"
    result = write(path, COLUMNS, rows_of(120))
    texts = pages_text(path)
    assert len(texts) >= 2
    first = texts[0]
    assert "Daily sales" in first
    assert "Run at 2026-03-02 07:00 Europe/Berlin (UTC+01:00)" in first
    assert "120 rows" in first
    assert "customer 1" in first and "2024-01-01" in first and "12.50" in first
    assert "2024-07-01 12:00:00" in first  # aware datetime shown in the run's zone
    for number, text in enumerate(texts, start=1):
        assert re.search(rf"page {number} of\s*{len(texts)}", text), text[-80:]
        assert "customer" in text and "amount" in text  # header on every page
    all_text = "\n".join(texts)
    assert "customer 120" in all_text
    assert result.rows_written == result.rows_total == 120
    assert result.notes == []
    assert PdfReader(path).metadata.title == "Daily sales"


def test_rows_past_the_cap_are_counted_and_said(tmp_path: Path) -> None:
    path = tmp_path / "capped.pdf"
    result = write(path, COLUMNS, rows_of(130), max_rows=100, full_result_in="xlsx")
    note = "Showing the first 100 of 130 rows; the full result is in the Excel file."
    assert result.notes == [note]
    assert (result.rows_written, result.rows_total) == (100, 130)
    texts = pages_text(path)
    assert note in texts[0]  # on the first page ...
    assert note in texts[-1]  # ... and after the last row
    all_text = "\n".join(texts)
    assert "customer 100" in all_text and "customer 101" not in all_text


def test_cap_note_without_an_excel_file(tmp_path: Path) -> None:
    result = write(tmp_path / "c.pdf", COLUMNS, rows_of(12), max_rows=10)
    assert result.notes == [
        "Showing the first 10 of 12 rows: the PDF stops at 10 rows (pdf option max_rows); "
        "add an xlsx or csv export for the full result."
    ]


def test_wide_tables_turn_landscape_and_long_cells_are_cut(tmp_path: Path) -> None:
    narrow, wide = tmp_path / "narrow.pdf", tmp_path / "wide.pdf"
    write(narrow, ["a", "b"], [[1, "x"]])
    columns = [f"column_{i}" for i in range(12)]
    write(wide, columns, [[f"value {i} " * 3 for i in range(11)] + ["word " * 200]])
    box = PdfReader(narrow).pages[0].mediabox
    assert box.width < box.height
    box = PdfReader(wide).pages[0].mediabox
    assert box.width > box.height
    text = pages_text(wide)[0]
    assert "…" in text
    assert "word " * 100 not in text


def test_portrait_can_be_forced(tmp_path: Path) -> None:
    path = tmp_path / "p.pdf"
    write(path, [f"column_{i}" for i in range(12)], [["v"] * 12], orientation="portrait")
    box = PdfReader(path).pages[0].mediabox
    assert box.width < box.height


def test_unicode_beyond_latin1_is_embedded(tmp_path: Path) -> None:
    require(
        all(f.exists() for f in FONT_FILES.values()),
        "DejaVu fonts missing (apt-get install fonts-dejavu-core); PDFs fall back to Helvetica",
    )
    path = tmp_path / "u.pdf"
    write(path, ["text"], [["Grüße Ωμέγα Привет שלום"]])
    text = pages_text(path)[0]
    assert "Grüße" in text and "Ωμέγα" in text and "Привет" in text
    assert fonts().regular == "DejaVuSans"


def test_empty_result_says_so(tmp_path: Path) -> None:
    path = tmp_path / "e.pdf"
    result = write(path, COLUMNS, [])
    text = pages_text(path)[0]
    assert "The query returned no rows." in text and "0 rows" in text
    assert result.rows_total == 0


def test_fit_cuts_with_an_ellipsis() -> None:
    font = fonts().regular
    assert fit("short", font, 8, 100) == "short"
    cut = fit("x" * 500, font, 8, 50)
    assert cut.endswith("…") and 1 < len(cut) < 50


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_rows": 0}, "exports.pdf.max_rows: must be a whole number >= 1, got 0"),
        ({"max_rows": "10"}, "exports.pdf.max_rows: must be a whole number >= 1, got '10'"),
        (
            {"orientation": "sideways"},
            "exports.pdf.orientation: must be one of auto, portrait, landscape",
        ),
        (
            {"full_result_in": "docx"},
            "exports.pdf.full_result_in: must be one of xlsx, csv, null; got 'docx'",
        ),
        ({"title": 5}, "exports.pdf.title: must be text, got 5"),
    ],
)
def test_bad_options_are_refused(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        get_exporter("pdf").open(tmp_path / "x.pdf", [Column("a")], CONTEXT, options)
    assert str(err.value).startswith(message)


def test_numbers_and_their_headers_are_right_aligned_without_float_noise(tmp_path: Path) -> None:
    path = tmp_path / "sums.pdf"
    rows = [["East", 290001.55999999994, 3], ["West", 162.0, None], ["North", 209.94, 1]]
    write(path, ["region", "revenue", "orders"], rows)
    text = pages_text(path)[0]
    assert "290001.56" in text and "209.94" in text
    assert "0.5599999" not in text and "162.0" not in text
    # where each string is drawn: (text, x) in points
    drawn: list[tuple[str, float]] = []
    PdfReader(path).pages[0].extract_text(
        visitor_text=lambda t, cm, tm, font, size: drawn.append((t.strip(), tm[4]))
    )
    regular, bold = fonts().regular, fonts().bold
    from reportlab.pdfbase.pdfmetrics import stringWidth

    def right_edge(label: str, font: str) -> float:
        x = next(x for t, x in drawn if t == label)
        return x + stringWidth(label, font, 7.5)

    revenue = right_edge("revenue", bold)
    for value in ("290001.56", "162", "209.94"):
        assert right_edge(value, regular) == pytest.approx(revenue, abs=0.01)
    assert right_edge("orders", bold) == pytest.approx(right_edge("3", regular), abs=0.01)
    # text columns stay left-aligned, header and cells on one left edge
    region = next(x for t, x in drawn if t == "region")
    assert next(x for t, x in drawn if t == "East") == pytest.approx(region, abs=0.01)


def test_description_under_the_title_and_the_metadata(tmp_path: Path) -> None:
    import tomllib

    from tests.servers import ROOT

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    described = ExportContext(
        "Weekly revenue", CONTEXT.run_at, CONTEXT.zone, description="Revenue by region\nweekly"
    )
    path = tmp_path / "described.pdf"
    writer = get_exporter("pdf").open(path, [Column("n")], described)
    writer.write_batch([[1]])
    writer.close()
    lines = pages_text(path)[0].splitlines()
    assert lines[:3] == [
        "Weekly revenue",
        "Revenue by region weekly",
        "Run at 2026-03-02 07:00 Europe/Berlin (UTC+01:00)",
    ]
    meta = PdfReader(path).metadata
    assert meta.title == "Weekly revenue"
    assert meta.subject == "Revenue by region weekly"
    assert meta.author == meta.creator == f"db-scheduler {version}"
    # without a description: a subject that says what the file is
    plain = tmp_path / "plain.pdf"
    write(plain, ["n"], [[1]])
    assert PdfReader(plain).metadata.subject == (
        "Report of the task 'Daily sales' run at 2026-03-02 07:00 Europe/Berlin (UTC+01:00)"
    )
