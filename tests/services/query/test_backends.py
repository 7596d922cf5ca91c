"""What differs between database servers (src/services/query/backends.py): the version and
place `test-connection` reports, and ODBC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from src.services.query import QueryService
from tests.servers import OdbcTarget

RUN_AT = datetime(2024, 3, 10, 23, 30, tzinfo=UTC)


UTC_ZONE = ZoneInfo("UTC")


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
