"""The cluster database: one engine per process, and its errors as the product's.

Every statement runs with a timeout (``statement_timeout``, ``lock_timeout`` and a
connect timeout), so no call can hang a node. A database that cannot be reached, or a
statement that fails for the server's reasons, is :class:`ClusterUnavailable`: an
``OSError``, because to the recorder it is what a full disk is -- the record could not
be written -- and every path that already handles that (a run that cannot record its
start does nothing; one that cannot record "emailing" sends nothing) handles it.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from src.services.cluster.settings import CONNECT_TIMEOUT_SECONDS, STATEMENT_TIMEOUT_SECONDS


class ClusterUnavailable(OSError):
    """The cluster database could not be reached, or refused a statement."""


def shown_url(url: str) -> str:
    """The URL with its password hidden (for messages and logs)."""
    return make_url(url).render_as_string(hide_password=True)


_engines: dict[tuple[str, float, str | None], Engine] = {}
_engines_lock = threading.Lock()


def engine_for(
    url: str, statement_timeout: float = STATEMENT_TIMEOUT_SECONDS, node: str | None = None
) -> Engine:
    """The process's engine for ``url`` (a small pool: a node uses a few connections).
    Its connections are named ``db-scheduler <node>`` in ``pg_stat_activity``."""
    key = (url, statement_timeout, node)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = sa.create_engine(
                url,
                pool_size=4,
                max_overflow=4,
                pool_pre_ping=True,
                pool_timeout=statement_timeout,
                connect_args={
                    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                    "application_name": f"db-scheduler {node or ''}".strip()[:63],
                },
            )
            milliseconds = int(statement_timeout * 1000)

            @sa.event.listens_for(engine, "connect")
            def _timeouts(dbapi_connection: Any, record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute(f"SET statement_timeout = {milliseconds}")
                cursor.execute(f"SET lock_timeout = {milliseconds}")
                cursor.execute("SET idle_in_transaction_session_timeout = 60000")
                cursor.execute("SET TIME ZONE 'UTC'")
                cursor.close()
                dbapi_connection.commit()

            _engines[key] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (after a fork, or in tests)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def transaction(engine: Engine, what: str) -> Iterator[Connection]:
    """A transaction; any database failure is :class:`ClusterUnavailable` saying ``what``
    could not be done, where, and why."""
    try:
        with engine.begin() as conn:
            yield conn
    except sa.exc.DBAPIError as exc:
        raise unavailable(engine, what, exc) from None


def unavailable(engine: Engine, what: str, exc: BaseException) -> ClusterUnavailable:
    detail = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    reason = detail[0] if detail else type(exc).__name__
    if getattr(getattr(exc, "orig", None), "pgcode", None) == "42P01":  # undefined_table
        reason += "; the cluster schema is missing: run `manage_tasks.py db upgrade`"
    return ClusterUnavailable(
        errno.EIO,
        f"{what}: the cluster database {shown_url(engine.url.render_as_string(False))} "
        f"failed: {reason}",
    )
