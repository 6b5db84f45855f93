"""What the duplicate search found when an iteration's training started: label conflicts (near-
duplicate training images with different tags) and leakage (test images that near-duplicate a
training image), as image keys, so that they are said before the figures they distort.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Frozen on purpose: plain SQLAlchemy types only (see 0001).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("iterations") as batch:
        batch.add_column(sa.Column("duplicate_checks", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("iterations") as batch:
        batch.drop_column("duplicate_checks")
