"""File names from the run variables, for every export (src/services/runner.py): a report
about yesterday is named after yesterday, in the task's zone, whether the name comes from
the task (``exports.<format>.filename``) or the EXPORT_FILENAME setting, and whether the
file is written by the exporters or by PostgreSQL's COPY. The email attaches the files
under those names."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest

from tests.servers import ROOT
from tests.services.test_runner import SQLITE_TABLE, Harness, load_table, make_task

YESTERDAY = "sales_{yesterday:%Y-%m-%d}"
#: Keeps the run folders of runs scheduled in the past (a run prunes older ones).
KEEP = {"EXPORTS_KEEP_DAYS": "100000"}


def run_at(h: Harness, moment: datetime) -> list[str]:
    """Run the task scheduled at ``moment``; the names of its files, and check the
    email attached exactly those."""
    outcome = h.runner.run(h.task, scheduled_for=moment)
    assert outcome.ok, outcome.error
    names = sorted(f.path.name for f in outcome.files)
    assert sorted(p.name for p in h.export_files()) == names
    (eml,) = h.outbox()
    message = message_from_bytes(eml.read_bytes(), policy=default_policy)
    assert sorted(str(p.get_filename()) for p in message.iter_attachments()) == names
    return names


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'typed.db'}"
    load_table(url, SQLITE_TABLE)
    return url


def test_every_export_is_named_after_yesterday_in_the_task_zone(
    tmp_path: Path, sqlite_url: str
) -> None:
    exports = {fmt: {"filename": YESTERDAY} for fmt in ("xlsx", "pdf", "csv")}
    h = Harness(tmp_path, {"DATABASE_URL": sqlite_url, **KEEP}, make_task(exports=exports))
    try:
        # 23:30 UTC on the 22nd is 00:30 on the 23rd in Berlin: Berlin's yesterday is the 22nd
        names = run_at(h, datetime(2026, 11, 22, 23, 30, tzinfo=UTC))
        assert names == ["sales_2026-11-22.csv", "sales_2026-11-22.pdf", "sales_2026-11-22.xlsx"]
    finally:
        h.close()


def test_the_example_in_the_docs_names_its_files_as_the_docs_say(
    tmp_path: Path, sqlite_url: str
) -> None:
    section = (ROOT / "docs" / "reports.md").read_text().split("## File names", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, re.S)
    assert block, "docs/reports.md's File names section must hold a json block"
    exports = json.loads("{" + block.group(1) + "}")["exports"]
    said = section.split(" writes\n", 1)[1].split(", and\nattaches", 1)[0]
    promised = sorted(re.findall(r"`([^`]+)`", said))
    assert len(promised) == 3
    h = Harness(tmp_path, {"DATABASE_URL": sqlite_url, **KEEP}, make_task(exports=exports))
    try:
        # "a run scheduled at 00:30 on 30 November in the task's zone" (Berlin: UTC+1)
        assert run_at(h, datetime(2026, 11, 29, 23, 30, tzinfo=UTC)) == promised
    finally:
        h.close()


def test_the_export_filename_setting_takes_run_variables_for_every_export(
    tmp_path: Path, sqlite_url: str
) -> None:
    env = {
        **KEEP,
        "DATABASE_URL": sqlite_url,
        "EXPORT_FILENAME": "{task_name} {start_of_month:%Y-%m} to {yesterday:%d}",
    }
    h = Harness(tmp_path, env, make_task(name="Stock"))
    try:
        names = run_at(h, datetime(2026, 3, 10, 7, tzinfo=UTC))
        assert names == [f"Stock 2026-03 to 09.{fmt}" for fmt in ("csv", "pdf", "xlsx")]
    finally:
        h.close()


def test_a_task_name_wins_over_the_setting_per_format(tmp_path: Path, sqlite_url: str) -> None:
    env = {"DATABASE_URL": sqlite_url, "EXPORT_FILENAME": "all_{run_date:%Y%m%d}", **KEEP}
    exports = {"xlsx": {"filename": "book_{yesterday:%d.%m.%Y}"}, "csv": True, "pdf": False}
    h = Harness(tmp_path, env, make_task(exports=exports))
    try:
        names = run_at(h, datetime(2026, 1, 1, 9, tzinfo=UTC))
        assert names == ["all_20260101.csv", "book_31.12.2025.xlsx"]
    finally:
        h.close()


@pytest.mark.postgres
def test_the_postgresql_copy_path_names_its_csv_the_same_way(
    tmp_path: Path, pg_fresh_url: str
) -> None:
    load_table(pg_fresh_url, "CREATE TABLE t (id integer); INSERT INTO t VALUES (1), (2)")
    task = make_task(
        query="SELECT id FROM t ORDER BY id",
        exports={"csv": {"filename": YESTERDAY}, "xlsx": False, "pdf": False},
    )
    h = Harness(tmp_path, {"DATABASE_URL": pg_fresh_url}, task)
    progress: list[str] = []
    try:
        outcome = h.runner.run(
            h.task, scheduled_for=datetime(2026, 11, 23, 8, tzinfo=UTC), progress=progress.append
        )
        assert outcome.ok, outcome.error
        assert any("by PostgreSQL COPY" in line for line in progress), progress
        assert [f.path.name for f in outcome.files] == ["sales_2026-11-22.csv"]
        assert outcome.files[0].path.read_text() == "id\n1\n2\n"
    finally:
        h.close()
