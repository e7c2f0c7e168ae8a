"""Dataset state (current / previous) and archive member in the import key.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("member", sa.String(255), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("state", sa.String(16), nullable=False, server_default="previous")
        )
        batch.drop_constraint("uq_datasets_sha256", type_="unique")
        batch.create_unique_constraint("uq_datasets_sha256", ["sha256", "member"])
    # Until now the newest dataset of each geography was the one in use.
    op.execute(
        "UPDATE datasets SET state = 'current' WHERE id IN "
        "(SELECT max(id) FROM datasets GROUP BY geography)"
    )


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_constraint("uq_datasets_sha256", type_="unique")
        batch.create_unique_constraint("uq_datasets_sha256", ["sha256"])
        batch.drop_column("state")
        batch.drop_column("member")
