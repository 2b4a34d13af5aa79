"""incident external refs: where an incident lives in PagerDuty, Opsgenie, Jira, Teams, and
which timeline entries each mirror has received

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_external_refs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_external_refs_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_external_refs")),
        sa.UniqueConstraint(
            "incident_id", "system", name=op.f("uq_incident_external_refs_incident_id")
        ),
    )
    op.create_index(
        op.f("ix_incident_external_refs_incident_id"), "incident_external_refs", ["incident_id"]
    )
    op.create_index(
        op.f("ix_incident_external_refs_external_id"), "incident_external_refs", ["external_id"]
    )
    op.create_table(
        "mirror_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_mirror_deliveries_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mirror_deliveries")),
        sa.UniqueConstraint("key", name=op.f("uq_mirror_deliveries_key")),
    )
    op.create_index(op.f("ix_mirror_deliveries_incident_id"), "mirror_deliveries", ["incident_id"])


def downgrade() -> None:
    op.drop_table("mirror_deliveries")
    op.drop_table("incident_external_refs")
