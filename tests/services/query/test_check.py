"""src/services/query/check.py through what a user does: `add`, `edit` and `validate`
check a task's SQL against its real database (SQLite, PostgreSQL, MariaDB) without
running it, and say so plainly when the database cannot be asked."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from src.cli.app import cli

DOWN_URL = "postgresql+psycopg2://nobody@127.0.0.1:1/nothing"  # port 1: refused at once


class Space:
    def __init__(self, folder: Path, url: str) -> None:
        self.folder = folder
        self.url = url
        self.tasks_file = folder / "tasks.json"
        (folder / ".env").write_text(f"DB_T_URL={url}\nDB_DOWN_URL={DOWN_URL}\n")
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE sales (id INTEGER, amount INTEGER)"))
            conn.execute(sa.text("INSERT INTO sales VALUES (1, 10), (2, 20)"))
        self.engine = engine

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(
            cli,
            ["--tasks-file", str(self.tasks_file), "--env-file", str(self.folder / ".env"), *args],
            env={"DATABASE_URL": None, "TASKS_FILE": None, "ENV_FILE": None},
            catch_exceptions=False,
        )

    def add(self, query: str, *extra: str, name: str = "Report") -> Result:
        return self(
            "add", "--name", name, "--connection", "t", "--query", query,
            "--cron", "0 9 * * *", "--to", "boss@example.com", *extra,
        )  # fmt: skip

    def names(self) -> list[str]:
        if not self.tasks_file.exists():
            return []
        return [t["name"] for t in json.loads(self.tasks_file.read_text())["tasks"]]

    def rows(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM sales")).scalar_one())


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def space(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Space]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'reports.db'}"
        sqlite3.connect(tmp_path / "reports.db").close()
    else:
        fixture = "pg_fresh_url" if request.param == "postgresql" else "mariadb_fresh_url"
        url = request.getfixturevalue(fixture)
    space = Space(tmp_path, url)
    yield space
    space.engine.dispose()


#: The database's own words for each mistake, per database.
WORDS = {
    "syntax": {
        "sqlite": 'near "SELEC": syntax error',
        "postgresql": 'syntax error at or near "SELEC"',
        "mariadb": "You have an error in your SQL syntax",
    },
    "table": {
        "sqlite": "no such table: nowhere",
        "postgresql": 'relation "nowhere" does not exist',
        "mariadb": "nowhere' doesn't exist",
    },
    "column": {
        "sqlite": "no such column: colour",
        "postgresql": 'column "colour" does not exist',
        "mariadb": "Unknown column 'colour'",
    },
}


def _backend(space: Space) -> str:
    name = sa.engine.make_url(space.url).get_backend_name()
    return "mariadb" if name == "mysql" else name


@pytest.mark.parametrize(
    ("mistake", "query"),
    [
        ("syntax", "SELEC id FROM sales"),
        ("table", "SELECT * FROM nowhere"),
        ("column", "SELECT colour FROM sales"),
    ],
)
def test_add_refuses_sql_the_database_refuses_in_its_own_words(
    space: Space, mistake: str, query: str
) -> None:
    result = space.add(query)
    assert result.exit_code == 1
    words = WORDS[mistake][_backend(space)]
    assert result.output.startswith("Error: task 'Report': ")
    # the database's words first, then where (connection 't' and its masked URL)
    assert 0 < result.output.index(words) < result.output.index("connection 't', ")
    assert result.output.endswith("Nothing was saved.\n")
    assert space.names() == []
    # --no-check saves it as it is (the database is not asked)
    assert space.add(query, "--no-check").exit_code == 0
    assert space.names() == ["Report"]
    # ... and validate then finds it, unless told not to ask
    result = space("validate")
    assert result.exit_code == 1
    assert WORDS[mistake][_backend(space)] in result.output
    assert "1 task(s), 1 error(s) (a run would fail on each)" in result.output
    assert space("validate", "--no-check").exit_code == 0


def test_good_sql_is_saved_and_the_check_changes_nothing(space: Space) -> None:
    assert (
        space.add("SELECT id, amount FROM sales WHERE id > :low", "--param", "low=0").exit_code == 0
    )
    result = space.add("DELETE FROM sales", "--read-write", name="Purge")
    assert result.exit_code == 0, result.output
    assert space.rows() == 2  # EXPLAIN compiled the DELETE; nothing was deleted
    result = space("validate")
    assert result.exit_code == 0, result.output
    assert "May change data (read_only: false): 'Purge'" in result.output


def test_edit_checks_the_new_sql(space: Space) -> None:
    assert space.add("SELECT * FROM sales").exit_code == 0
    result = space("edit", "Report", "--query", "SELECT colour FROM sales")
    assert result.exit_code == 1 and WORDS["column"][_backend(space)] in result.output
    assert json.loads(space.tasks_file.read_text())["tasks"][0]["query"] == "SELECT * FROM sales"
    assert (
        space("edit", "Report", "--query", "SELECT colour FROM sales", "--no-check").exit_code == 0
    )


def test_a_name_without_a_value_is_refused_without_a_database(tmp_path: Path) -> None:
    space = Space(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    result = space(
        "add", "--name", "R", "--connection", "down", "--query",
        "SELECT * FROM sales WHERE region = :region", "--cron", "0 9 * * *", "--no-check",
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: task 'R': the SQL uses {region} but no run variable or parameter has that name"
    )
    assert "--param NAME=VALUE" in result.output
    assert space.names() == []


def test_an_unreachable_server_is_a_warning_and_the_task_is_saved(tmp_path: Path) -> None:
    space = Space(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    result = space(
        "add", "--name", "R", "--connection", "down", "--query", "SELECT 1", "--cron", "0 9 * * *",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    warning = next(line for line in result.output.splitlines() if line.startswith("Warning:"))
    assert warning.startswith("Warning: task 'R': SQL not checked against the database: ")
    # why first (the server's words and what they mean), then where
    assert warning.index("cannot reach the database server") < warning.index("connection 'down', ")
    assert space.names() == ["R"]
    result = space("validate")
    assert result.exit_code == 0 and "SQL not checked against the database" in result.output


def test_a_writing_statement_in_a_read_only_task_is_refused(space: Space) -> None:
    result = space.add("DELETE FROM sales WHERE id = 1")
    assert result.exit_code == 1
    assert result.output == (
        "Error: task 'Report': the SQL is a DELETE statement but the task is read-only (the "
        "default, also for a task written without read_only), so every run would fail. If it "
        'is meant to change data, allow it with --read-write (add, edit) or "read_only": false '
        "in tasks.json\nNothing was saved.\n"
    )
    # a file written before read-only became the default: it loads, validate says why it fails
    document = {
        "version": 1,
        "tasks": [
            {"id": "t1", "name": "Old purge", "connection": "t", "query": "DELETE FROM sales",
             "schedule": {"cron": "0 9 * * *"}},
        ],
    }  # fmt: skip
    space.tasks_file.write_text(json.dumps(document))
    result = space("validate", "--no-check")
    assert result.exit_code == 1
    assert "Error: task 'Old purge': the SQL is a DELETE statement but the task is read-only" in (
        result.output
    )
    assert space.rows() == 2


def test_a_missing_sqlite_file_is_refused_and_never_created(tmp_path: Path) -> None:
    space = Space(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    typo = tmp_path / "reprots.db"
    result = space(
        "add", "--name", "R", "--connection", f"sqlite:///{typo}", "--query", "SELECT 1",
        "--cron", "0 9 * * *",
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"the SQLite file {typo} does not exist; it is never created" in result.output
    assert not typo.exists()
    # saved anyway (--no-check), the run fails clearly and creates nothing
    assert space(
        "add", "--name", "R", "--connection", f"sqlite:///{typo}", "--query", "SELECT 1",
        "--cron", "0 9 * * *", "--no-check",
    ).exit_code == 0  # fmt: skip
    result = space("run", "R")
    assert result.exit_code == 1
    assert f"the SQLite file {typo} does not exist" in result.output
    assert not typo.exists()


def test_the_results_column_names_are_checked_where_the_database_can_say_them(
    space: Space,
) -> None:
    """SQLite and PostgreSQL describe the result without running it (LIMIT 0 over the
    statement): a chart or columns entry naming a column it lacks is refused. MariaDB is
    not asked (a derived table may be built before its LIMIT 0): the run notes it."""
    query = "SELECT id AS region, SUM(amount) AS revenue FROM sales GROUP BY id;"
    wrong = space.add(query, "--chart", "bar:x=region:y=revenu", "--label", "revnue=Revenue")
    if _backend(space) == "mariadb":
        assert wrong.exit_code == 0, wrong.output
        return
    assert wrong.exit_code == 1
    assert (
        "chart names 'revenu', which the query's result does not have (its columns: "
        "region, revenue)" in wrong.output
    )
    assert "columns.revnue: the query's result has no column 'revnue'" in wrong.output
    assert space.names() == []
    right = space.add(query, "--chart", "bar:x=region:y=revenue", "--label", "revenue=Revenue")
    assert right.exit_code == 0, right.output
    edited = space("edit", "Report", "--chart", "y=amount")
    assert edited.exit_code == 1 and "chart names 'amount'" in edited.output
    assert space.rows() == 2  # nothing ran
