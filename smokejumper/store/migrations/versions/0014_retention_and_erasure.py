"""retention and erasure: when retention emptied an alert's raw body; audit rows whose
personal data an erasure request replaced, with the attestation `verify` accepts

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("raw_deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "audit_erasures",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("attestation", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["audit_log.id"], name=op.f("fk_audit_erasures_entry_id_audit_log")
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_audit_erasures")),
    )


def downgrade() -> None:
    op.drop_table("audit_erasures")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("raw_deleted_at")
