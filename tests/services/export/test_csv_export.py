"""The CSV exporter, read back with the csv module and as raw bytes."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.core.column_format import read_columns
from src.core.errors import ValidationError
from src.core.result import Column
from src.services.export import ExportContext, get_exporter
from src.services.export.csv_export import csv_value

CONTEXT = ExportContext(
    "Daily sales", datetime(2026, 3, 2, 6, 0, tzinfo=UTC), ZoneInfo("Europe/Berlin")
)


def write(path: Path, columns: list[str], rows: list[list[Any]], **options: Any) -> Any:
    writer = get_exporter("csv").open(path, [Column(c) for c in columns], CONTEXT, options)
    writer.write_batch(rows)
    return writer.close()


def test_values_quoting_and_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    rows = [
        [1, 2.5, Decimal("0.0000000000"), Decimal("12345678901234567890.12"), None, True, False],
        [date(2024, 2, 29), datetime(2024, 3, 31, 1, 2, 3), datetime(2024, 7, 1, 12, tzinfo=UTC),
         time(13, 45), b"\x01\xff", {"a": [1, "é"]}, 'say "hi", then\nleave'],
    ]  # fmt: skip
    result = write(path, ["a", "b", "c", "d", "e", "f", "g"], rows)
    raw = path.read_bytes()
    assert raw.startswith(b"a,b,c,d,e,f,g\r\n")  # no BOM, CRLF
    assert raw.count(b"\r\n") == 3
    with open(path, encoding="utf-8", newline="") as f:
        got = list(csv.reader(f))
    assert got[1] == ["1", "2.5", "0.0000000000", "12345678901234567890.12", "", "true", "false"]
    assert got[2] == [
        "2024-02-29",
        "2024-03-31T01:02:03",
        "2024-07-01T14:00:00+02:00",
        "13:45:00",
        "0x01ff",
        '{"a": [1, "é"]}',
        'say "hi", then\nleave',
    ]
    assert b'"say ""hi"", then\nleave"\r\n' in raw  # RFC 4180 quoting
    assert result.rows_written == 2 and result.size_bytes == len(raw)


def test_unicode_and_long_text_are_kept_whole(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    text = "Grüße 👋 שלום مرحبا " + "x" * 40_000
    write(path, ["t"], [[text], ["=1+2"]])
    got = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    assert got == [["t"], [text], ["=1+2"]]


def test_bom_and_delimiter_options(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    write(path, ["a", "b"], [[Decimal("1.5"), "x;y"]], bom=True, delimiter=";")
    raw = path.read_bytes()
    assert raw == b'\xef\xbb\xbfa;b\r\n1.5;"x;y"\r\n'


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"bom": "yes"}, "exports.csv.bom: must be true or false, got 'yes'"),
        ({"delimiter": ";;"}, "exports.csv.delimiter: must be one character other than a quote"),
        ({"delimiter": '"'}, "exports.csv.delimiter: must be one character other than a quote"),
        (
            {"quote": "'"},
            "exports.csv.quote: unknown csv option 'quote'; "
            "known: enabled, filename, bom, delimiter",
        ),
    ],
)
def test_bad_options_are_refused(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        get_exporter("csv").open(tmp_path / "x.csv", [Column("a")], CONTEXT, options)
    assert str(err.value).startswith(message)


def test_floats_carry_no_binary_noise(tmp_path: Path) -> None:
    path = tmp_path / "sums.csv"
    write(path, ["region", "revenue"], [["East", 290001.55999999994], ["West", 162.0]])
    assert path.read_bytes() == b"region,revenue\r\nEast,290001.56\r\nWest,162\r\n"


def test_columns_give_labels_and_hide_columns_values_stay_machine_readable(
    tmp_path: Path,
) -> None:
    specs, _ = read_columns(
        {"amount": {"label": "Amount", "format": "number", "total": "sum"}, "id": {"hidden": True}}
    )
    context = ExportContext("t", datetime(2026, 1, 1, tzinfo=UTC), ZoneInfo("UTC"), columns=specs)
    path = tmp_path / "c.csv"
    writer = get_exporter("csv").open(path, [Column("id"), Column("amount")], context, {})
    writer.write_batch([[1, 1234.5], [2, 1000]])
    writer.close()
    assert path.read_bytes() == b"Amount\r\n1234.5\r\n1000\r\n"


_cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.decimals(),
    st.text(alphabet=st.sampled_from('ab ,;"\r\n\t=é')),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.sampled_from([UTC, ZoneInfo("America/New_York")])),
    st.times(),
    st.binary(max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda width: st.lists(
            st.lists(_cells, min_size=width, max_size=width), min_size=1, max_size=8
        )
    ),
    st.sampled_from([",", ";", "\t"]),
)
def test_rows_of_values_are_what_the_csv_module_writes_of_csv_value(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[Any]], delimiter: str
) -> None:
    # The writer converts a column at a time and joins the records itself; the file must
    # be the csv module's over csv_value of each value, one by one (mixed types in a
    # column, NULLs, quoting, one-column rows with empty fields)
    width = len(rows[0])
    path = tmp_path_factory.mktemp("v") / "v.csv"
    names = [f"c{i}" for i in range(width)]
    write(path, names, rows, delimiter=delimiter)
    expected = io.StringIO(newline="")
    reference = csv.writer(expected, delimiter=delimiter, lineterminator="\r\n")
    reference.writerow(names)
    zone = CONTEXT.zone
    reference.writerows([[csv_value(v, zone) for v in row] for row in rows])
    assert path.read_bytes() == expected.getvalue().encode("utf-8")
