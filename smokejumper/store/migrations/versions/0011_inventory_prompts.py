"""inventory_prompts: applications' system prompts, their registry alias and canary digests

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inventory_prompts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=60), nullable=False),
        sa.Column("alias", sa.String(length=100), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("replacement_version", sa.String(length=100), nullable=True),
        sa.Column(
            "canaries",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["application_id"], ["inventory_applications.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("inventory_prompts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inventory_prompts_application_id"), ["application_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inventory_prompts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_prompts_application_id"))
    op.drop_table("inventory_prompts")
