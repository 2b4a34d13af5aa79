"""scheduler_leases.token: a fencing token that grows each time the lease changes hands,
checked by every leader-only write

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scheduler_leases") as batch:
        batch.add_column(sa.Column("token", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("scheduler_leases") as batch:
        batch.drop_column("token")
