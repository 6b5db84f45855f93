"""Initial schema: projects, tags, images, iterations (and their job columns), predictions,
embeddings, settings.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Frozen on purpose: plain SQLAlchemy types only, no imports from sightline.store.models, so later
model changes cannot rewrite what this revision creates. Enum columns are VARCHAR(16) holding the
enum's value; timestamps are timezone-aware (stored as UTC).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _guid(name: str, **kwargs) -> sa.Column:
    return sa.Column(name, sa.String(36), **kwargs)


def _timestamp(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _project_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["project_id"], ["projects.id"], name=f"fk_{table}_project_id_projects", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "projects",
        _guid("id", nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("classification_type", sa.String(16), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        _timestamp("created", nullable=False),
        _timestamp("modified", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
        sa.UniqueConstraint("name", name="uq_projects_name"),
    )
    op.create_table(
        "tags",
        _guid("id", nullable=False),
        _guid("project_id", nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("name_key", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        _timestamp("created", nullable=False),
        _project_fk("tags"),
        sa.PrimaryKeyConstraint("id", name="pk_tags"),
        sa.UniqueConstraint("project_id", "name_key", name="uq_tags_project_id_name_key"),
    )
    op.create_table(
        "images",
        _guid("id", nullable=False),
        _guid("project_id", nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("blob_key", sa.String(100), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        _timestamp("created", nullable=False),
        sa.Column("original_name", sa.Text(), nullable=True),
        _project_fk("images"),
        sa.PrimaryKeyConstraint("id", name="pk_images"),
        sa.UniqueConstraint("project_id", "sha256", name="uq_images_project_id_sha256"),
    )
    op.create_index("ix_images_project_id_created", "images", ["project_id", "created"])
    op.create_table(
        "image_metadata",
        _guid("image_id", nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name="fk_image_metadata_image_id_images", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("image_id", "key", name="pk_image_metadata"),
    )
    op.create_table(
        "image_tags",
        _guid("image_id", nullable=False),
        _guid("tag_id", nullable=False),
        _timestamp("created", nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name="fk_image_tags_image_id_images", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], name="fk_image_tags_tag_id_tags", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("image_id", "tag_id", name="pk_image_tags"),
    )
    op.create_index("ix_image_tags_tag_id", "image_tags", ["tag_id"])
    op.create_table(
        "iterations",
        _guid("id", nullable=False),
        _guid("project_id", nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("classification_type", sa.String(16), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        _timestamp("created", nullable=False),
        _timestamp("modified", nullable=False),
        _timestamp("started_at"),
        _timestamp("trained_at"),
        _timestamp("finished_at"),
        sa.Column("training_seconds", sa.Float(), nullable=True),
        sa.Column("progress_phase", sa.String(64), nullable=True),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("publish_name", sa.String(255), nullable=True),
        _timestamp("published_at"),
        sa.Column("artifact_key", sa.String(100), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("training_fingerprint", sa.String(64), nullable=True),
        sa.Column("claimed_by", sa.String(255), nullable=True),
        _timestamp("lease_expires_at"),
        _timestamp("heartbeat_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        _project_fk("iterations"),
        sa.PrimaryKeyConstraint("id", name="pk_iterations"),
        sa.UniqueConstraint("project_id", "publish_name", name="uq_iterations_project_id_publish_name"),
    )
    op.create_index("ix_iterations_project_id_created", "iterations", ["project_id", "created"])
    op.create_index("ix_iterations_status_created", "iterations", ["status", "created"])
    op.create_table(
        "predictions",
        _guid("id", nullable=False),
        _guid("project_id", nullable=False),
        _guid("iteration_id", nullable=True),
        sa.Column("image_key", sa.String(100), nullable=True),
        _timestamp("created", nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("uncertain", sa.Boolean(), nullable=False),
        sa.Column("unknown_score", sa.Float(), nullable=True),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        _project_fk("predictions"),
        sa.ForeignKeyConstraint(
            ["iteration_id"],
            ["iterations.id"],
            name="fk_predictions_iteration_id_iterations",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_predictions"),
    )
    op.create_index("ix_predictions_project_id_created", "predictions", ["project_id", "created"])
    op.create_index("ix_predictions_iteration_id", "predictions", ["iteration_id"])
    op.create_table(
        "embeddings",
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", "sha256", name="pk_embeddings"),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_settings"),
    )


def downgrade() -> None:
    for table in (
        "settings",
        "embeddings",
        "predictions",
        "iterations",
        "image_tags",
        "image_metadata",
        "images",
        "tags",
        "projects",
    ):
        op.drop_table(table)
