"""Awkward result shapes from PostgreSQL and MariaDB, through every export.

Each value comes out sensibly in xlsx, csv and pdf (read back with openpyxl, csv,
pypdf), or the run fails with a clear error; never a broken file.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from pypdf import PdfReader

from src.services.query import QueryService
from src.services.runner import Runner
from src.services.settings import Settings
from src.services.task_store import TaskStore

MEGABYTE_TEXT = "x" * 1_000_000
csv.field_size_limit(sys.maxsize)  # the reader's own limit (128 KB), not the writer's
CONTROL = "bell\x07 tab\t vt\x0b esc\x1b end"
BIDI = "שלום עולם 🚀 مرحبا"


def run_query(folder: Path, url: str, query: str, **fields: Any):
    task = {
        "id": "aw-1",
        "name": "Awkward",
        "query": query,
        "schedule": {"cron": "@daily"},
        "timezone": "UTC",
        "exports": {"xlsx": True, "csv": True, "pdf": True},
        "email": {"to": ["a@example.com"]},
        **fields,
    }
    store = TaskStore(folder / "tasks.json")
    store.path.write_text(json.dumps({"version": 1, "tasks": [task]}))
    env = {"DATABASE_URL": url}
    query_service = QueryService(env)
    try:
        runner = Runner(store, Settings.from_env(env, folder), query_service)
        return runner.run(store.load().tasks[0])
    finally:
        query_service.close()


def read_back(outcome) -> tuple[list[tuple], list[list[str]], str]:
    files = {f.format: f.path for f in outcome.files}
    sheet = openpyxl.load_workbook(files["xlsx"]).active
    xlsx_rows = list(sheet.iter_rows(values_only=True))
    with files["csv"].open(newline="", encoding="utf-8") as handle:
        csv_rows = list(csv.reader(handle))
    pdf_text = "\n".join(p.extract_text() for p in PdfReader(files["pdf"]).pages)
    return xlsx_rows, csv_rows, pdf_text


PG_AWKWARD = f"""
SELECT
  '6f1c8f2e-3b0a-4c55-9d1e-0123456789ab'::uuid AS id,
  '{{"a": [1, 2], "b": "x"}}'::json AS doc,
  '{{"k": true}}'::jsonb AS docb,
  ARRAY[1, 2, 3] AS numbers,
  '\\xdeadbeef'::bytea AS blob,
  interval '1 day 02:03:04' AS span,
  '13:45:00+02'::timetz AS clock,
  'NaN'::numeric AS not_a_number,
  'Infinity'::float8 AS forever,
  '{CONTROL}' AS controls,
  '{BIDI}' AS bidi
"""


def test_postgresql_awkward_types_in_every_format(tmp_path, pg_url):
    outcome = run_query(tmp_path, pg_url, PG_AWKWARD)
    assert outcome.status == "success", outcome.error
    xlsx_rows, csv_rows, pdf_text = read_back(outcome)
    header, row = xlsx_rows
    assert header[0] == "id" and len(header) == 11
    values = dict(zip(header, row, strict=True))
    assert values["id"] == "6f1c8f2e-3b0a-4c55-9d1e-0123456789ab"
    assert json.loads(values["doc"]) == {"a": [1, 2], "b": "x"}
    assert json.loads(values["docb"]) == {"k": True}
    assert "1" in str(values["numbers"]) and "3" in str(values["numbers"])
    assert values["blob"]  # shown (hex or a size), never dropped
    assert "1 day" in str(values["span"]) or "26:03:04" in str(values["span"])
    assert values["bidi"] == BIDI
    assert "bell" in values["controls"] and "end" in values["controls"]
    # csv keeps everything as text, exactly
    csv_values = dict(zip(csv_rows[0], csv_rows[1], strict=True))
    assert csv_values["bidi"] == BIDI
    assert csv_values["id"] == "6f1c8f2e-3b0a-4c55-9d1e-0123456789ab"
    assert csv_values["controls"] == CONTROL
    assert csv_values["not_a_number"] == "NaN"
    assert "Awkward" in pdf_text and "not_a_number" in pdf_text


def test_megabyte_text_is_cut_with_a_note_in_xlsx_and_kept_in_csv(tmp_path, pg_url):
    outcome = run_query(tmp_path, pg_url, f"SELECT repeat('x', {len(MEGABYTE_TEXT)}) AS big")
    assert outcome.status == "success", outcome.error
    xlsx_rows, csv_rows, _ = read_back(outcome)
    assert len(xlsx_rows[1][0]) <= 32767  # Excel's cell limit
    assert any("32,767" in note or "32767" in note for note in outcome.notes), outcome.notes
    assert csv_rows[1][0] == MEGABYTE_TEXT


def test_five_hundred_columns_and_duplicate_names(tmp_path, pg_url):
    columns = ", ".join(f"{i} AS c{i}" for i in range(500))
    outcome = run_query(tmp_path, pg_url, f"SELECT {columns}, 1 AS dup, 2 AS dup")
    assert outcome.status == "success", outcome.error
    xlsx_rows, csv_rows, pdf_text = read_back(outcome)
    assert len(xlsx_rows[0]) == 502 and xlsx_rows[1][499] == 499
    assert csv_rows[0][-2:] == ["dup", "dup"] and csv_rows[1][-2:] == ["1", "2"]
    assert "c0" in pdf_text
    (pdf,) = [f for f in outcome.files if f.format == "pdf"]
    assert pdf.notes[0].startswith("Showing the first 27 of 502 columns; the full result is in")
    assert "Showing the first 27 of 502 columns" in pdf_text


def test_zero_columns_reports_rows_affected_and_writes_no_empty_file(tmp_path, pg_fresh_url):
    outcome = run_query(tmp_path, pg_fresh_url, "CREATE TABLE t (x int)", read_only=False)
    assert outcome.status == "success", outcome.error
    assert outcome.files == []
    # PostgreSQL allows a SELECT without columns
    zero = run_query(tmp_path, pg_fresh_url, "SELECT FROM generate_series(1, 3)")
    assert (zero.status, zero.rows, zero.files) == ("success", 3, [])
    assert zero.notes == ["the query returned 3 rows without columns: nothing to export"]


def test_mariadb_awkward_types(tmp_path, mariadb_url):
    query = (
        "SELECT UUID() AS id, JSON_OBJECT('a', 1) AS doc, X'DEADBEEF' AS bin_data, "
        "CAST('13:45:00' AS TIME) AS clock, "
        f"'{BIDI}' AS bidi, '{CONTROL}' AS controls, 1e308 * 10 AS overflow"
    )
    outcome = run_query(tmp_path, mariadb_url, query)
    if outcome.status == "failed":  # MariaDB refuses the overflow: a clear SQL error
        assert "overflow" in str(outcome.error).lower() or "range" in str(outcome.error).lower()
        outcome = run_query(tmp_path, mariadb_url, query.replace(", 1e308 * 10 AS overflow", ""))
    assert outcome.status == "success", outcome.error
    xlsx_rows, csv_rows, _ = read_back(outcome)
    values = dict(zip(xlsx_rows[0], xlsx_rows[1], strict=True))
    assert len(values["id"]) == 36
    assert json.loads(values["doc"]) == {"a": 1}
    assert values["bin_data"]
    assert values["bidi"] == BIDI
    assert dict(zip(csv_rows[0], csv_rows[1], strict=True))["controls"] == CONTROL


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "a/b\\c", "line\nbreak", "x" * 300, "📈 Révenue ☕", "..", "CON"],
)
def test_hostile_task_names_never_escape_the_exports_folder(tmp_path, name):
    url = f"sqlite:///{tmp_path / 'n.db'}"
    sqlite3.connect(tmp_path / "n.db").close()  # a missing SQLite file is refused
    task_name = name.replace("\n", " ")[:200]
    outcome = run_query(tmp_path, url, "SELECT 1 AS one", name=task_name)
    assert outcome.status == "success", outcome.error
    exports = (tmp_path / "data" / "exports").resolve()
    for exported in outcome.files:
        resolved = exported.path.resolve()
        assert resolved.is_relative_to(exports)
        assert "\n" not in exported.path.name and "/" not in exported.path.name
    (eml,) = (tmp_path / "data" / "outbox").glob("*.eml")
    assert eml.resolve().is_relative_to((tmp_path / "data" / "outbox").resolve())
