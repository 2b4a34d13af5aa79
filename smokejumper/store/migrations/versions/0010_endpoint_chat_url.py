"""inventory endpoints: the chat API a retest calls before containment is undone

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inventory_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("chat_model", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inventory_endpoints", schema=None) as batch_op:
        batch_op.drop_column("chat_model")
        batch_op.drop_column("chat_url")
