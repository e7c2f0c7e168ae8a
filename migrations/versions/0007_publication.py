"""The state each data generation announces: a change of the current data that no
generation announced (an import killed between its commit and its bump, before issue 21)
is seen, and repaired by importing the same file again.

Revision ID: 0007_publication
Revises: 0006
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_publication"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty: what the generation announced so far is not known, so the next import of
    # what is current announces it again (one extra reload of running servers at most).
    op.add_column("data_generation", sa.Column("announced", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("data_generation") as batch:
        batch.drop_column("announced")
