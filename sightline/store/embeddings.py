"""The embedding cache kept in the project database, shared by every worker and server.

Implements `sightline.backbones.cache.EmbeddingCache`, so the engine uses it without knowing SQL.
Vectors are stored as little-endian float32 bytes: compact, and the same on every machine.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from sightline.store.db import Store
from sightline.store.models import Embedding

_STORED_DTYPE = np.dtype("<f4")
# Rows per statement: keeps bound parameters well under SQLite's and PostgreSQL's limits.
_CHUNK = 500


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class DatabaseEmbeddingCache:
    """(backbone fingerprint, image sha256) -> vector, in the `embeddings` table."""

    def __init__(self, store: Store) -> None:
        self.store = store
        insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert
        # Insert-or-ignore: two workers embedding the same image at once both succeed.
        self._insert_or_ignore = insert(Embedding).on_conflict_do_nothing(
            index_elements=[Embedding.fingerprint, Embedding.sha256]
        )

    def get_many(self, fingerprint: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique_keys = list(dict.fromkeys(keys))
        with self.store.session() as session:
            for chunk in _chunks(unique_keys):
                rows = session.execute(
                    select(Embedding.sha256, Embedding.dim, Embedding.vector).where(
                        Embedding.fingerprint == fingerprint, Embedding.sha256.in_(chunk)
                    )
                )
                for sha256, dim, vector in rows:
                    if len(vector) != dim * _STORED_DTYPE.itemsize:
                        continue  # damaged row: a miss, so the image is embedded again
                    found[sha256] = np.frombuffer(vector, dtype=_STORED_DTYPE).astype(np.float32)
        return found

    def put_many(self, fingerprint: str, items: Mapping[str, np.ndarray]) -> None:
        rows = [_row(fingerprint, key, vector) for key, vector in items.items()]
        if not rows:
            return
        with self.store.session() as session:
            for chunk in _chunks(rows):
                session.execute(self._insert_or_ignore, list(chunk))


def _row(fingerprint: str, key: str, vector: np.ndarray) -> dict[str, Any]:
    array = np.asarray(vector, dtype=_STORED_DTYPE)
    if array.ndim != 1:
        raise ValueError(f"an embedding must be a 1-D vector, got shape {array.shape} for {key}")
    return {"fingerprint": fingerprint, "sha256": key, "dim": array.size, "vector": array.tobytes()}
