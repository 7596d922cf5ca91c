"""ISO text made real dates, column by column (src/core/column_types.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from src.core.column_types import ColumnTyper, read_types, recognise
from src.core.result import Column
from src.core.vocabulary import ColumnType


def typed(columns: list[Column], batches: list[list[list[object]]], declared=None):
    typer = ColumnTyper(columns, declared)
    return [list(map(list, b)) for b in typer.batches(batches)], typer


def test_iso_text_columns_of_an_untyped_driver_become_dates() -> None:
    cols = [Column("day"), Column("at"), Column("label"), Column("typed_text", "text")]
    rows, typer = typed(
        cols,
        [
            [["2026-01-31", "2026-01-31 09:30:00", "x", "2026-01-31"], [None, None, None, None]],
            [["2026-02-01", "2026-02-01T10:00:00Z", "2026-01-01", "2026-01-01"]],
        ],
    )
    assert rows[0][0] == [date(2026, 1, 31), datetime(2026, 1, 31, 9, 30), "x", "2026-01-31"]
    assert rows[0][1] == [None, None, None, None]
    assert rows[1][0][:2] == [date(2026, 2, 1), datetime(2026, 2, 1, 10, tzinfo=UTC)]
    # a column the driver types (PostgreSQL's text) and a non-date first batch stay text
    assert rows[1][0][2:] == ["2026-01-01", "2026-01-01"]
    assert typer.notes == []


def test_a_later_non_date_value_falls_back_to_text_and_says_so() -> None:
    rows, typer = typed(
        [Column("day")],
        [[["2026-01-31"]], [["2026-02-30"], ["2026-03-01"]]],
    )
    assert [r[0] for b in rows for r in b] == [date(2026, 1, 31), "2026-02-30", "2026-03-01"]
    assert typer.notes == [
        "column 'day': row 2 holds '2026-02-30', not a date; that value and the rest of "
        "the column are shown as text"
    ]


def test_declared_types_win_and_unknown_names_are_said() -> None:
    cols = [Column("d", "varchar"), Column("t"), Column("s")]
    rows, typer = typed(
        cols,
        [[["2026-01-31", "2026-01-31", "2026-01-31 08:00:00+02:00"]]],
        {"d": "date", "t": "text", "s": "datetime", "gone": "date"},
    )
    tz = timezone(timedelta(hours=2))
    assert rows[0][0] == [date(2026, 1, 31), "2026-01-31", datetime(2026, 1, 31, 8, tzinfo=tz)]
    assert typer.notes == [
        "types names the column 'gone', which the result does not have (its columns: d, s, t)"
    ]


def test_recognise() -> None:
    assert recognise(["2026-01-01", None]) is ColumnType.DATE
    assert recognise(["2026-01-01", "2026-01-01 10:00"]) is ColumnType.DATETIME
    assert recognise([None]) is None
    assert recognise(["2026-01-01", 5]) is None
    assert recognise(["20260101"]) is None


def test_read_types_names_each_bad_entry() -> None:
    assert read_types({"d": "date"}) == ({"d": ColumnType.DATE}, [])
    types, errors = read_types({"d": "day", "": "text"})
    assert types == {}
    assert [(e.field, e.message) for e in errors] == [
        ("types.d", "'day' is not a column type; known: date, datetime, text"),
        ("types", "'' is not a column name"),
    ]
    assert read_types(["d"])[1][0].message.startswith("['d'] is not an object like")
