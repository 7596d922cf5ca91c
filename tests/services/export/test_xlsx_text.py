"""The xlsx writer's fast path (src/services/export/xlsx_text.py): cells written a column at
a time from database text are the cells the per-value rules write, read back with openpyxl
and LibreOffice, for every type, NULLs, column formats and totals."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.core.column_format import read_columns
from src.core.result import Column
from src.core.text_batch import TextBatch, TextForm, TextKind
from src.services.export import ExportContext, get_exporter
from src.services.export.xlsx import XlsxExporter
from src.services.export.xlsx_cells import Cells
from src.services.export.xlsx_text import TextCells
from src.services.query import QueryService
from tests.servers import require
from tests.services.query.test_copy_rows import load_every_type

BERLIN = ZoneInfo("Europe/Berlin")
RUN_AT = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\b": "\\b", "\f": "\\f",
           "\v": "\\v"}  # fmt: skip
DECODERS: dict[TextKind, Any] = {
    TextKind.INTEGER: int,
    TextKind.DECIMAL: Decimal,
    TextKind.FLOAT: float,
    TextKind.BOOLEAN: lambda text: text == "t",
    TextKind.DATE: date.fromisoformat,
    TextKind.TIMESTAMP: datetime.fromisoformat,
    TextKind.TIMESTAMPTZ: datetime.fromisoformat,
    TextKind.TEXT: str,
    TextKind.OTHER: str,
}


def copy_text(value: str | None) -> str:
    """A value as COPY writes it in text form."""
    if value is None:
        return "\\N"
    return "".join(ESCAPES.get(c, c) for c in value)


def pg_timestamp(value: datetime) -> str:
    text = value.isoformat(sep=" ")
    return text.rstrip("0") if value.microsecond else text


def batch_of(kind: TextKind, texts: list[str | None], zone: ZoneInfo = BERLIN) -> TextBatch:
    form = TextForm((kind,), (DECODERS[kind],), zone)
    return TextBatch([[copy_text(t) for t in texts]], len(texts), form)


def per_value(batch: TextBatch, cells: Cells) -> list[str]:
    return [cells.cell(v) for v in batch.column(0)]


def fast(batch: TextBatch, cells: Cells) -> list[str]:
    return TextCells(cells.zone, [None], lambda i, v: cells.cell(v)).column(batch, 0)


# --- one column, no database: the fast cells are the per-value cells ---------------------


text_values = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), text_values), min_size=1, max_size=8))
def test_text_cells_are_the_per_value_cells(values: list[str | None]) -> None:
    batch = batch_of(TextKind.TEXT, values)
    cells = Cells(BERLIN)
    assert fast(batch, cells) == per_value(batch, Cells(BERLIN))


@pytest.mark.parametrize(
    "value",
    ["plain", "", "a & b", "<b>", "=1+2", "+49", "-5", "@SUM(A1)", " lead", "trail ", "\u00a0x",
     "x\u2028y", "a\x01b", "C:\\path", "\\N", "line 1\nline 2\ttab", "é" * 40_000, "\ufffe",
     "Zoë 🚀 שלום"],
)  # fmt: skip
def test_each_reason_for_the_per_value_rule(value: str) -> None:
    # one field that needs the per-value rule among plain ones
    batch = batch_of(TextKind.TEXT, ["plain", value, None, "more"])
    cells = Cells(BERLIN)
    assert fast(batch, cells) == per_value(batch, Cells(BERLIN))
    assert cells.cut_cells == (1 if len(value) > 32_767 else 0)


moments = st.datetimes(min_value=datetime(1850, 1, 1), max_value=datetime(9999, 12, 31))


def read_as_numbers(cells: list[str]) -> list[str]:
    """The cells with each ``<v>`` number as the double a reader gets from it."""
    return [re.sub(r"<v>([^<]*)</v>", lambda m: f"<v>{float(m.group(1))!r}</v>", c) for c in cells]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), moments), min_size=1, max_size=6),
    st.booleans(),
)
def test_timestamp_cells_are_the_per_value_cells(
    values: list[datetime | None], whole_seconds: bool
) -> None:
    if whole_seconds:  # (written without a division: the same double once read)
        values = [v.replace(microsecond=0) if v else v for v in values]
    # PostgreSQL writes fractions without trailing zeros
    texts = [None if v is None else pg_timestamp(v) for v in values]
    batch = batch_of(TextKind.TIMESTAMP, texts)
    got, want = fast(batch, Cells(BERLIN)), per_value(batch, Cells(BERLIN))
    assert read_as_numbers(got) == read_as_numbers(want)


@pytest.mark.parametrize("day", [date(1900, 3, 1), date(1902, 1, 1), date(2024, 1, 1),
                                 date(2100, 7, 1), date(9999, 12, 31)])  # fmt: skip
def test_every_second_of_a_day_reads_as_the_division(day: date) -> None:
    midnight = datetime(day.year, day.month, day.day)
    texts = [pg_timestamp(midnight + timedelta(seconds=s)) for s in range(86_400)]
    got = fast(batch_of(TextKind.TIMESTAMP, texts), Cells(BERLIN))
    serials = [float(c.split("<v>")[1].split("</v>")[0]) for c in got]
    assert serials == [(midnight + timedelta(seconds=s) - datetime(1899, 12, 30))
                       / timedelta(days=1) for s in range(86_400)]  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), moments), min_size=1, max_size=6))
def test_timestamptz_cells_are_the_wall_clock_in_the_zone(values: list[datetime | None]) -> None:
    aware = [None if v is None else v.replace(tzinfo=UTC).astimezone(BERLIN) for v in values]
    texts = [None if v is None else v.isoformat(sep=" ") for v in aware]
    batch = batch_of(TextKind.TIMESTAMPTZ, texts)
    assert fast(batch, Cells(BERLIN)) == per_value(batch, Cells(BERLIN))
    # written in another zone than the file's: per value, converted
    other = batch_of(TextKind.TIMESTAMPTZ, texts, zone=ZoneInfo("UTC"))
    assert fast(other, Cells(BERLIN)) == per_value(other, Cells(BERLIN))


@pytest.mark.parametrize(
    ("kind", "texts"),
    [
        (TextKind.INTEGER, ["1", "-7", "999999999999999", "-999999999999999", None, "0"]),
        (TextKind.INTEGER, ["1", "1234567890123456789", "-1000000000000000", None]),
        (TextKind.BOOLEAN, ["t", "f", None, "t"]),
        (TextKind.DATE, ["2024-02-29", "1899-12-31", None, "1900-03-01", "2024-02-29"]),
        (TextKind.OTHER, ["13:45", None, "13:45"]),
    ],
)
def test_cells_of_other_kinds_are_the_per_value_cells(
    kind: TextKind, texts: list[str | None]
) -> None:
    batch = batch_of(kind, texts)
    assert fast(batch, Cells(BERLIN)) == per_value(batch, Cells(BERLIN))


@pytest.mark.parametrize(
    ("kind", "texts", "numbers"),
    [
        (TextKind.DECIMAL, ["1.50", "-0.0100", "0.0000001", "12345678901234567890.0123456789"],
         ["1.50", "-0.0100", "0.0000001", "12345678901234567890.0123456789"]),
        (TextKind.FLOAT, ["100", "-1.5", "1e+15", "1e-05", "0.1", "-0"],
         ["100.0", "-1.5", "1e+15", "1e-05", "0.1", "-0.0"]),
    ],
)  # fmt: skip
def test_numbers_keep_their_digits(kind: TextKind, texts: list[str], numbers: list[str]) -> None:
    # the database's digits (a double's integral text gets ".0", so it reads back as one)
    assert fast(batch_of(kind, texts), Cells(BERLIN)) == [f"<c><v>{n}</v></c>" for n in numbers]
    # NaN and infinities are text cells, per value
    batch = batch_of(kind, ["1", "NaN", None, "Infinity", "-Infinity"])
    assert fast(batch, Cells(BERLIN)) == per_value(batch, Cells(BERLIN))


# --- whole files from PostgreSQL: the COPY path against the cursor path -------------------


def export(url: str, path: Path, *, use_copy: bool, columns: dict[str, Any] | None = None,
           sql: str = "SELECT * FROM every_type", zone: ZoneInfo = BERLIN) -> Any:  # fmt: skip
    specs, errors = read_columns(columns)
    assert errors == []
    context = ExportContext("Every type", RUN_AT, BERLIN, columns=specs)
    service = QueryService({"DATABASE_URL": url})
    try:
        with service.execute(
            "DATABASE_URL", sql, run_at=RUN_AT, zone=zone, timeout_seconds=30,
            batch_size=2, use_copy=use_copy,
        ) as result:  # fmt: skip
            writer = get_exporter("xlsx").open(path, result.columns, context)
            kinds = set()
            for batch in result.batches:
                kinds.add(type(batch))
                writer.write_batch(batch)
            exported = writer.close()
    finally:
        service.close()
    assert (TextBatch in kinds) == use_copy
    return exported


def cells_of(path: Path) -> list[list[tuple[Any, ...]]]:
    sheet = openpyxl.load_workbook(path).active
    return [
        [(c.value, type(c.value), c.data_type, c.number_format, c.quotePrefix, c.font.b)
         for c in row]
        for row in sheet.iter_rows()
    ]  # fmt: skip


def _same_cells(a: list[list[tuple[Any, ...]]], b: list[list[tuple[Any, ...]]]) -> None:
    assert len(a) == len(b)
    for n, (row_a, row_b) in enumerate(zip(a, b, strict=True), start=1):
        for got, want in zip(row_a, row_b, strict=True):
            assert got == want or (got[0] != got[0] and want[0] != want[0]), (n, got, want)


@pytest.mark.postgres
def test_every_type_gives_the_same_cells_from_text(pg_fresh_url: str, tmp_path: Path) -> None:
    load_every_type(pg_fresh_url)
    copied = export(pg_fresh_url, tmp_path / "copied.xlsx", use_copy=True)
    fetched = export(pg_fresh_url, tmp_path / "fetched.xlsx", use_copy=False)
    assert (
        copied.notes == fetched.notes == ["1 cells longer than Excel's 32,767 characters were cut"]
    )
    a, b = cells_of(copied.path), cells_of(fetched.path)
    _same_cells(a, b)
    header = [c[0] for c in a[0]]
    first = dict(zip(header, (c[0] for c in a[1]), strict=True))
    assert first["huge"] == "1234567890123456789"  # past 15 digits: text, never rounded
    assert first["at_tz"] == datetime(2024, 7, 1, 14, 0)  # in the task's zone
    assert first["ratio"] == 1e15 and first["flag"] is True
    assert [c[0] for c in a[3]] == [None] * len(header)  # NULL: empty cells
    # a different zone for the query than for the file: timestamptz per value, converted
    other = export(pg_fresh_url, tmp_path / "other.xlsx", use_copy=True, zone=ZoneInfo("UTC"))
    _same_cells(cells_of(other.path), b)


FORMATS = {
    "amount": {"label": "Amount", "format": "currency", "currency": "EUR", "total": "sum"},
    "ratio": {"format": "number", "decimals": 2, "total": "avg"},
    "n": {"hidden": True},
    "day": {"format": "date", "pattern": "dd.mm.yyyy", "total": "max"},
    "at": {"format": "datetime"},
    "flag": {"format": "boolean", "words": ["paid", "open"]},
    "small": {"format": "boolean", "words": ["yes", "no"]},
    "big": {"format": "integer", "total": "min"},
    "label": {"label": "Label", "total": "count"},
}


@pytest.mark.postgres
def test_column_formats_and_totals_are_the_same_from_text(
    pg_fresh_url: str, tmp_path: Path
) -> None:
    load_every_type(pg_fresh_url)
    sql = "SELECT n, small, big, amount, ratio, flag, day, at, label FROM every_type WHERE n <> 0"
    copied = export(pg_fresh_url, tmp_path / "c.xlsx", use_copy=True, columns=FORMATS, sql=sql)
    fetched = export(pg_fresh_url, tmp_path / "f.xlsx", use_copy=False, columns=FORMATS, sql=sql)
    a, b = cells_of(copied.path), cells_of(fetched.path)
    _same_cells(a, b)
    assert [c[0] for c in a[0]] == ["small", "big", "Amount", "ratio", "flag", "day", "at", "Label"]
    assert a[1][2][3] == '"€"#,##0.00' and a[1][4][0] == "paid"
    totals = openpyxl.load_workbook(copied.path).active[len(a)]
    assert totals[2].value.startswith("=SUBTOTAL(109,")  # a live total, as on the other path


@pytest.mark.postgres
def test_libreoffice_reads_the_fast_path_file_as_the_other(
    pg_fresh_url: str, tmp_path: Path
) -> None:
    office = shutil.which("libreoffice") or shutil.which("soffice")
    require(office, "LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
    assert office is not None
    load_every_type(pg_fresh_url)
    sql = "SELECT * FROM every_type ORDER BY n NULLS LAST"
    export(pg_fresh_url, tmp_path / "copied.xlsx", use_copy=True, columns=FORMATS, sql=sql)
    export(pg_fresh_url, tmp_path / "fetched.xlsx", use_copy=False, columns=FORMATS, sql=sql)
    profile = tmp_path / "lo-profile"  # own profile: parallel tests must not share one
    subprocess.run(
        [
            office, f"-env:UserInstallation=file://{profile}", "--headless",
            "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76",
            "--outdir", str(tmp_path / "out"),
            str(tmp_path / "copied.xlsx"), str(tmp_path / "fetched.xlsx"),
        ],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip

    def rows(name: str) -> list[list[str]]:
        with open(tmp_path / "out" / name, encoding="utf-8", newline="") as f:
            return list(csv.reader(f))

    copied, fetched = rows("copied.csv"), rows("fetched.csv")
    assert copied == fetched and len(copied) == 9  # header, 7 rows, totals
    at_tz, day = copied[0].index("at_tz"), copied[0].index("day")
    assert ("2024-07-01 14:00:00", "29.02.2024") in [(r[at_tz], r[day]) for r in copied]


def test_a_long_sheet_part_still_rolls_over(tmp_path: Path) -> None:
    # the fast path renders rows again on a new sheet, numbered from 2
    exporter = XlsxExporter(max_sheet_bytes=300)
    form = TextForm((TextKind.INTEGER, TextKind.TEXT), (int, str), BERLIN)
    writer = exporter.open(tmp_path / "r.xlsx", [Column("n"), Column("t")],
                           ExportContext("R", RUN_AT, BERLIN))  # fmt: skip
    for start in range(0, 40, 10):
        fields = [[str(i) for i in range(start, start + 10)], [f"row {i}" for i in range(10)]]
        writer.write_batch(TextBatch(fields, 10, form))
    writer.close()
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert len(wb.sheetnames) == 4
    seen = [r[0] for ws in wb.worksheets for r in ws.iter_rows(min_row=2, values_only=True)]
    assert seen == list(range(40))
    assert [ws.max_row for ws in wb.worksheets] == [11] * 4


def test_hidden_columns_select_text(tmp_path: Path) -> None:
    specs, _ = read_columns({"secret": {"hidden": True}})
    context = ExportContext("R", RUN_AT, BERLIN, columns=specs)
    form = TextForm((TextKind.INTEGER, TextKind.TEXT), (int, str), BERLIN)
    writer = get_exporter("xlsx").open(tmp_path / "h.xlsx", [Column("secret"), Column("t")],
                                       context)  # fmt: skip
    writer.write_batch(TextBatch([["1", "2"], ["a", "\\N"]], 2, form))
    writer.close()
    ws = openpyxl.load_workbook(tmp_path / "h.xlsx").active
    assert list(ws.iter_rows(values_only=True)) == [("t",), ("a",), (None,)]
