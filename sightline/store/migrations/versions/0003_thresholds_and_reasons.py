"""Per-tag thresholds stored with each iteration; the reasons a stored prediction is uncertain.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Plain SQLAlchemy types only (see 0001). Both columns are nullable: iterations without per-tag
thresholds use their project's one threshold; predictions stored before this revision have no reasons.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("iterations") as batch:
        batch.add_column(sa.Column("tag_thresholds", sa.JSON(), nullable=True))
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("reasons", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("reasons")
    with op.batch_alter_table("iterations") as batch:
        batch.drop_column("tag_thresholds")
