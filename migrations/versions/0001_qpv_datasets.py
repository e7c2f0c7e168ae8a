"""QPV datasets and quartiers (PostGIS geometry with a GiST index on PostgreSQL).

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("geography", sa.String(8), nullable=False),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("source_url", sa.Text),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("feature_count", sa.Integer, nullable=False),
        sa.Column("repaired_count", sa.Integer, nullable=False),
        sa.Column("source_crs", sa.Text),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_datasets"),
        sa.UniqueConstraint("sha256", name="uq_datasets_sha256"),
    )
    op.create_index("ix_datasets_geography", "datasets", ["geography"])
    op.create_table(
        "qpv",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dataset_id", sa.Integer, nullable=False),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("departement", sa.String(3), nullable=False),
        sa.Column("territory", sa.String(16), nullable=False),
        sa.Column("communes", sa.Text, nullable=False),
        sa.Column("insee_codes", sa.Text, nullable=False),
        sa.Column("geom", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_qpv"),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name="fk_qpv_dataset_id_datasets", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("dataset_id", "code", name="uq_qpv_dataset_code"),
    )
    if postgres:
        # The embedded default stores WKB; PostGIS gets a real geometry and a GiST index.
        op.execute(
            "ALTER TABLE qpv ALTER COLUMN geom TYPE geometry(MultiPolygon, 4326) "
            "USING ST_SetSRID(ST_GeomFromWKB(geom), 4326)"
        )
        op.execute("CREATE INDEX ix_qpv_geom ON qpv USING gist (geom)")
    op.create_index("ix_qpv_dataset_id", "qpv", ["dataset_id"])
    op.create_index("ix_qpv_code", "qpv", ["code"])
    op.create_index("ix_qpv_departement", "qpv", ["departement"])


def downgrade() -> None:
    op.drop_table("qpv")
    op.drop_table("datasets")
