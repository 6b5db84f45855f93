"""Evaluation that holds on new images: a project's group key, its test set, held-out reports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

- projects.group_key: the image-metadata key whose equal values form cross-validation groups.
- images.test_set: the image belongs to the project's test set (never trained on).
- iterations.test_report: the iteration's evaluation on the test set, when one exists.

Plain SQLAlchemy types only (see 0001).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("group_key", sa.String(255), nullable=True))
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("test_set", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("iterations") as batch:
        batch.add_column(sa.Column("test_report", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("iterations") as batch:
        batch.drop_column("test_report")
    with op.batch_alter_table("images") as batch:
        batch.drop_column("test_set")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("group_key")
