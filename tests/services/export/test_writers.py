"""A run's writers (src/services/export/writers.py): which go to the side process, and
that the files are the same either way, read back with real readers."""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from src.core.column_format import read_columns
from src.core.errors import ExportError
from src.core.result import Column
from src.core.text_batch import TextBatch, TextForm, TextKind
from src.services.export import ExportContext
from src.services.export.writers import RunWriters
from src.services.query import QueryService
from tests.servers import ROOT, require

BERLIN = ZoneInfo("Europe/Berlin")
RUN_AT = datetime(2024, 3, 11, 6, 0, tzinfo=UTC)
#: every type PostgreSQL writes (time, interval, json, uuid, bytea, arrays are read by the
#: driver; infinity dates, escapes, NULLs), three times over, in batches of four rows
EVERY_TYPE_3X = "SELECT e.*, k FROM every_type e, generate_series(1, 3) AS k ORDER BY k, n"
COLUMNS = {"n": {"total": "sum"}, "day": {"total": "max"}, "label": {"total": "count"}}


def write(
    service: QueryService, folder: Path, formats: list[str], *, sql: str = EVERY_TYPE_3X,
    side: bool = True, batch_size: int = 4, use_copy: bool = True, side_rows: int = 0,
    csv_options: dict[str, Any] | None = None, columns: dict[str, Any] | None = None,
) -> tuple[RunWriters, dict[str, Path]]:  # fmt: skip
    """The result of ``sql`` written as the runner writes it (totals counted by the run)."""
    folder.mkdir()
    specs, errors = read_columns(COLUMNS if columns is None else columns)
    assert not errors
    context = ExportContext("Every type", RUN_AT, BERLIN, columns=specs)
    files: list[tuple[str, Path, dict[str, Any]]] = []
    for fmt in formats:
        options = {"full_result_in": "xlsx"} if fmt == "pdf" and "xlsx" in formats else {}
        options = dict(csv_options or {}) if fmt == "csv" else options
        files.append((fmt, folder / f"r.{fmt}", options))
    with service.execute(
        "DATABASE_URL", sql, run_at=RUN_AT, zone=BERLIN, timeout_seconds=60,
        batch_size=batch_size, use_copy=use_copy,
    ) as result:  # fmt: skip
        layout = context.layout(result.columns)
        writers = RunWriters(
            files, result.columns, replace(context, totals=layout.totals), side, side_rows
        )
        for batch in result.batches:
            layout.add_to_totals(layout.project(batch))
            writers.write_batch(batch)
        done = writers.close(layout.totals)
    assert [f.path for f in done] == [path for _, path, _ in files]  # in the order given
    return writers, {f.format: f.path for f in done}


def pdf_text(path: Path) -> str:
    require(shutil.which("pdftotext"), "pdftotext is not installed (apt-get install poppler-utils)")
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.mark.parametrize(
    ("formats", "to_side"),
    [
        (["xlsx", "pdf", "csv"], ["pdf", "csv"]),
        (["csv"], ["csv"]),
        (["pdf", "csv"], ["pdf", "csv"]),
    ],
)
def test_the_files_are_the_same_with_and_without_the_side_process(
    every_type_pg: QueryService, tmp_path: Path, formats: list[str], to_side: list[str]
) -> None:
    # COPY text: the xlsx stays in the run's process; without it, a CSV takes every
    # writer to the side process, which splits the text itself (the run's never does)
    side, by_side = write(every_type_pg, tmp_path / "side", formats)
    alone, by_one = write(every_type_pg, tmp_path / "one", formats, side=False)
    assert side.in_side_process == to_side and alone.in_side_process == []
    assert by_side["csv"].read_bytes() == by_one["csv"].read_bytes()
    if "pdf" not in formats:
        return
    text = pdf_text(by_side["pdf"])
    assert text == pdf_text(by_one["pdf"])
    assert "21 rows" in text and "Zoë …" in text
    # the totals row is the run's, sent at close: the sum of n (3 x 12), the latest day
    # (9999-12-31, cut to its column), the count of labels (3 x 6)
    assert ["36", "999…", "18"] in [line.split() for line in text.splitlines()], text
    if "xlsx" not in formats:
        return
    sheets = [openpyxl.load_workbook(p["xlsx"], read_only=True).active for p in (by_side, by_one)]
    rows = [list(sheet.iter_rows(values_only=True)) for sheet in sheets]
    assert rows[0] == rows[1] and len(rows[0]) >= 22


@pytest.mark.parametrize(
    ("options", "columns"),
    [
        ({}, None),
        ({"delimiter": ";", "bom": True}, None),
        ({"formatted": True}, None),
        ({}, {"label": {"label": "Name; first"}, "n": {"hidden": True}, "day": {"total": "max"}}),
    ],
)
def test_a_csv_alone_is_the_same_with_records_made_by_the_run_s_process(
    every_type_pg: QueryService,
    tmp_path: Path,
    options: dict[str, Any],
    columns: dict[str, Any] | None,
) -> None:
    # every other batch's records made by the run's process with the writer's rules, the
    # rest by the second process: one file, as one process writes it
    kw: dict[str, Any] = {"csv_options": options, "columns": columns}
    side, by_side = write(every_type_pg, tmp_path / "side", ["csv"], **kw)
    alone, by_one = write(every_type_pg, tmp_path / "one", ["csv"], side=False, **kw)
    assert side.in_side_process == ["csv"] and side._shared is not None
    assert alone.in_side_process == [] and alone._shared is None
    assert by_side["csv"].read_bytes() == by_one["csv"].read_bytes()
    text = by_side["csv"].read_text(encoding="utf-8")
    assert text.startswith("\ufeff") is bool(options.get("bom"))
    records = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""),
                              delimiter=options.get("delimiter", ",")))  # fmt: skip
    assert len(records) == 1 + 21  # the header, every row (seven, three times over)
    if columns:
        assert "Name; first" in records[0] and "n" not in records[0]


@pytest.mark.parametrize("formats", [["csv", "pdf"], ["xlsx", "csv"], ["xlsx"]])
def test_rows_of_python_values_stay_in_the_run_s_process(
    tmp_path: Path, formats: list[str]
) -> None:
    # SQLite's rows: held until the decision they would cost ~5x their COPY text's memory
    db = tmp_path / "t.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (n INTEGER, label TEXT)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"n{i}") for i in range(50)])
    service = QueryService({"DATABASE_URL": f"sqlite:///{db}"})
    try:
        writers, files = write(service, tmp_path / "out", formats, sql="SELECT * FROM t")
    finally:
        service.close()
    assert writers.in_side_process == [] and sorted(files) == sorted(formats)


@pytest.mark.parametrize(
    ("formats", "kwargs", "why"),
    [
        (["xlsx", "csv"], {"side_rows": 10**6}, "a result not past side_rows"),
        (["xlsx", "csv"], {"use_copy": False}, "rows with Decimals: as dear to pickle as to write"),
        (["pdf"], {}, "a PDF alone: it reads its first rows only"),
        (["xlsx"], {}, "the xlsx alone"),
    ],
)
def test_the_writers_stay_in_the_run_s_process(
    every_type_pg: QueryService,
    tmp_path: Path,
    formats: list[str],
    kwargs: dict[str, Any],
    why: str,
) -> None:
    writers, files = write(every_type_pg, tmp_path / "out", formats, **kwargs)
    assert writers.in_side_process == [], why
    assert sorted(files) == sorted(formats)


def test_the_side_process_starts_once_the_result_passes_side_rows(
    every_type_pg: QueryService, tmp_path: Path
) -> None:
    with every_type_pg.execute(
        "DATABASE_URL", EVERY_TYPE_3X, run_at=RUN_AT, zone=BERLIN, timeout_seconds=60
    ) as result:
        rows = sum(map(len, result.batches))
    assert rows > 8  # batches of four: held whole until the decision
    at, past = (write(every_type_pg, tmp_path / name, ["xlsx", "pdf", "csv"], side_rows=n)
                for name, n in (("at", rows), ("past", rows - 1)))  # fmt: skip
    assert at[0].in_side_process == [] and past[0].in_side_process == ["pdf", "csv"]
    assert at[1]["csv"].read_bytes() == past[1]["csv"].read_bytes()
    assert pdf_text(at[1]["pdf"]) == pdf_text(past[1]["pdf"])


def test_a_side_writer_s_failure_fails_the_run_and_leaves_no_file(
    every_type_pg: QueryService, tmp_path: Path
) -> None:
    # the CSV goes to a folder that is not there: its writer fails in the side process
    folder = tmp_path / "out"
    folder.mkdir()
    context = ExportContext("t", RUN_AT, BERLIN)
    files = [("xlsx", folder / "r.xlsx", {}), ("csv", tmp_path / "gone" / "r.csv", {})]
    with (
        every_type_pg.execute("DATABASE_URL", EVERY_TYPE_3X, run_at=RUN_AT, zone=BERLIN,
                   timeout_seconds=60, batch_size=4) as result,
        pytest.raises(ExportError) as caught,
    ):  # fmt: skip
        writers = RunWriters(files, result.columns, context, side_rows=0)
        try:
            for batch in result.batches:
                assert isinstance(batch, TextBatch)
                writers.write_batch(batch)
            writers.close()
        except BaseException:
            writers.abort()
            raise
    assert "r.csv" in str(caught.value) and "No such file or directory" in str(caught.value)
    assert list(folder.iterdir()) == []  # the xlsx aborted with it
    assert writers.in_side_process == ["csv"]


def test_on_one_cpu_every_writer_stays_in_the_run_s_process(tmp_path: Path) -> None:
    # a second process only helps with a second CPU: a run limited to one (taskset, a
    # one-core machine) keeps its writers
    require(shutil.which("taskset"), "taskset is not installed (apt-get install util-linux)")
    code = (
        "from datetime import UTC, datetime\n"
        "from zoneinfo import ZoneInfo\n"
        "from src.services.export import ExportContext\n"
        "from src.services.export.writers import RunWriters\n"
        "context = ExportContext('t', datetime(2026, 1, 1, tzinfo=UTC), ZoneInfo('UTC'))\n"
        "print(RunWriters([], [], context).side_allowed)\n"
    )
    for cpus, allowed in (("0", "False"), ("0,1", "True")):
        done = subprocess.run(
            ["taskset", "-c", cpus, sys.executable, "-c", code],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == allowed, (cpus, done.stdout)


def test_only_a_result_that_could_go_is_held_and_as_its_text_alone(tmp_path: Path) -> None:
    form = TextForm((TextKind.INTEGER, TextKind.TEXT), (int, str), BERLIN)
    columns = [Column("n"), Column("label")]
    context = ExportContext("t", RUN_AT, BERLIN)

    def writers(formats: list[str], name: str) -> RunWriters:
        folder = tmp_path / name
        folder.mkdir()
        files = [(f, folder / f"r.{f}", {}) for f in formats]
        return RunWriters(files, columns, context, side=True, side_rows=10)

    text = TextBatch.from_lines("1\ta\n2\tb\n", 2, form)
    assert text.column(1) == ["a", "b"]  # read by the run (its preview, its totals)
    could_go = writers(["xlsx", "csv"], "could-go")
    could_go.write_batch(text)
    [held] = could_go._held  # not past side_rows: held, unsplit, without the values read
    assert held.lines == text.lines and held._fields is None and held._decoded == {}
    stays = [writers(["xlsx"], "xlsx-alone"), writers(["xlsx", "csv"], "rows")]
    stays[0].write_batch(text)
    stays[1].write_batch([(1, "a"), (2, "b")])
    assert [w._held for w in stays] == [[], []]  # nothing could go: written at once
    for w in [could_go, *stays]:
        done = w.close()
        assert w.in_side_process == [] and [f.rows_written for f in done] == [2] * len(done)
