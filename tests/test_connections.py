"""The test servers themselves: reachable, isolated per test, reachable through ODBC."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from src.core.errors import ConfigError, QueryError
from src.services.connections import mask_url, resolve_connection
from src.services.envparse import load_env
from src.services.query import QueryService
from tests.servers import OdbcTarget

RUN_AT = datetime(2024, 3, 10, 23, 30, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")


@pytest.mark.postgres
def test_pg_fresh_schema_is_empty_and_private(pg_fresh_url: str) -> None:
    engine = sa.create_engine(pg_fresh_url)
    try:
        with engine.begin() as conn:
            schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
            assert schema.startswith("t_")
            conn.execute(sa.text("CREATE TABLE items (id int)"))
            tables = conn.execute(
                sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": schema},
            ).scalars()
            assert list(tables) == ["items"]
    finally:
        engine.dispose()


@pytest.mark.mariadb
def test_mariadb_fresh_database_is_empty(mariadb_fresh_url: str) -> None:
    engine = sa.create_engine(mariadb_fresh_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("SHOW TABLES")).all() == []
            conn.execute(sa.text("CREATE TABLE items (id int)"))
            assert conn.execute(sa.text("SHOW TABLES")).scalars().all() == ["items"]
    finally:
        engine.dispose()


@pytest.mark.odbc
@pytest.mark.parametrize("target_fixture", ["odbc_mariadb", "odbc_pg"])
def test_odbc_driver_returns_rows(target_fixture: str, request: pytest.FixtureRequest) -> None:
    import pyodbc

    target: OdbcTarget = request.getfixturevalue(target_fixture)
    with pyodbc.connect(target.connection_string(), timeout=5) as conn:
        rows = conn.cursor().execute("SELECT 40 + 2, 'zwölf'").fetchall()
    assert [tuple(r) for r in rows] == [(42, "zwölf")]


# --- connection settings (.env / environment) ------------------------------------------


def test_unknown_connection_name_says_which_variable_to_add() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_connection("sales", {"DATABASE_URL": "sqlite:///x.db"})
    assert str(caught.value) == (
        "connection 'sales': DB_SALES_URL is not set in .env or the environment; "
        "add a line such as DB_SALES_URL=postgresql+psycopg2://user:password@host:5432/dbname"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DATABASE_URL", "postgresql+psycopg2://u:p@h/default"),
        ("DB_SALES_URL", "mysql+pymysql://u:p@h/sales"),
        ("sales", "mysql+pymysql://u:p@h/sales"),
        ("sqlite:///demo.db", "sqlite:///demo.db"),
    ],
)
def test_connection_names_resolve(name: str, expected: str) -> None:
    env = {
        "DATABASE_URL": "postgresql+psycopg2://u:p@h/default",
        "DB_SALES_URL": "mysql+pymysql://u:p@h/sales",
    }
    assert resolve_connection(name, env) == expected


def test_literal_url_with_password_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_connection("postgresql://bob:S3cretPw@db/x", {})
    assert "S3cretPw" not in str(caught.value)
    assert "DB_<NAME>_URL" in str(caught.value)


def test_mask_url_hides_passwords_including_odbc_ones() -> None:
    assert mask_url("postgresql+psycopg2://bob:S3cretPw@db:5432/x") == (
        "postgresql+psycopg2://bob:***@db:5432/x"
    )
    odbc = OdbcTarget("MariaDB Unicode", "h", 3306, "bob", "S3cretPw", "x")
    masked = mask_url(odbc.sqlalchemy_url("mysql"))
    assert "S3cretPw" not in masked and "bob" in masked


def test_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("DB_A_URL=sqlite:///from-file.db\nDB_B_URL=sqlite:///only-file.db\n")
    monkeypatch.setenv("DB_A_URL", "sqlite:///from-env.db")
    env = load_env(dotenv)
    assert env["DB_A_URL"] == "sqlite:///from-env.db"
    assert env["DB_B_URL"] == "sqlite:///only-file.db"
    assert "DB_B_URL" not in os.environ  # the process environment is left alone


# --- test_connection and failures, against the real servers ---------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fails(url: str, connection: str = "DATABASE_URL") -> QueryError:
    service = QueryService({"DATABASE_URL": url})
    try:
        with pytest.raises(QueryError) as caught:
            service.test_connection(connection)
        return caught.value
    finally:
        service.close()


@pytest.mark.postgres
def test_postgres_test_connection_reports_version_and_place(pg_url: str) -> None:
    engine = sa.create_engine(pg_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        version = str(conn.exec_driver_sql("SHOW server_version").scalar()).split()[0]
    service = QueryService({"DB_REPORTS_URL": pg_url})
    try:
        assert service.test_connection("reports") == (
            f"PostgreSQL {version} at 127.0.0.1:5432/dbsched_test"
        )
    finally:
        service.close()


@pytest.mark.mariadb
def test_mariadb_test_connection_reports_version_and_place(mariadb_url: str) -> None:
    engine = sa.create_engine(mariadb_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        version = str(conn.exec_driver_sql("SELECT VERSION()").scalar()).split("-")[0]
    service = QueryService({"DATABASE_URL": mariadb_url})
    try:
        assert service.test_connection("DATABASE_URL") == (
            f"MariaDB {version} at 127.0.0.1:3306/dbsched_test"
        )
    finally:
        service.close()


@pytest.mark.parametrize("server", ["pg_url", "mariadb_url"])
def test_wrong_password_is_permanent_and_not_leaked(
    server: str, request: pytest.FixtureRequest
) -> None:
    url = make_url(request.getfixturevalue(server)).set(password="Wr0ngSecretPw")
    error = _fails(url.render_as_string(hide_password=False))
    assert error.permanent is True
    assert "refused the user name or password" in str(error)
    assert "Wr0ngSecretPw" not in str(error)
    assert "***" in str(error)


@pytest.mark.parametrize("server", ["pg_url", "mariadb_url"])
def test_unknown_database_is_permanent(server: str, request: pytest.FixtureRequest) -> None:
    url = make_url(request.getfixturevalue(server)).set(database="dbsched_test_no_such_db")
    error = _fails(url.render_as_string(hide_password=False))
    assert error.permanent is True
    assert "database named in the URL does not exist" in str(error)


@pytest.mark.parametrize(
    "template",
    [
        "postgresql+psycopg2://u:Pw12345678@127.0.0.1:{port}/x",
        "mysql+pymysql://u:Pw12345678@127.0.0.1:{port}/x",
    ],
)
def test_server_down_is_transient(template: str) -> None:
    error = _fails(template.format(port=_free_port()))
    assert error.permanent is False
    assert "cannot reach the database server" in str(error)
    assert "Pw12345678" not in str(error)


@pytest.mark.parametrize("server", ["pg_url", "mariadb_url"])
@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELEC 1", "SQL syntax error"),
        ("SELECT * FROM no_such_table_here", "names a table, column or function"),
    ],
)
def test_statement_errors_are_permanent(
    server: str, sql: str, expected: str, request: pytest.FixtureRequest
) -> None:
    service = QueryService({"DATABASE_URL": request.getfixturevalue(server)})
    try:
        with (
            pytest.raises(QueryError) as caught,
            service.execute("DATABASE_URL", sql, run_at=RUN_AT, zone=UTC_ZONE, timeout_seconds=10),
        ):
            pass
    finally:
        service.close()
    assert caught.value.permanent is True
    assert expected in str(caught.value)


# --- ODBC ------------------------------------------------------------------------------


@pytest.mark.odbc
def test_query_service_through_odbc_mariadb(odbc_mariadb: OdbcTarget) -> None:
    # SQLAlchemy has no postgresql+pyodbc dialect; odbc-postgresql is checked with raw
    # pyodbc above. mysql+pyodbc is the same path as mssql+pyodbc (ODBC Driver 18).
    target, dialect, product = odbc_mariadb, "mysql", "MariaDB"
    service = QueryService({"DB_ODBC_URL": target.sqlalchemy_url(dialect)})
    try:
        assert service.test_connection("odbc").startswith(f"{product} ")
        with service.execute(
            "odbc",
            "SELECT 40 + 2 AS answer, {today} AS today, 'zwölf' AS word",
            run_at=RUN_AT,
            zone=UTC_ZONE,
            timeout_seconds=10,
        ) as result:
            rows = [tuple(r) for batch in result.batches for r in batch]
    finally:
        service.close()
    assert [c.name for c in result.columns] == ["answer", "today", "word"]
    assert len(rows) == 1
    assert rows[0][0] == 42 and rows[0][2] == "zwölf"
    assert str(rows[0][1]).startswith("2024-03-10")


@pytest.mark.odbc
def test_missing_odbc_driver_names_the_installed_ones(odbc_mariadb: OdbcTarget) -> None:
    import pyodbc

    missing = OdbcTarget(
        "No Such Driver 99", odbc_mariadb.host, odbc_mariadb.port, "u", "Pw12345678", "x"
    )
    error = _fails(missing.sqlalchemy_url("mysql"))
    assert error.permanent is True
    assert "ODBC driver named in the URL is not installed" in str(error)
    assert odbc_mariadb.driver in str(error)
    assert set(pyodbc.drivers()) >= {odbc_mariadb.driver}
    assert "Pw12345678" not in str(error)
