"""inventory_suppliers: third parties whose models, datasets or endpoints the AI systems
use, with their security contact; models, datasets and endpoints name their supplier

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUPPLIED = ("inventory_models", "inventory_datasets", "inventory_endpoints")


def upgrade() -> None:
    op.create_table(
        "inventory_suppliers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("security_contact", sa.String(length=320), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_suppliers")),
        sa.UniqueConstraint("name", name=op.f("uq_inventory_suppliers_name")),
    )
    for table in _SUPPLIED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("supplier", sa.String(length=200), nullable=True))


def downgrade() -> None:
    for table in _SUPPLIED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("supplier")
    op.drop_table("inventory_suppliers")
