"""Administrative divisions: imported packages and their communes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "division_imports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("source_url", sa.Text),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("package_version", sa.String(32)),
        sa.Column("commune_count", sa.Integer, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_division_imports"),
        sa.UniqueConstraint("sha256", name="uq_division_imports_sha256"),
    )
    op.create_table(
        "communes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("import_id", sa.Integer, nullable=False),
        sa.Column("code", sa.String(5), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("departement", sa.String(3), nullable=False),
        sa.Column("parent", sa.String(5)),
        sa.Column("postcodes", sa.Text, nullable=False),
        sa.Column("former_codes", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_communes"),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["division_imports.id"],
            name="fk_communes_import_id_division_imports",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_communes_import_id_code", "communes", ["import_id", "code"])


def downgrade() -> None:
    op.drop_table("communes")
    op.drop_table("division_imports")
