"""The xlsx with a task's ``columns``: labels, native number formats, hidden columns and
a live SUBTOTAL totals row, read back with openpyxl and LibreOffice
(src/services/export/xlsx.py, src/services/export/xlsx_package.py)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl

from src.core.column_format import read_columns
from src.core.result import Column
from src.services.export import ExportContext
from src.services.export.xlsx import XlsxExporter
from tests.servers import require

SPECS, _ = read_columns(
    {
        "amount": {"label": "Amount", "format": "number", "total": "sum"},
        "price": {"format": "currency", "currency": "EUR", "total": "max"},
        "fee": {"format": "currency", "currency": "CHF"},
        "share": {"format": "percent", "decimals": 1, "total": "avg"},
        "day": {"format": "date", "pattern": "dd.mm.yyyy"},
        "paid": {"format": "boolean", "words": ["paid", "open"], "total": "count"},
        "secret": {"hidden": True},
    }
)
CONTEXT = ExportContext(
    "Invoices", datetime(2026, 3, 2, 6, tzinfo=UTC), ZoneInfo("Europe/Berlin"), columns=SPECS
)
NAMES = ["customer", "amount", "price", "fee", "share", "day", "paid", "secret"]
ROWS: list[list[object]] = [
    ["ACME", 1234.5, 10.0, 1.5, 0.25, date(2026, 1, 31), True, "s3cret"],
    ["Globex", 1000, 20.5, 2, 0.5, date(2026, 2, 1), False, "x"],
    ["Initech", 0.25, 5, None, 0.75, date(2026, 2, 2), None, "y"],
]


def write(path: Path, rows: list[list[object]] = ROWS, **kwargs: int) -> None:
    writer = XlsxExporter(**kwargs).open(path, [Column(n) for n in NAMES], CONTEXT, {})
    for start in range(0, len(rows), 2):
        writer.write_batch(rows[start : start + 2])
    writer.close()


def test_labels_number_formats_and_hidden_columns(tmp_path: Path) -> None:
    write(tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx").active
    assert ws is not None
    assert [c.value for c in ws[1]] == [
        "customer",
        "Amount",
        "price",
        "fee",
        "share",
        "day",
        "paid",
    ]
    b2, c2, d2, e2, f2, g2 = (ws[f"{col}2"] for col in "BCDEFG")
    assert (b2.value, b2.number_format) == (1234.5, "#,##0.00")  # numbers stay numbers
    assert (c2.value, c2.number_format) == (10.0, '"€"#,##0.00')
    assert d2.number_format == "[$CHF] #,##0.00"
    assert (e2.value, e2.number_format) == (0.25, "#,##0.0%")
    assert f2.number_format == "dd.mm.yyyy" and f2.value == datetime(2026, 1, 31)
    assert (g2.value, ws["G3"].value) == ("paid", "open")
    assert ws.max_column == 7  # secret is not there


def test_the_totals_row_is_a_live_subtotal_with_its_value(tmp_path: Path) -> None:
    write(tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx").active
    assert ws is not None
    assert ws["A5"].value == "Total" and ws["A5"].font.b
    assert ws["B5"].value == "=SUBTOTAL(109,B2:B4)"
    assert ws["B5"].number_format == "#,##0.00" and ws["B5"].font.b
    assert ws["C5"].value == "=SUBTOTAL(104,C2:C4)"
    assert ws["E5"].value == "=SUBTOTAL(101,E2:E4)"
    assert ws["G5"].value == "=SUBTOTAL(103,G2:G4)"
    assert ws.auto_filter.ref == "A1:G4"  # the filter leaves the totals row out
    cached = openpyxl.load_workbook(tmp_path / "r.xlsx", data_only=True).active
    assert cached is not None
    assert [cached[f"{c}5"].value for c in "BCEG"] == [2234.75, 20.5, 0.5, 2]


def test_totals_span_every_sheet_when_rows_roll_over(tmp_path: Path) -> None:
    write(tmp_path / "r.xlsx", max_rows_per_sheet=3)
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    last = wb.worksheets[-1]
    assert last["B3"].value == "=SUBTOTAL(109,'Invoices'!B2:B3,B2:B2)"


def test_libreoffice_shows_the_formats_and_the_total(tmp_path: Path) -> None:
    office = shutil.which("libreoffice") or shutil.which("soffice")
    require(office, "LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
    require(shutil.which("pdftotext"), "pdftotext is not installed (apt-get install poppler-utils)")
    assert office is not None
    path = tmp_path / "lo.xlsx"
    write(path)
    profile = tmp_path / "lo-profile"  # own profile: parallel tests must not share one
    subprocess.run(
        [
            office, f"-env:UserInstallation=file://{profile}", "--headless",
            "--convert-to", "pdf", "--outdir", str(tmp_path / "out"), str(path),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "out" / "lo.pdf"), "-"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "Amount" in text and "1,234.50" in text
    assert "€10.00" in text and "25.0%" in text and "31.01.2026" in text and "paid" in text
    assert "Total" in text and "2,234.75" in text
    assert "s3cret" not in text


def test_a_full_last_sheet_puts_the_totals_on_a_sheet_of_their_own(tmp_path: Path) -> None:
    write(tmp_path / "r.xlsx", ROWS[:2] * 2, max_rows_per_sheet=3)  # 2 sheets of 2 rows
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert len(wb.worksheets) == 3
    last = wb.worksheets[-1]
    assert last.max_row == 2 and last["A2"].value == "Total"
    assert last["B2"].value == "=SUBTOTAL(109,'Invoices'!B2:B3,'Invoices 2'!B2:B3)"


def test_sqlite_booleans_stored_as_0_and_1_read_as_the_words(tmp_path: Path) -> None:
    write(tmp_path / "r.xlsx", [[*ROWS[0][:6], 1, ""], [*ROWS[1][:6], 0, ""]])
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx").active
    assert ws is not None
    assert (ws["G2"].value, ws["G3"].value) == ("paid", "open")
