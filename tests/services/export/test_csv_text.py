"""The CSV writer's fast path (src/services/export/csv_text.py): records written a column at
a time from database text are byte for byte the records the csv module writes from the
same values, for every type, NULLs, quoting, delimiters and a BOM."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.core.result import Column
from src.core.text_batch import TEXT_DECODERS, TextBatch, TextForm, TextKind
from src.services.export import ExportContext, get_exporter
from src.services.query import QueryService
from tests.services.export.test_xlsx_text import batch_of, copy_text, pg_timestamp, text_values
from tests.services.query.test_copy_rows import load_every_type

BERLIN = ZoneInfo("Europe/Berlin")
RUN_AT = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
CONTEXT = ExportContext("t", RUN_AT, BERLIN)


def written(path: Path, batch: Any, width: int, options: dict[str, Any] | None = None) -> bytes:
    """The file a CsvWriter writes for one batch (a TextBatch, or rows of values)."""
    names = [Column(f"c{i}") for i in range(width)]
    writer = get_exporter("csv").open(path, names, CONTEXT, options)
    writer.write_batch(batch)
    writer.close()
    return path.read_bytes()


def both(tmp_path: Path, batch: TextBatch, options: dict[str, Any] | None = None) -> bytes:
    width = len(batch.fields)
    fast = written(tmp_path / "fast.csv", batch, width, options)
    values = written(tmp_path / "values.csv", [tuple(r) for r in batch], width, options)
    assert fast == values
    return fast


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.none(), text_values), min_size=1, max_size=6),
    st.sampled_from([",", ";", "\t", "|", "."]),
)
def test_text_fields_are_what_the_csv_module_writes(
    tmp_path_factory: pytest.TempPathFactory, values: list[str | None], delimiter: str
) -> None:
    both(tmp_path_factory.mktemp("t"), batch_of(TextKind.TEXT, values), {"delimiter": delimiter})


moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), moments), min_size=1, max_size=6))
def test_timestamps_are_written_as_isoformat(
    tmp_path_factory: pytest.TempPathFactory, values: list[datetime | None]
) -> None:
    tmp = tmp_path_factory.mktemp("t")
    texts = [None if v is None else pg_timestamp(v) for v in values]
    both(tmp, batch_of(TextKind.TIMESTAMP, texts))
    aware = [None if v is None else v.replace(tzinfo=UTC) for v in values if v is None or
             v.year > 1]  # fmt: skip
    tz_texts = [None if v is None else v.astimezone(BERLIN).isoformat(sep=" ") for v in aware
                if v is None or v.year < 9999]  # fmt: skip
    if tz_texts:
        both(tmp, batch_of(TextKind.TIMESTAMPTZ, tz_texts))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=False) | st.sampled_from([0.1 + 0.2, -0.0, 1e15, 13.7]),
                min_size=1, max_size=8))  # fmt: skip
def test_floats_are_number_text(
    tmp_path_factory: pytest.TempPathFactory, values: list[float]
) -> None:
    # PostgreSQL writes a double in its shortest exact form: Python's repr, without ".0"
    texts = [repr(v).removesuffix(".0").replace("inf", "Infinity") for v in values]
    both(tmp_path_factory.mktemp("t"), batch_of(TextKind.FLOAT, texts))


@pytest.mark.parametrize(
    ("kind", "texts"),
    [
        (TextKind.INTEGER, ["1", "-7", "1234567890123456789", None]),
        (TextKind.DECIMAL, ["1.50", "-0.0100", "NaN", "Infinity", None]),
        (TextKind.FLOAT, ["100", "0.1", "1e+15", "1e-05", "-0", "NaN", "-Infinity",
                          "0.14285714285714285", "290001.55999999994", None]),
        (TextKind.BOOLEAN, ["t", "f", None]),
        (TextKind.DATE, ["2024-02-29", "0044-03-15", None]),
        (TextKind.TIMESTAMP, ["2024-02-29 10:11:12", "2024-02-29 10:11:12.5", None]),
        (TextKind.OTHER, ["13:45", None]),
        (TextKind.TEXT, ["", None]),
    ],
)  # fmt: skip
# a delimiter that can stand in a number, a date or a boolean's field: those get quoted
@pytest.mark.parametrize("delimiter", [",", ".", "-", ":", "+", "e", "T", "1", "a", " "])
def test_other_kinds_are_what_the_csv_module_writes(
    tmp_path: Path, kind: TextKind, texts: list[str | None], delimiter: str
) -> None:
    both(tmp_path, batch_of(kind, texts), {"delimiter": delimiter})


def test_one_empty_field_is_quoted_as_the_csv_module_does(tmp_path: Path) -> None:
    assert both(tmp_path, batch_of(TextKind.TEXT, ["", None, "x"])) == b'c0\r\n""\r\n""\r\nx\r\n'


def test_bom_and_several_batches(tmp_path: Path) -> None:
    writer = get_exporter("csv").open(tmp_path / "b.csv", [Column("n")], CONTEXT, {"bom": True})
    writer.write_batch(batch_of(TextKind.INTEGER, ["1", "2"]))
    writer.write_batch([(3,)])
    writer.write_batch(batch_of(TextKind.INTEGER, ["4"]))
    writer.close()
    assert (tmp_path / "b.csv").read_bytes() == b"\xef\xbb\xbfn\r\n1\r\n2\r\n3\r\n4\r\n"


def export(url: str, path: Path, *, use_copy: bool, options: dict[str, Any]) -> None:
    service = QueryService({"DATABASE_URL": url})
    try:
        with service.execute(
            "DATABASE_URL", "SELECT * FROM every_type", run_at=RUN_AT, zone=BERLIN,
            timeout_seconds=30, batch_size=3, use_copy=use_copy,
        ) as result:  # fmt: skip
            writer = get_exporter("csv").open(path, result.columns, CONTEXT, options)
            for batch in result.batches:
                assert isinstance(batch, TextBatch) == use_copy
                writer.write_batch(batch)
            writer.close()
    finally:
        service.close()


@pytest.mark.postgres
@pytest.mark.parametrize("options", [{}, {"delimiter": ";", "bom": True}, {"delimiter": "-"}])
def test_every_type_gives_the_same_file_from_text(
    pg_fresh_url: str, tmp_path: Path, options: dict[str, Any]
) -> None:
    load_every_type(pg_fresh_url)
    export(pg_fresh_url, tmp_path / "copied.csv", use_copy=True, options=options)
    export(pg_fresh_url, tmp_path / "fetched.csv", use_copy=False, options=options)
    copied = (tmp_path / "copied.csv").read_bytes()
    assert copied == (tmp_path / "fetched.csv").read_bytes()
    assert b"2024-07-01T14:00:00+02:00" in copied  # the CsvExporter's forms


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.integers(-(10**6), 10**6)),
                  st.one_of(st.none(), text_values), st.one_of(st.none(), st.booleans())),
        min_size=1, max_size=6,
    ),
    st.sampled_from([",", ";", "\t", "|", "-", "t", "1"]),
)  # fmt: skip
def test_records_of_several_kinds_are_what_the_csv_module_writes(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[int | None, str | None, bool | None]],
    delimiter: str,
) -> None:
    # each column's quoting is decided on its own: known plain, or looked at
    kinds = (TextKind.INTEGER, TextKind.TEXT, TextKind.BOOLEAN)
    form = TextForm(kinds, tuple(TEXT_DECODERS[k] for k in kinds), BERLIN)
    texts = [
        [None if n is None else str(n) for n, _, _ in rows],
        [t for _, t, _ in rows],
        [None if b is None else "tf"[not b] for _, _, b in rows],
    ]
    lines = "".join("\t".join(copy_text(c[r]) for c in texts) + "\n" for r in range(len(rows)))
    batch = TextBatch.from_lines(lines, len(rows), form)
    both(tmp_path_factory.mktemp("t"), batch, {"delimiter": delimiter})
