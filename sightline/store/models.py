"""The database tables, in Custom Vision's vocabulary: project, tag, image, iteration, prediction.

Primary keys are GUID strings because Custom Vision ids are GUIDs and clients pass them around
verbatim. Every timestamp is aware UTC (see `UTCDateTime`). Deleting a project deletes everything
it owns through `ON DELETE CASCADE`, so the database stays consistent even when rows are removed
outside the ORM. Limits that are business rules (50 metadata entries per image, name lengths,
which tag combinations are valid) are enforced by the service layer, not here.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from sightline.codes import IterationStatus
from sightline.store.sqltypes import UTCDateTime, utcnow

# Deterministic constraint names: later migrations (and SQLite's batch mode) refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

GUID_LENGTH = 36
SHA256_HEX_LENGTH = 64
BLOB_KEY_LENGTH = 100  # a sha256, optionally with a derived suffix (see BlobStore)


def new_id() -> str:
    """A fresh GUID string, the id format Custom Vision clients expect."""
    return str(uuid.uuid4())


class ClassificationType(enum.StrEnum):
    MULTICLASS = "Multiclass"  # exactly one tag per image
    MULTILABEL = "Multilabel"  # any number of tags per image


class TagType(enum.StrEnum):
    REGULAR = "Regular"
    NEGATIVE = "Negative"  # "none of the above": images that show no regular tag


def _enum(enum_class: type[enum.StrEnum]) -> Enum:
    """A VARCHAR holding the enum's value ("Multiclass", not "MULTICLASS"), checked on write in Python.

    No database CHECK constraint: adding a value later must not need a table rebuild on SQLite.
    """
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=16,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _guid_pk() -> Mapped[str]:
    return mapped_column(String(GUID_LENGTH), primary_key=True, default=new_id)


def _project_fk() -> Mapped[str]:
    return mapped_column(String(GUID_LENGTH), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = _guid_pk()
    name: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    classification_type: Mapped[ClassificationType] = mapped_column(
        _enum(ClassificationType), nullable=False, default=ClassificationType.MULTICLASS
    )
    domain: Mapped[str] = mapped_column(String(255), nullable=False)  # backbone name
    threshold: Mapped[float] = mapped_column(Float, nullable=False, default=0.5)
    # The image-metadata key whose equal values form cross-validation groups (None: no declared groups).
    group_key: Mapped[str | None] = mapped_column(String(255))
    created: Mapped[datetime] = _created()
    modified: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow)
    # Azure's project settings kept as sent (targetExportPlatforms, imageProcessingSettings); None: none given.
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    # passive_deletes: the database cascades, so deleting a project never loads its images.
    tags: Mapped[list[Tag]] = relationship(back_populates="project", cascade="all, delete-orphan", passive_deletes=True)
    images: Mapped[list[Image]] = relationship(
        back_populates="project", cascade="all, delete-orphan", passive_deletes=True
    )
    iterations: Mapped[list[Iteration]] = relationship(
        back_populates="project", cascade="all, delete-orphan", passive_deletes=True
    )


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("project_id", "name_key"),)

    id: Mapped[str] = _guid_pk()
    project_id: Mapped[str] = _project_fk()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    # Tag names are unique per project ignoring case; the key is set whenever `name` is.
    name_key: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    type: Mapped[TagType] = mapped_column(_enum(TagType), nullable=False, default=TagType.REGULAR)
    created: Mapped[datetime] = _created()

    project: Mapped[Project] = relationship(back_populates="tags")

    @staticmethod
    def key_for(name: str) -> str:
        """The case-insensitive form of a tag name: look tags up with this, never with SQL lower()."""
        return name.casefold()

    @validates("name")
    def _keep_name_key(self, _attribute: str, name: str) -> str:
        self.name_key = self.key_for(name)
        return name


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("project_id", "sha256"),
        Index(None, "project_id", "created"),  # listing a project's images newest or oldest first
    )

    id: Mapped[str] = _guid_pk()
    project_id: Mapped[str] = _project_fk()
    sha256: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH), nullable=False)
    blob_key: Mapped[str] = mapped_column(String(BLOB_KEY_LENGTH), nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    format: Mapped[str] = mapped_column(String(16), nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    created: Mapped[datetime] = _created()
    original_name: Mapped[str | None] = mapped_column(Text)
    # In the project's test set: never trained on, never shown as a training image on the Azure routes.
    test_set: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())

    project: Mapped[Project] = relationship(back_populates="images")
    tag_links: Mapped[list[ImageTag]] = relationship(
        back_populates="image", cascade="all, delete-orphan", passive_deletes=True
    )
    # Not "metadata": that name belongs to SQLAlchemy's declarative base.
    metadata_entries: Mapped[list[ImageMetadata]] = relationship(
        back_populates="image", cascade="all, delete-orphan", passive_deletes=True
    )


class ImageMetadata(Base):
    """One key/value pair attached to an image (Custom Vision allows 50 per image)."""

    __tablename__ = "image_metadata"

    image_id: Mapped[str] = mapped_column(
        String(GUID_LENGTH), ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)

    image: Mapped[Image] = relationship(back_populates="metadata_entries")


class ImageTag(Base):
    __tablename__ = "image_tags"
    __table_args__ = (Index(None, "tag_id"),)  # counting and listing images per tag

    image_id: Mapped[str] = mapped_column(
        String(GUID_LENGTH), ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[str] = mapped_column(
        String(GUID_LENGTH), ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
    )
    created: Mapped[datetime] = _created()

    image: Mapped[Image] = relationship(back_populates="tag_links")
    tag: Mapped[Tag] = relationship()


class Iteration(Base):
    """One training run of a project, and the job row that workers claim to perform it.

    Timestamps: `started_at` when a worker last claimed it, `trained_at` when training succeeded
    (Custom Vision's trainedAt), `finished_at` when it reached any terminal status.
    Job columns (`claimed_by` .. `cancel_requested`) are managed by `sightline.store.jobs`.
    """

    __tablename__ = "iterations"
    __table_args__ = (
        # NULLs are distinct in a unique constraint (SQLite and PostgreSQL), so only set names collide.
        UniqueConstraint("project_id", "publish_name"),
        Index(None, "project_id", "name", unique=True),  # concurrent trainings cannot share a name
        # At most one Queued or Training iteration per project: a race of `train` requests queues one.
        Index(
            "ix_iterations_one_active",
            "project_id",
            unique=True,
            sqlite_where=text("status IN ('Queued', 'Training')"),
            postgresql_where=text("status IN ('Queued', 'Training')"),
        ),
        Index(None, "project_id", "created"),
        Index(None, "status", "created"),  # job claiming: oldest Queued first
    )

    id: Mapped[str] = _guid_pk()
    project_id: Mapped[str] = _project_fk()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[IterationStatus] = mapped_column(
        _enum(IterationStatus), nullable=False, default=IterationStatus.QUEUED
    )
    classification_type: Mapped[ClassificationType] = mapped_column(_enum(ClassificationType), nullable=False)
    domain: Mapped[str] = mapped_column(String(255), nullable=False)
    created: Mapped[datetime] = _created()
    modified: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    trained_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    training_seconds: Mapped[float | None] = mapped_column(Float)
    progress_phase: Mapped[str | None] = mapped_column(String(64))
    progress_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    publish_name: Mapped[str | None] = mapped_column(String(255))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    artifact_key: Mapped[str | None] = mapped_column(String(BLOB_KEY_LENGTH))
    # Deferred: with its per-image predictions it grows with the project (~650 KB at 2,000 images), and
    # parsing it on every load made each prediction and iteration listing pay for it. Read it in a session.
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    # The iteration scored on the project's test set as it was when training finished (None: no test set)
    test_report: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    # Found when training started, before any figure: {"conflicting_images": [[key, key], ...],
    # "leaked_images": [[test key, training key], ...]} (None: not searched yet)
    duplicate_checks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Hash of the (image, tag) set trained on: equal fingerprints mean "training not needed".
    training_fingerprint: Mapped[str | None] = mapped_column(String(SHA256_HEX_LENGTH))
    # What TrainProject asked for (selectedTags, trainingType, reservedBudgetInHours, notificationEmailAddress).
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Per-tag thresholds {tag name: threshold} set for this iteration (None: the project's one threshold).
    tag_thresholds: Mapped[dict[str, float] | None] = mapped_column(JSON)

    claimed_by: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    project: Mapped[Project] = relationship(back_populates="iterations")


class Prediction(Base):
    """A stored prediction (Custom Vision's "predictions" tab), kept for review and retraining."""

    __tablename__ = "predictions"
    __table_args__ = (Index(None, "project_id", "created"),)

    id: Mapped[str] = _guid_pk()
    project_id: Mapped[str] = _project_fk()
    # The iteration may be deleted later; the prediction stays, detached from it.
    iteration_id: Mapped[str | None] = mapped_column(
        String(GUID_LENGTH), ForeignKey("iterations.id", ondelete="SET NULL"), index=True
    )
    image_key: Mapped[str | None] = mapped_column(String(BLOB_KEY_LENGTH))
    created: Mapped[datetime] = _created()
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    uncertain: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    unknown_score: Mapped[float | None] = mapped_column(Float)
    # Why it is uncertain: [{code, tag, probability, threshold, ...}] (see sightline.learn.decisions.Reason).
    reasons: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    reviewed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class Embedding(Base):
    """A cached image embedding: float32 little-endian bytes, keyed by backbone and image content."""

    __tablename__ = "embeddings"

    fingerprint: Mapped[str] = mapped_column(String(128), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH), primary_key=True)
    dim: Mapped[int] = mapped_column(Integer, nullable=False)
    vector: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class Setting(Base):
    """Installation-wide key/value settings (API keys and the like)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)


class BatchJobStatus(enum.StrEnum):
    QUEUED = "Queued"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"

    @property
    def is_terminal(self) -> bool:
        return self in (BatchJobStatus.COMPLETED, BatchJobStatus.FAILED)


class BatchJob(Base):
    """A batch prediction asked for over HTTP: a published model over source URLs, rows to an output URL.

    Workers claim it as they claim iterations (`sightline.store.batch_jobs`: a lease renewed as it goes);
    a retried job resumes from what the output already holds.
    """

    __tablename__ = "batch_jobs"
    __table_args__ = (Index(None, "status", "created"), Index(None, "project_id", "created"))

    id: Mapped[str] = _guid_pk()
    project_id: Mapped[str] = _project_fk()
    publish_name: Mapped[str] = mapped_column(String(255), nullable=False)
    sources: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    output: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[BatchJobStatus] = mapped_column(_enum(BatchJobStatus), nullable=False, default=BatchJobStatus.QUEUED)
    created: Mapped[datetime] = _created()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
