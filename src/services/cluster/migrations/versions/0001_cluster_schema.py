"""The cluster schema: tasks, run lines, occurrences and their claims, nodes, pause, audit.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None

NOW = sa.text("now()")


def upgrade() -> None:
    # One row per task: its tasks.json form (definition and run summary) as JSON, so a
    # task reads back exactly as tasks.json would hold it; position keeps the file's order.
    op.create_table(
        "scheduler_tasks",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    # Store-wide values: the tasks' revision (bumped by each definition change: what the
    # nodes watch) and the top-level keys of the tasks document this version ignores.
    op.create_table(
        "scheduler_meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    # The run history: one row per line runs.jsonl would hold, the line itself as JSON.
    op.create_table(
        "scheduler_run_lines",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("task_id", sa.Text, nullable=True),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("node", sa.Text, nullable=True),
        sa.Column("line", JSONB, nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_index("scheduler_run_lines_run", "scheduler_run_lines", ["run_id"])
    op.create_index("scheduler_run_lines_task", "scheduler_run_lines", ["task_id", "id"])
    # Occurrences and their claims: the unit of "exactly once". The primary key is what
    # makes a second claim of one occurrence impossible, whichever node tries.
    op.create_table(
        "scheduler_occurrences",
        sa.Column("task_id", sa.Text, nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("node", sa.Text, nullable=False),
        sa.Column("boot_id", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=True),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
        sa.Column("status", sa.Text, nullable=True),
        sa.Column("retryable", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("task_id", "scheduled_at"),
        sa.CheckConstraint(
            "state IN ('running', 'done', 'skipped', 'interrupted')",
            name="scheduler_occurrences_state",
        ),
    )
    op.create_index("scheduler_occurrences_run", "scheduler_occurrences", ["run_id"])
    op.create_index(
        "scheduler_occurrences_open",
        "scheduler_occurrences",
        ["state", "node"],
        postgresql_where=sa.text("state IN ('running', 'interrupted')"),
    )
    # Nodes: one row per node name; boot_id changes at each start of the daemon, so the
    # claims of a node that restarted are known to be its earlier life's.
    op.create_table(
        "scheduler_nodes",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("boot_id", sa.Text, nullable=False),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("address", sa.Text, nullable=True),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("running", sa.Integer, nullable=False, server_default="0"),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
    )
    # The cluster's pause: one row.
    op.create_table(
        "scheduler_pause",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("by", sa.Text, nullable=True),
        sa.CheckConstraint("id = 1", name="scheduler_pause_one_row"),
    )
    # The audit log: one row per line audit.jsonl would hold.
    op.create_table(
        "scheduler_audit",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("line", JSONB, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "scheduler_audit",
        "scheduler_pause",
        "scheduler_nodes",
        "scheduler_occurrences",
        "scheduler_run_lines",
        "scheduler_meta",
        "scheduler_tasks",
    ):
        op.drop_table(table)
