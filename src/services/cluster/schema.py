"""The cluster schema's version: upgraded by Alembic migrations (``migrations/``).

``manage_tasks.py db upgrade`` (or ``scheduler_daemon.py --upgrade-db``) brings the
database to :data:`HEAD`; a node refuses to start on a database that is not there
(:func:`require_current`), naming the command that fixes it. Migrations run in one
transaction (PostgreSQL's DDL is transactional) under an advisory lock, so two nodes
upgrading at once do it once.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from src.core.errors import ConfigError
from src.services.cluster.database import shown_url, transaction

#: Alembic's bookkeeping table, named for this product: the cluster database may be one
#: an application already migrates with Alembic (its ``alembic_version`` stays its own).
VERSION_TABLE = "scheduler_alembic_version"
MIGRATIONS = Path(__file__).with_name("migrations")
#: Any two-int key: serialises upgrades run by several nodes starting at once.
_UPGRADE_LOCK = 0x5C4ED
#: An upgrade is not an ordinary cluster statement (bounded by
#: CLUSTER_STATEMENT_TIMEOUT_SECONDS, 5 s): a migration may rewrite a long history, and
#: a node starting beside one that upgrades waits for it. A hung upgrade is still cut.
UPGRADE_TIMEOUT_SECONDS = 900


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    """The newest revision this version of db-scheduler knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    """The database's revision (None: no cluster schema yet)."""
    with transaction(engine, "reading the schema version") as conn:
        return MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}
        ).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to :func:`head`; returns (revision before, revision after)."""
    config = _config()
    with transaction(engine, "upgrading the cluster schema") as conn:
        limit = f"{UPGRADE_TIMEOUT_SECONDS}s"
        conn.execute(sa.text("SELECT set_config('statement_timeout', :t, true)"), {"t": limit})
        conn.execute(sa.text("SELECT set_config('lock_timeout', :t, true)"), {"t": limit})
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK})
        before = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}
        ).get_current_revision()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return before, head()


def require_current(engine: Engine) -> None:
    """Refuse to work on a database whose schema is not this version's."""
    found = current(engine)
    wanted = head()
    if found == wanted:
        return
    where = shown_url(engine.url.render_as_string(hide_password=False))
    if found is None:
        raise ConfigError(
            f"the cluster database {where} has no db-scheduler schema yet; run "
            "`manage_tasks.py db upgrade` (or start the daemon with --upgrade-db)"
        )
    raise ConfigError(
        f"the cluster database {where} is at schema revision {found}, this version needs "
        f"{wanted}; run `manage_tasks.py db upgrade` with this version (or --upgrade-db)"
    )
