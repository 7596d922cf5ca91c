"""The PDF with a task's ``columns``: labels, formatted values, hidden columns and the
totals row, read back with pypdf (src/services/export/pdf.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pypdf import PdfReader

from src.core.column_format import read_columns
from src.core.result import Column
from src.services.export import ExportContext, get_exporter

SPECS, _ = read_columns(
    {
        "amount": {"label": "Amount", "format": "currency", "currency": "EUR", "total": "sum"},
        "share": {"label": "Share", "format": "percent", "decimals": 1},
        "paid": {"format": "boolean", "words": ["paid", "open"], "total": "count"},
        "secret": {"hidden": True},
    }
)
CONTEXT = ExportContext(
    "Invoices", datetime(2026, 3, 2, 6, tzinfo=UTC), ZoneInfo("Europe/Berlin"), columns=SPECS
)
COLUMNS = [Column("customer"), Column("amount"), Column("share"), Column("paid"), Column("secret")]


def write(path: Path, rows: list[list[object]], **options: object) -> str:
    writer = get_exporter("pdf").open(path, COLUMNS, CONTEXT, options)
    writer.write_batch(rows)
    writer.close()
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_labels_formatted_values_and_the_totals_row(tmp_path: Path) -> None:
    rows = [["ACME", 1234.5, 0.125, True, "s3cret"], ["Globex", 1000, 0.5, False, "hidden!"]]
    text = write(tmp_path / "r.pdf", rows)
    assert "Amount" in text and "Share" in text and "amount" not in text
    assert "€1,234.50" in text and "12.5%" in text and "paid" in text and "open" in text
    assert "secret" not in text and "s3cret" not in text
    assert "Total" in text and "€2,234.50" in text


def test_a_capped_pdf_says_its_totals_cover_more_rows(tmp_path: Path) -> None:
    rows = [[f"c{i}", 10, 0.1, True, ""] for i in range(30)]
    text = write(tmp_path / "r.pdf", rows, max_rows=5)
    assert "€300.00" in text
    assert "The totals cover all 30 rows, more than the 5 shown." in text
