"""Persistence: the project database (SQLAlchemy, Alembic), the blob store (fsspec), and the
database-backed embedding cache. The service layer is the only user of this package.

    store = open_store()                      # SIGHTLINE_DATABASE_URL, or SQLite under SIGHTLINE_HOME
    with store.session() as session:          # one transaction: commit on success, rollback on error
        session.add(Project(name="Shoes", domain="default"))
    blobs = BlobStore()                       # SIGHTLINE_BLOB_URL, or a folder under SIGHTLINE_HOME
    key = blobs.put(image_bytes)
"""

from sightline.store.batch_jobs import (
    claim_next_batch_job,
    fail_abandoned_batch_jobs,
    finish_batch_job,
    report_batch_progress,
)
from sightline.store.blobs import THUMBNAIL_SUFFIX, BlobStore, default_blob_url, open_filesystem, storage_options
from sightline.store.db import Store, alembic_config, create_engine_for, database_url, migrate, open_store
from sightline.store.embeddings import DatabaseEmbeddingCache
from sightline.store.jobs import (
    DEFAULT_MAX_ATTEMPTS,
    claim_next_job,
    finish_job,
    heartbeat,
    release_stale,
    request_cancel,
)
from sightline.store.locks import lock_project
from sightline.store.models import (
    Base,
    BatchJob,
    BatchJobStatus,
    ClassificationType,
    Embedding,
    Image,
    ImageMetadata,
    ImageTag,
    Iteration,
    IterationStatus,
    Prediction,
    Project,
    Setting,
    Tag,
    TagType,
    new_id,
)
from sightline.store.sqltypes import utcnow

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "THUMBNAIL_SUFFIX",
    "Base",
    "BatchJob",
    "BatchJobStatus",
    "BlobStore",
    "ClassificationType",
    "DatabaseEmbeddingCache",
    "Embedding",
    "Image",
    "ImageMetadata",
    "ImageTag",
    "Iteration",
    "IterationStatus",
    "Prediction",
    "Project",
    "Setting",
    "Store",
    "Tag",
    "TagType",
    "alembic_config",
    "claim_next_batch_job",
    "claim_next_job",
    "create_engine_for",
    "database_url",
    "default_blob_url",
    "fail_abandoned_batch_jobs",
    "finish_batch_job",
    "finish_job",
    "heartbeat",
    "lock_project",
    "migrate",
    "new_id",
    "open_filesystem",
    "open_store",
    "release_stale",
    "report_batch_progress",
    "request_cancel",
    "storage_options",
    "utcnow",
]
