"""alerts: index the outbox (alerts not yet dispatched) alone, instead of every alert's
dispatched_at

Marking an alert dispatched moved its entry within an index of every alert; with a partial
index (WHERE dispatched_at IS NULL) it leaves a small one. The outbox's query (not
dispatched, received before a cutoff, oldest first) reads that index.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNDISPATCHED = sa.text("dispatched_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_dispatched_at"))
        batch_op.create_index(
            "ix_alerts_undispatched",
            ["received_at"],
            unique=False,
            sqlite_where=_UNDISPATCHED,
            postgresql_where=_UNDISPATCHED,
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_undispatched")
        batch_op.create_index(
            batch_op.f("ix_alerts_dispatched_at"), ["dispatched_at"], unique=False
        )
