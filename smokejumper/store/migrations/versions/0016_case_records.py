"""case records: an incident's commander and assignees, notes, tags and links, and where
a merged incident went; where its Slack card was posted

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _incident_fk(table: str, column: str = "incident_id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["incidents.id"], name=op.f(f"fk_{table}_{column}_incidents")
    )


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("commander", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("slack_channel", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("slack_thread_ts", sa.String(length=40), nullable=True))
        batch.create_index(batch.f("ix_incidents_slack_channel"), ["slack_channel"])
        batch.create_foreign_key(
            batch.f("fk_incidents_merged_into_id_incidents"),
            "incidents",
            ["merged_into_id"],
            ["id"],
        )
    op.create_table(
        "incident_assignees",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        _incident_fk("incident_assignees"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_assignees")),
        sa.UniqueConstraint("incident_id", "user", name=op.f("uq_incident_assignees_incident_id")),
    )
    op.create_index(
        op.f("ix_incident_assignees_incident_id"), "incident_assignees", ["incident_id"]
    )
    op.create_table(
        "incident_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_key", sa.String(length=300), nullable=True),
        _incident_fk("incident_notes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_notes")),
        sa.UniqueConstraint("source_key", name=op.f("uq_incident_notes_source_key")),
    )
    op.create_index(op.f("ix_incident_notes_incident_id"), "incident_notes", ["incident_id"])
    op.create_table(
        "incident_tags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        _incident_fk("incident_tags"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_tags")),
        sa.UniqueConstraint("incident_id", "tag", name=op.f("uq_incident_tags_incident_id")),
    )
    op.create_index(op.f("ix_incident_tags_incident_id"), "incident_tags", ["incident_id"])
    op.create_index(op.f("ix_incident_tags_tag"), "incident_tags", ["tag"])
    op.create_table(
        "incident_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("linked_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _incident_fk("incident_links"),
        _incident_fk("incident_links", "linked_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_links")),
        sa.UniqueConstraint("incident_id", "linked_id", name=op.f("uq_incident_links_incident_id")),
    )
    op.create_index(op.f("ix_incident_links_incident_id"), "incident_links", ["incident_id"])
    op.create_index(op.f("ix_incident_links_linked_id"), "incident_links", ["linked_id"])


def downgrade() -> None:
    op.drop_table("incident_links")
    op.drop_table("incident_tags")
    op.drop_table("incident_notes")
    op.drop_table("incident_assignees")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index(batch.f("ix_incidents_slack_channel"))
        batch.drop_constraint("fk_incidents_merged_into_id_incidents", type_="foreignkey")
        batch.drop_column("slack_thread_ts")
        batch.drop_column("slack_channel")
        batch.drop_column("merged_into_id")
        batch.drop_column("commander")
