"""The test servers themselves (tests/servers.py, tests/conftest.py): reachable, isolated per
test, reachable through ODBC."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.servers import OdbcTarget


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
