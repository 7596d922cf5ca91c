"""A driver's failure turned into a QueryError that says what to check and whether a retry
can help (src/services/query/classify.py), against the real servers."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import make_url

from src.core.errors import QueryError
from src.services.query import QueryService
from tests.servers import OdbcTarget

RUN_AT = datetime(2024, 3, 10, 23, 30, tzinfo=UTC)


UTC_ZONE = ZoneInfo("UTC")


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


@pytest.mark.parametrize("scheme", ["postgresql+psycopg2", "mysql+pymysql"])
def test_a_transient_failure_promises_no_retry_it_cannot_know_of(scheme: str) -> None:
    """Classified before the retry policy is looked at, so the words stay true after the
    final attempt too (they become the task's last_error)."""
    error = _fails(f"{scheme}://u:p@127.0.0.1:{_free_port()}/db")
    assert error.permanent is False
    assert "a retry can help: the run is tried again while its retry policy allows" in str(error)
    assert "will be retried" not in str(error)
