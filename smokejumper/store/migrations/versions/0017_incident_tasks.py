"""incident_tasks: human work items on an incident (owner, due time, state), made by
responders or by a playbook that waits for them

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_by", sa.String(length=200), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completion_note", sa.Text(), nullable=True),
        sa.Column("workflow_id", sa.String(length=200), nullable=True),
        sa.Column("task_key", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_tasks_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_tasks")),
        sa.UniqueConstraint("task_key", name=op.f("uq_incident_tasks_task_key")),
    )
    op.create_index(op.f("ix_incident_tasks_incident_id"), "incident_tasks", ["incident_id"])
    op.create_index(op.f("ix_incident_tasks_state"), "incident_tasks", ["state"])


def downgrade() -> None:
    op.drop_index(op.f("ix_incident_tasks_state"), table_name="incident_tasks")
    op.drop_index(op.f("ix_incident_tasks_incident_id"), table_name="incident_tasks")
    op.drop_table("incident_tasks")
