"""Alembic's environment for the cluster schema: run on the connection the caller gives
(:func:`src.services.cluster.schema.upgrade`), never from an alembic.ini."""

from __future__ import annotations

from alembic import context

from src.services.cluster.schema import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table=VERSION_TABLE, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
