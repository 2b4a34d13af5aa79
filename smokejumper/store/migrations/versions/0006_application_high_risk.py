"""inventory applications: EU AI Act high-risk flag

Revision ID: 0006
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inventory_applications", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("high_risk", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("inventory_applications", schema=None) as batch_op:
        batch_op.drop_column("high_risk")
