"""Session fixtures for the real servers started by scripts/setup-services.sh.

``pg_url`` / ``mariadb_url``: the shared test database (checked to answer).
``cluster_url``: a cluster database (schema upgraded) on a fresh PostgreSQL schema.
``pg_fresh_url`` / ``mariadb_fresh_url``: a schema (PostgreSQL) or database (MariaDB)
made for one test and dropped after it, so xdist workers never collide.
``odbc_mariadb`` / ``odbc_pg``: an :class:`OdbcTarget` whose driver is registered.
Each skips locally and fails under CI=true when its service is missing (see
``tests/servers.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.daemon_harness import DaemonProcess
from tests.servers import OdbcTarget, require, service_settings, unique_name

pytest_plugins = [
    "tests.fixtures.smtp",
    "tests.fixtures.clockshift",
    "tests.fixtures.small_disk",
    "tests.fixtures.browser",
]

_CONNECT_TIMEOUT = {"connect_timeout": 5}


def _check_answers(url: str, what: str) -> None:
    engine = sa.create_engine(url, connect_args=_CONNECT_TIMEOUT, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure to connect means: service missing
        shown = make_url(url).render_as_string(hide_password=True)
        require(False, f"{what} at {shown} does not answer: {type(exc).__name__}: {exc}")
    finally:
        engine.dispose()


def _url_setting(key: str, what: str) -> str:
    url = service_settings().get(key)
    require(url, f"{what}: {key} is not set (.test-services.env or the environment)")
    assert url is not None
    _check_answers(url, what)
    return url


@pytest.fixture(scope="session")
def pg_url() -> str:
    """SQLAlchemy URL of the PostgreSQL test database (psycopg2)."""
    return _url_setting("TEST_PG_URL", "PostgreSQL")


@pytest.fixture(scope="session")
def mariadb_url() -> str:
    """SQLAlchemy URL of the MariaDB test database (pymysql)."""
    return _url_setting("TEST_MARIADB_URL", "MariaDB")


@pytest.fixture
def pg_fresh_url(pg_url: str) -> Iterator[str]:
    """A URL whose search_path is a new, empty schema; dropped after the test."""
    schema = unique_name("t")
    admin = sa.create_engine(pg_url, poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def cluster_url(pg_fresh_url: str) -> Iterator[str]:
    """A cluster database (CLUSTER_DATABASE_URL) on a fresh schema, upgraded to the head
    revision; its pooled connections are closed after the test."""
    from src.services.cluster.database import dispose_engines, engine_for
    from src.services.cluster.schema import upgrade

    upgrade(engine_for(pg_fresh_url))
    try:
        yield pg_fresh_url
    finally:
        dispose_engines()


@pytest.fixture
def mariadb_fresh_url(mariadb_url: str) -> Iterator[str]:
    """A URL on a new, empty database ``dbsched_test_<hex>``; dropped after the test."""
    base = make_url(mariadb_url)
    database = unique_name(base.database or "dbsched_test")
    admin = sa.create_engine(mariadb_url, poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4"))
    try:
        yield base.set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{database}`"))
        admin.dispose()


@pytest.fixture
def table_name() -> str:
    """A table name unique to this test (for tests sharing one database)."""
    return unique_name("tbl")


def _odbc_target(setting: str, server_url: str, what: str) -> OdbcTarget:
    try:
        import pyodbc
    except ImportError as exc:  # libodbc.so.2 missing: unixodbc not installed
        require(False, f"pyodbc cannot load ({exc}); install the unixodbc package")
        raise
    driver = service_settings().get(setting)
    require(driver, f"{what} ODBC driver: {setting} is not set (.test-services.env)")
    assert driver is not None
    require(
        driver in pyodbc.drivers(),
        f"ODBC driver {driver!r} is not registered in /etc/odbcinst.ini "
        f"(registered: {pyodbc.drivers()})",
    )
    url = make_url(server_url)
    return OdbcTarget(
        driver=driver,
        host=url.host or "127.0.0.1",
        port=url.port or 0,
        user=url.username or "",
        password=url.password or "",
        database=url.database or "",
    )


@pytest.fixture(scope="session")
def odbc_mariadb(mariadb_url: str) -> OdbcTarget:
    """The MariaDB ODBC driver (odbc-mariadb) pointed at the MariaDB test database."""
    return _odbc_target("TEST_ODBC_MARIADB_DRIVER", mariadb_url, "MariaDB")


@pytest.fixture(scope="session")
def odbc_pg(pg_url: str) -> OdbcTarget:
    """The PostgreSQL ODBC driver (odbc-postgresql) pointed at the PostgreSQL test database."""
    return _odbc_target("TEST_ODBC_PG_DRIVER", pg_url, "PostgreSQL")


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    """Daemons a test started; any still running at the end is killed (and its pid lock)."""
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.kill()


@pytest.fixture(autouse=True)
def trusted_retention_gate() -> Iterator[None]:
    """Each test starts with this process's retention gate trusting the clock as it is.
    The gate refuses to prune once the wall clock has moved against the monotonic one
    since it last looked (src/services/retention.py), and a machine whose clock steps
    during the suite (a VM paused or forked, NTP stepping) would otherwise leave every
    later prune test in this worker refused."""
    from src.services.retention import GATE

    GATE.trust()
    yield
