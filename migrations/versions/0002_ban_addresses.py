"""BAN streets and addresses for the offline geocoder (plain columns on both backends).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ban_imports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("departements", sa.Text, nullable=False),
        sa.Column("street_count", sa.Integer, nullable=False),
        sa.Column("address_count", sa.Integer, nullable=False),
        sa.Column("skipped_count", sa.Integer, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ban_imports"),
    )
    op.create_table(
        "ban_streets",
        # Ids are assigned by the import (addresses reference them in the same bulk load).
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("departement", sa.String(3), nullable=False),
        sa.Column("citycode", sa.String(5), nullable=False),
        sa.Column("postcode", sa.String(5), nullable=False),
        sa.Column("city", sa.String(255), nullable=False),
        sa.Column("old_city", sa.String(255)),
        sa.Column("delivery_city", sa.String(255)),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("name_norm", sa.String(255), nullable=False),
        sa.Column("ban_id", sa.String(40)),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("address_count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ban_streets"),
    )
    op.create_index("ix_ban_streets_departement", "ban_streets", ["departement"])
    op.create_index("ix_ban_streets_citycode_name_norm", "ban_streets", ["citycode", "name_norm"])
    op.create_table(
        "ban_addresses",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("street_id", sa.Integer, nullable=False),
        sa.Column("numero", sa.Integer, nullable=False),
        sa.Column("rep", sa.String(16), nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("ban_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ban_addresses"),
        sa.ForeignKeyConstraint(
            ["street_id"],
            ["ban_streets.id"],
            name="fk_ban_addresses_street_id_ban_streets",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_ban_addresses_street_id", "ban_addresses", ["street_id"])


def downgrade() -> None:
    op.drop_table("ban_addresses")
    op.drop_table("ban_streets")
    op.drop_table("ban_imports")
