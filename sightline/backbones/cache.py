"""Embedding cache: (backbone fingerprint, image sha256) -> vector, so no image is embedded twice.

The interface is deliberately tiny so the project store can provide a database-backed cache and
the engine an on-disk one, interchangeably.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class EmbeddingCache(Protocol):
    """Stores embeddings by backbone fingerprint and image key (the image's sha256)."""

    def get_many(self, fingerprint: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Return the cached vectors for those keys that are present; missing keys are absent."""
        ...

    def put_many(self, fingerprint: str, items: Mapping[str, np.ndarray]) -> None:
        """Store vectors; storing an existing key again is harmless."""
        ...


class MemoryEmbeddingCache:
    """A process-local cache, for tests and one-off scripts."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], np.ndarray] = {}

    def get_many(self, fingerprint: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        return {k: self._data[(fingerprint, k)] for k in keys if (fingerprint, k) in self._data}

    def put_many(self, fingerprint: str, items: Mapping[str, np.ndarray]) -> None:
        for key, vector in items.items():
            self._data[(fingerprint, key)] = np.asarray(vector, dtype=np.float32)


class DiskEmbeddingCache:
    """One `.npy` file per vector under `root/<fingerprint>/<ab>/<sha256>.npy`, written atomically.

    Files rather than a database keep the engine free of SQL and safe for several processes:
    a write is a rename, so a reader never sees half a vector.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def _path(self, fingerprint: str, key: str) -> Path:
        return self.root / fingerprint / key[:2] / f"{key}.npy"

    def get_many(self, fingerprint: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for key in keys:
            path = self._path(fingerprint, key)
            try:
                found[key] = np.load(path, allow_pickle=False)
            except (FileNotFoundError, ValueError, OSError):
                continue  # absent, or a damaged file: treat as a miss and re-embed
        return found

    def put_many(self, fingerprint: str, items: Mapping[str, np.ndarray]) -> None:
        for key, vector in items.items():
            path = self._path(fingerprint, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    np.save(handle, np.asarray(vector, dtype=np.float32), allow_pickle=False)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
