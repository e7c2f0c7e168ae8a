"""Cached membership grids of QPV datasets (built at import, loaded at start-up).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "qpv_grids",
        sa.Column("dataset_id", sa.Integer, nullable=False),
        sa.Column("format", sa.Integer, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", name="pk_qpv_grids"),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name="fk_qpv_grids_dataset_id_datasets",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("qpv_grids")
