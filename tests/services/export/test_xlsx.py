"""The xlsx exporter, read back with openpyxl (and LibreOffice when installed)."""

from __future__ import annotations

import csv
import shutil
import subprocess
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from src.core.errors import ValidationError
from src.core.result import Column
from src.services.export import ExportContext, get_exporter
from src.services.export.xlsx import EXCEL_MAX_CELL_CHARS, XlsxExporter, column_letter
from tests.servers import require

BERLIN = ZoneInfo("Europe/Berlin")
CONTEXT = ExportContext("Daily sales", datetime(2026, 3, 2, 6, 0, tzinfo=UTC), BERLIN)
LONG_TEXT = "0123456789" * 4000  # 40,000 characters, past Excel's 32,767 per cell

# (column name, value written, value openpyxl must read back)
CASES: list[tuple[str, Any, Any]] = [
    ("int", 42, 42),
    ("negative", -7, -7),
    ("bigint", 12345678901234567, "12345678901234567"),  # > 15 digits: text, not rounded
    ("float", 3.25, 3.25),
    ("decimal", Decimal("1234.50"), 1234.5),
    ("date", date(2024, 2, 29), datetime(2024, 2, 29)),
    ("naive_dt", datetime(2024, 3, 31, 1, 2, 3, 456000), datetime(2024, 3, 31, 1, 2, 3, 456000)),
    ("aware_dt", datetime(2024, 7, 1, 12, 0, tzinfo=UTC), datetime(2024, 7, 1, 14, 0)),
    ("aware_winter", datetime(2024, 1, 1, 12, 0, tzinfo=UTC), datetime(2024, 1, 1, 13, 0)),
    ("time", time(13, 45, 30), time(13, 45, 30)),
    ("true", True, True),
    ("false", False, False),
    ("null", None, None),
    ("unicode", "Grüße 👋 שלום مرحبا 中文", "Grüße 👋 שלום مرحبا 中文"),
    ("formula", "=1+2", "=1+2"),
    ("plus", "+49 30 1234", "+49 30 1234"),
    ("minus", "-5", "-5"),
    ("at", "@SUM(A1)", "@SUM(A1)"),
    ("markup", "<b>&amp;</b>", "<b>&amp;</b>"),
    ("control", "a\x00b\x1fc\x0bd", "abcd"),
    ("multiline", "line 1\nline 2\ttab", "line 1\nline 2\ttab"),
    ("padded", "  padded  ", "  padded  "),
    ("bytes", b"\x00\xff", "0x00ff"),
    ("big_bytes", b"x" * 100, "<100 bytes>"),
    ("uuid", uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    ("json", {"a": [1, "é"]}, '{"a": [1, "é"]}'),
    ("interval", timedelta(hours=2), "2:00:00"),
    ("nan", float("nan"), "nan"),
    ("old_date", date(1899, 1, 1), "1899-01-01"),
]


def write(path: Path, columns: list[str], rows: list[list[Any]], **kw: Any) -> Any:
    exporter = kw.pop("exporter", None) or get_exporter("xlsx")
    batch = kw.pop("batch", 3)
    writer = exporter.open(path, [Column(c) for c in columns], CONTEXT, kw or None)
    for start in range(0, len(rows), batch):
        writer.write_batch(rows[start : start + batch])
    return writer.close()


def test_types_round_trip_through_openpyxl(tmp_path: Path) -> None:
    path = tmp_path / "types.xlsx"
    names = [c[0] for c in CASES]
    result = write(path, names, [[c[1] for c in CASES]])
    assert result.rows_written == result.rows_total == 1
    assert result.size_bytes == path.stat().st_size

    ws = openpyxl.load_workbook(path).active
    assert [c.value for c in ws[1]] == names
    got = {name: cell.value for name, cell in zip(names, ws[2], strict=True)}
    for name, _written, expected in CASES:
        assert got[name] == expected, name
        assert type(got[name]) is type(expected), name
    cells = dict(zip(names, ws[2], strict=True))
    assert cells["date"].number_format == "yyyy-mm-dd"
    assert cells["naive_dt"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert cells["int"].data_type == "n"
    assert cells["true"].data_type == "b"
    for name in ("formula", "plus", "minus", "at"):
        assert cells[name].data_type == "s", name  # text, never a formula
        assert cells[name].quotePrefix, name


def test_long_text_is_cut_at_excel_limit_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "long.xlsx"
    result = write(path, ["text"], [[LONG_TEXT], ["short"]])
    ws = openpyxl.load_workbook(path).active
    value = ws["A2"].value
    assert len(value) == EXCEL_MAX_CELL_CHARS
    assert value.endswith("…") and LONG_TEXT.startswith(value[:-1])
    assert ws["A3"].value == "short"
    assert result.notes == ["1 cells longer than Excel's 32,767 characters were cut"]


def test_header_is_bold_frozen_with_autofilter_and_widths(tmp_path: Path) -> None:
    path = tmp_path / "layout.xlsx"
    rows = [[i, f"name {i}", "x" * 200] for i in range(10)]
    write(path, ["id", "a rather long header", "wide"], rows, sheet_name="Orders")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Orders"]
    ws = wb.active
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:C11"
    assert all(cell.font.b for cell in ws[1])
    assert not ws["A2"].font.b
    widths = [ws.column_dimensions[letter].width for letter in "ABC"]
    assert widths[1] >= len("a rather long header")  # header sets the width
    assert widths[2] == 60  # capped
    assert widths[0] < widths[1]
    assert wb.properties.title == "Daily sales"


def test_rows_continue_on_new_sheets_past_the_row_limit(tmp_path: Path) -> None:
    path = tmp_path / "rollover.xlsx"
    exporter = XlsxExporter(max_rows_per_sheet=5)  # header + 4 rows per sheet
    rows = [[i, f"row {i}"] for i in range(1, 11)]
    result = write(path, ["n", "label"], rows, exporter=exporter, batch=3)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Daily sales", "Daily sales 2", "Daily sales 3"]
    seen = []
    for ws in wb.worksheets:
        values = list(ws.iter_rows(values_only=True))
        assert values[0] == ("n", "label")  # header repeated on every sheet
        assert len(values) <= 5
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:B{len(values)}"
        seen.extend(v[0] for v in values[1:])
    assert seen == list(range(1, 11))  # nothing lost or doubled at batch/sheet borders
    assert result.rows_written == 10
    assert "continue on sheets Daily sales 2, Daily sales 3" in result.notes[0]


def test_rows_continue_on_a_new_sheet_before_a_sheet_part_gets_too_big(tmp_path: Path) -> None:
    path = tmp_path / "bytes.xlsx"
    exporter = XlsxExporter(max_sheet_bytes=2000)
    rows = [[i, "x" * 100] for i in range(1, 41)]
    result = write(path, ["n", "text"], rows, exporter=exporter, batch=10)
    wb = openpyxl.load_workbook(path)
    assert len(wb.sheetnames) > 1
    seen = []
    for ws in wb.worksheets:
        values = list(ws.iter_rows(values_only=True))
        assert values[0] == ("n", "text")
        seen.extend(v[0] for v in values[1:])
    assert seen == list(range(1, 41))
    assert result.rows_written == 40


def try_connection_sheet_rolls_over_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "named.xlsx"
    write(
        path, ["n"], [[1], [2], [3]], exporter=XlsxExporter(max_rows_per_sheet=3), sheet_name="Q1"
    )
    assert openpyxl.load_workbook(path).sheetnames == ["Q1", "Q1 2"]


def test_empty_result_gives_a_header_only_sheet(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    result = write(path, ["a", "b"], [])
    ws = openpyxl.load_workbook(path).active
    assert list(ws.iter_rows(values_only=True)) == [("a", "b")]
    assert result.rows_written == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sheet_name": "a/b"}, "exports.xlsx.sheet_name: 'a/b' has a character Excel refuses"),
        ({"sheet_name": "x" * 32}, "exports.xlsx.sheet_name: must be 1 to 31 characters"),
        ({"sheet_name": "a\nb"}, "exports.xlsx.sheet_name: 'a\\nb' has a character Excel refuses"),
        ({"sheet_name": 3}, "exports.xlsx.sheet_name: must be text, got 3"),
        (
            {"sheets": "x"},
            "exports.xlsx.sheets: unknown xlsx option 'sheets'; "
            "known: enabled, filename, sheet_name",
        ),
    ],
)
def test_bad_options_are_refused(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        get_exporter("xlsx").open(tmp_path / "x.xlsx", [Column("a")], CONTEXT, options)
    assert str(err.value).startswith(message)
    assert list(tmp_path.iterdir()) == []


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]


def test_libreoffice_opens_the_file(tmp_path: Path) -> None:
    office = shutil.which("libreoffice") or shutil.which("soffice")
    require(office, "LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
    assert office is not None
    path = tmp_path / "lo.xlsx"
    rows = [
        [1, "Grüße 👋", date(2024, 2, 29), datetime(2024, 3, 31, 1, 2, 3), True, None, "=1+2"],
        [2, "second", date(2024, 3, 1), datetime(2024, 1, 1, 0, 0), False, Decimal("1.5"), "x"],
        [3, "sum", date(2024, 3, 2), datetime(2024, 1, 2), False, 290001.55999999994, "y"],
    ]
    # the file carries print titles, page setup and a quoted sheet name; LibreOffice reads it
    write(path, ["n", "text", "day", "at", "flag", "amount", "formula"], rows, sheet_name="Bob's")
    profile = tmp_path / "lo-profile"  # own profile: parallel tests must not share one
    # 44,34,76: comma, double quote, UTF-8
    subprocess.run(
        [
            office, f"-env:UserInstallation=file://{profile}", "--headless",
            "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76",
            "--outdir", str(tmp_path / "out"), str(path),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with open(tmp_path / "out" / "lo.csv", encoding="utf-8", newline="") as f:
        got = list(csv.reader(f))
    assert got == [
        ["n", "text", "day", "at", "flag", "amount", "formula"],
        ["1", "Grüße 👋", "2024-02-29", "2024-03-31 01:02:03", "TRUE", "", "=1+2"],
        ["2", "second", "2024-03-01", "2024-01-01 00:00:00", "FALSE", "1.5", "x"],
        ["3", "sum", "2024-03-02", "2024-01-02 00:00:00", "FALSE", "290001.56", "y"],
    ]


def test_a_float_is_stored_exactly(tmp_path: Path) -> None:
    path = tmp_path / "sum.xlsx"
    write(path, ["region", "revenue"], [["East", 290001.55999999994], ["West", 162.0]])
    ws = openpyxl.load_workbook(path).active
    assert ws["B2"].value == 290001.55999999994  # the float itself: Excel shows 290001.56
    assert ws["B3"].value == 162


@pytest.mark.parametrize(
    ("title", "options", "sheet"),
    [
        ("Daily sales", {}, "Daily sales"),
        ("Sales: Q1/Q2 [draft]?", {}, "Sales Q1 Q2 draft"),
        ("'Quoted'", {}, "Quoted"),
        ("A very long task name that Excel would refuse", {}, "A very long task name that Exce"),
        ("History", {}, "History 1"),
        ("/*?", {}, "Sheet 1"),
        ("Daily sales", {"sheet_name": "Orders"}, "Orders"),  # the option still wins
    ],
)
def test_the_sheet_is_named_after_the_task(
    tmp_path: Path, title: str, options: dict[str, Any], sheet: str
) -> None:
    path = tmp_path / "named.xlsx"
    context = ExportContext(title, CONTEXT.run_at, BERLIN)
    writer = get_exporter("xlsx").open(path, [Column("n")], context, options)
    writer.write_batch([[1]])
    writer.close()
    assert openpyxl.load_workbook(path).sheetnames == [sheet]


def test_header_repeats_when_printed_and_wide_sheets_print_landscape(tmp_path: Path) -> None:
    narrow, wide = tmp_path / "narrow.xlsx", tmp_path / "wide.xlsx"
    context = ExportContext("Bob's sales", CONTEXT.run_at, BERLIN)
    writer = XlsxExporter(max_rows_per_sheet=3).open(narrow, [Column("n")], context)
    writer.write_batch([[1], [2], [3]])  # two sheets: the titles are set on each
    writer.close()
    columns = [f"column {i}" for i in range(12)]
    write(wide, columns, [["some text of a width"] * 12])
    wb = openpyxl.load_workbook(narrow)
    assert wb.sheetnames == ["Bob's sales", "Bob's sales 2"]
    for ws in wb.worksheets:
        assert ws.print_title_rows == "$1:$1"
        assert ws.page_setup.orientation == "portrait"
        assert ws.sheet_properties.pageSetUpPr.fitToPage is True
        assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
    ws = openpyxl.load_workbook(wide).active
    assert ws.print_title_rows == "$1:$1"
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert ws.auto_filter.ref == "A1:L2"  # the filter's defined name still read right
