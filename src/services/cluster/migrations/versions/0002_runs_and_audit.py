"""The cluster's runs folded for the read API (``scheduler_runs``); the audit log's
columns to filter on (task, action) and the node that wrote each entry.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    # One row per run, folded from its lines (src/services/cluster/run_index.py keeps it in
    # each line's transaction); indexed like the file's run index: a page of the newest
    # runs of a task, a status or a trigger is one range of one index.
    op.create_table(
        "scheduler_runs",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("task_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("trigger", sa.Text, nullable=True),
        # when the run began (its start line; a run recorded without one: its first line)
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("node", sa.Text, nullable=True),
        # the id of its first line in scheduler_run_lines: ties in `at` in write order
        sa.Column("first_line", sa.BigInteger, nullable=False),
        sa.Column("record", JSONB, nullable=False),
    )
    for name, columns in (
        ("scheduler_runs_at", []),
        ("scheduler_runs_task_at", ["task_id"]),
        ("scheduler_runs_status_at", ["status"]),
        ("scheduler_runs_trigger_at", ["trigger"]),
    ):
        op.create_index(
            name,
            "scheduler_runs",
            [*columns, sa.text("at DESC"), sa.text("first_line DESC")],
        )
    from src.services.cluster.run_index import fold_all  # the fold the writers use

    fold_all(op.get_bind())  # a long read: schema.upgrade's timeout, not a node's, holds
    # The audit log (unused before this revision): who wrote each entry, and what the
    # log's page filters on, as columns of their own.
    op.add_column("scheduler_audit", sa.Column("node", sa.Text, nullable=True))
    op.add_column("scheduler_audit", sa.Column("task_id", sa.Text, nullable=True))
    op.add_column("scheduler_audit", sa.Column("action", sa.Text, nullable=True))
    op.execute(
        "UPDATE scheduler_audit SET node = line->>'node', task_id = line->>'task_id', "
        "action = line->>'action'"
    )
    op.create_index("scheduler_audit_task", "scheduler_audit", ["task_id", "id"])
    op.create_index("scheduler_audit_action", "scheduler_audit", ["action", "id"])
    op.create_index("scheduler_audit_at", "scheduler_audit", ["at"])


def downgrade() -> None:
    for name in ("scheduler_audit_at", "scheduler_audit_action", "scheduler_audit_task"):
        op.drop_index(name, table_name="scheduler_audit")
    for column in ("action", "task_id", "node"):
        op.drop_column("scheduler_audit", column)
    op.drop_table("scheduler_runs")
