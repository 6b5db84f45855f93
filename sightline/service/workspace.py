"""The workspace: the database, the blob store and the limits every use case works within.

One object to open and pass around, so the CLI, the HTTP API and the web UI share one set of rules.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from sightline.config import ImageLimits, default_of, env_int
from sightline.store import BlobStore, DatabaseEmbeddingCache, Store, open_store

if TYPE_CHECKING:
    from sightline.classifier import Classifier


@dataclass(frozen=True)
class ProjectLimits:
    """Custom Vision's S0 limits by default; each is configurable (`SIGHTLINE_MAX_...`)."""

    max_tags_per_project: int = default_of("SIGHTLINE_MAX_TAGS_PER_PROJECT")
    max_images_per_project: int = default_of("SIGHTLINE_MAX_IMAGES_PER_PROJECT")
    max_tags_per_image: int = default_of("SIGHTLINE_MAX_TAGS_PER_IMAGE")
    max_metadata_per_image: int = 50
    max_name_length: int = 255

    @classmethod
    def from_env(cls) -> ProjectLimits:
        return cls(
            max_tags_per_project=env_int("SIGHTLINE_MAX_TAGS_PER_PROJECT"),
            max_images_per_project=env_int("SIGHTLINE_MAX_IMAGES_PER_PROJECT"),
            max_tags_per_image=env_int("SIGHTLINE_MAX_TAGS_PER_IMAGE"),
        )


class Workspace:
    """Everything a use case needs. Cheap to share between threads; sessions are per operation."""

    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        *,
        limits: ProjectLimits | None = None,
        image_limits: ImageLimits | None = None,
        loaded_models: int = 8,
    ):
        self.store = store
        self.blobs = blobs
        self.limits = limits or ProjectLimits.from_env()
        self.image_limits = image_limits or ImageLimits.from_env()
        self.embedding_cache = DatabaseEmbeddingCache(store)
        self._models: OrderedDict[str, Classifier] = OrderedDict()
        self._models_lock = threading.Lock()
        self._max_models = loaded_models

    @classmethod
    def open(cls, database_url: str | None = None, blob_url: str | None = None) -> Workspace:
        """The configured workspace (`SIGHTLINE_DATABASE_URL`, `SIGHTLINE_BLOB_URL`, or under `SIGHTLINE_HOME`).

        The blob store is checked here, so a missing bucket or refused keys stop a server at start-up.
        """
        blobs = BlobStore(blob_url)
        blobs.check()
        return cls(open_store(database_url), blobs)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error."""
        with self.store.session() as session:
            yield session

    def close(self) -> None:
        self.store.close()

    # -- trained models, loaded once and kept (least recently used first out)
    def cached_model(self, artifact_key: str) -> Classifier | None:
        with self._models_lock:
            model = self._models.get(artifact_key)
            if model is not None:
                self._models.move_to_end(artifact_key)
            return model

    def remember_model(self, artifact_key: str, model: Classifier) -> None:
        with self._models_lock:
            self._models[artifact_key] = model
            while len(self._models) > self._max_models:
                self._models.popitem(last=False)
