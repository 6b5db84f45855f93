"""Azure's settings that Sightline now keeps: a project's `settings` (targetExportPlatforms,
imageProcessingSettings) and an iteration's training `options` (selectedTags, trainingType,
reservedBudgetInHours, notificationEmailAddress), each a JSON object, NULL when none were given.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Frozen on purpose: plain SQLAlchemy types only (see 0001).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("settings", sa.JSON(), nullable=True))
    with op.batch_alter_table("iterations") as batch:
        batch.add_column(sa.Column("options", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("iterations") as batch:
        batch.drop_column("options")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("settings")
