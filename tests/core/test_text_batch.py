"""TextBatch (src/core/text_batch.py): COPY text split into columns, read as rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from src.core.column_format import ReportColumns, Totals, read_columns
from src.core.column_types import ColumnTyper
from src.core.result import Column
from src.core.text_batch import (
    NULL,
    TextBatch,
    TextForm,
    TextKind,
    column_values,
    may_hold_text,
    unescape,
)
from src.core.vocabulary import TotalKind

FORM = TextForm(
    (TextKind.INTEGER, TextKind.TEXT, TextKind.DECIMAL, TextKind.DATE),
    (int, str, Decimal, date.fromisoformat),
    ZoneInfo("UTC"),
)
LINES = "1\tplain\t1.50\t2024-02-29\n2\ttab\\there\\\\x\t\\N\t\\N\n3\t\\\\N\t-7\t2024-03-01\n"
ROWS = [
    (1, "plain", Decimal("1.50"), date(2024, 2, 29)),
    (2, "tab\there\\x", None, None),
    (3, "\\N", Decimal("-7"), date(2024, 3, 1)),
]


def test_lines_split_into_columns_and_read_as_rows() -> None:
    batch = TextBatch.from_lines(LINES, 3, FORM)
    assert batch.fields[0] == ["1", "2", "3"] and batch.fields[2][1] == NULL
    assert len(batch) == 3
    assert list(batch) == ROWS
    assert batch[1] == ROWS[1] and batch[-1] == ROWS[2]
    assert batch[1:] == ROWS[1:] and batch[::2] == ROWS[::2]
    with pytest.raises(IndexError):
        batch[3]
    assert column_values(batch, 2) == [r[2] for r in ROWS]
    assert column_values(ROWS, 2) == [r[2] for r in ROWS]


def test_a_line_with_the_wrong_number_of_fields_is_refused_when_read() -> None:
    batch = TextBatch.from_lines(LINES.replace("\t-7", ""), 3, FORM)
    assert batch.lines is not None and len(batch) == 3  # handed on as it came, unsplit
    with pytest.raises(ValueError, match="3 rows of 4 columns expected, got 11 fields"):
        _ = batch.fields
    with pytest.raises(ValueError, match="3 rows of 4 columns expected"):
        list(batch)


def test_a_batch_is_split_only_when_its_fields_are_read() -> None:
    batch = TextBatch.from_lines(LINES, 3, FORM)
    assert batch._fields is None and batch.width == 4
    assert batch.fields[0] == ["1", "2", "3"] and batch._fields is not None


def test_escapes_and_null() -> None:
    assert unescape("a\\tb\\nc\\\\d\\re\\bf\\fg\\vh") == "a\tb\nc\\d\re\bf\fg\vh"
    assert unescape("plain") == "plain"
    assert FORM.value(1, NULL) is None and FORM.value(1, "\\\\N") == "\\N"


def test_selected_columns_and_parts_stay_text_and_decode_once() -> None:
    calls: list[str] = []

    def counted(text: str) -> Decimal:
        calls.append(text)
        return Decimal(text)

    form = TextForm(FORM.kinds, (int, str, counted, date.fromisoformat), FORM.zone)
    batch = TextBatch.from_lines(LINES, 3, form)
    shown = batch.select([2, 0])
    assert isinstance(shown, TextBatch) and shown.kinds == [TextKind.DECIMAL, TextKind.INTEGER]
    assert list(shown) == [(r[2], r[0]) for r in ROWS]
    assert batch.column(2) == [r[2] for r in ROWS]
    assert calls == ["1.50", "-7"]  # decoded once for the batch and its selection
    part = batch.between(1, 3)
    assert list(part) == ROWS[1:] and batch.between(0, 3) is batch


def test_report_columns_project_and_total_text_batches() -> None:
    specs, _ = read_columns({"n": {"hidden": True}, "amount": {"total": "sum"}})
    columns = [Column("n"), Column("label"), Column("amount"), Column("day")]
    layout = ReportColumns(columns, specs)
    batch = TextBatch.from_lines(LINES, 3, FORM)
    shown = layout.project(batch)
    assert isinstance(shown, TextBatch) and len(shown.fields) == 3
    layout.add_to_totals(shown)
    assert layout.totals.value(1) == Decimal("-5.50")


def test_totals_over_columns_keep_the_row_by_row_rules() -> None:
    nan = float("nan")
    rows = [(1, "b", nan), (2.5, "", 3.0), (None, "a", 1.0), (Decimal("1.5"), 7, 2.0)]
    totals = Totals({0: TotalKind.SUM, 1: TotalKind.MIN, 2: TotalKind.MAX, 3: TotalKind.COUNT})
    rows = [(*row, row[0]) for row in rows]
    totals.add(rows[:2])
    totals.add(rows[2:])
    assert totals.value(0) == pytest.approx(5.0) and totals.value(3) == 3
    assert totals.min[1] == "a" and totals.max[1] == "b"  # 7 does not compare with text
    assert totals.value(2) != totals.value(2)  # a NaN first stays, as the loop had it


def test_a_typed_column_turns_a_text_batch_into_rows_only_when_it_may_hold_text() -> None:
    batch = TextBatch.from_lines(LINES, 3, FORM)
    assert not may_hold_text(batch, 3) and may_hold_text(batch, 1) and may_hold_text(ROWS, 3)
    columns = [Column("n", "INTEGER"), Column("label", "STRING"), Column("amount", "DECIMAL"),
               Column("day", "DATE")]  # fmt: skip
    typer = ColumnTyper(columns, {"day": "date"})
    assert next(typer.batches([batch])) is batch  # the database's dates: nothing to type
    typer = ColumnTyper(columns, {"label": "date"})
    (typed,) = typer.batches([batch])
    assert not isinstance(typed, TextBatch) and [r[1] for r in typed] == [r[1] for r in ROWS]
    assert "'plain', not a date" in typer.notes[0]


@pytest.mark.parametrize("kind", list(TotalKind))
@pytest.mark.parametrize(
    "dates",
    [
        ["2024-02-29", NULL, "2024-03-01", "1999-12-31"],
        [NULL, NULL],
        ["2024-02-29", "infinity", "-infinity"],  # not plain: decoded, compared as dates
        ["0044-03-15 BC", "2024-01-01"],
    ],
)
def test_totals_of_a_text_batch_are_those_of_its_values(kind: TotalKind, dates: list[str]) -> None:
    # A text batch's count reads no value and the min / max of plain dates compares
    # their text: the totals must be those of the decoded values, every kind
    infinite = {"infinity": date.max, "-infinity": date.min, "0044-03-15 BC": date(44, 3, 15)}
    form = TextForm(
        (TextKind.INTEGER, TextKind.TEXT, TextKind.DECIMAL, TextKind.DATE),
        (int, str, Decimal, lambda text: infinite.get(text) or date.fromisoformat(text)),
        ZoneInfo("UTC"),
    )
    lines = "".join(
        f"{n}\t{text}\t{amount}\t{day}\n"
        for n, text, amount, day in zip(
            range(len(dates)), ["a", "", NULL, "b"], ["1.50", NULL, "-7", "2"], dates,
            strict=False,
        )
    )  # fmt: skip
    batch = TextBatch.from_lines(lines, len(dates), form)
    rows = list(batch)
    kinds = dict.fromkeys(range(4), kind)
    from_text, from_rows = Totals(kinds), Totals(kinds)
    from_text.add(batch)
    from_rows.add(rows)
    assert [from_text.value(i) for i in range(4)] == [from_rows.value(i) for i in range(4)]
    if kind is TotalKind.MAX and dates[0] == "2024-02-29" and len(dates) == 4:
        assert from_text.value(3) == date(2024, 3, 1)
