"""The database-backed embedding cache, on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from sightline.backbones.cache import EmbeddingCache
from sightline.store import DatabaseEmbeddingCache, Embedding

pytest_plugins = ["store_fixtures"]  # store, store_url, pg_store: SQLite and PostgreSQL


def _vectors(count: int, dim: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"{n:064x}": rng.standard_normal(dim).astype(np.float32) for n in range(count)}


def test_it_is_an_embedding_cache(store):
    assert isinstance(DatabaseEmbeddingCache(store), EmbeddingCache)


def test_vectors_round_trip_exactly_per_fingerprint(store):
    cache = DatabaseEmbeddingCache(store)
    vectors = _vectors(3)
    cache.put_many("backbone-a", vectors)
    keys = [*vectors, "f" * 64]
    found = cache.get_many("backbone-a", keys)
    assert set(found) == set(vectors)  # the missing key is simply absent
    for key, vector in vectors.items():
        assert found[key].dtype == np.float32
        np.testing.assert_array_equal(found[key], vector)
    found[keys[0]][0] = 42.0  # returned arrays are the caller's to modify
    assert cache.get_many("backbone-b", keys) == {}


def test_putting_a_stored_vector_again_is_harmless_and_keeps_the_first(store):
    cache = DatabaseEmbeddingCache(store)
    first, second = _vectors(2, seed=1), _vectors(2, seed=2)
    cache.put_many("backbone", first)
    cache.put_many("backbone", second)  # same keys: insert-or-ignore, no IntegrityError
    cache.put_many("backbone", {})
    found = cache.get_many("backbone", list(first))
    for key in first:
        np.testing.assert_array_equal(found[key], first[key])
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Embedding)) == 2


def test_large_batches_are_split_under_the_parameter_limits(store):
    cache = DatabaseEmbeddingCache(store)
    vectors = _vectors(1200, dim=4)
    cache.put_many("backbone", vectors)
    found = cache.get_many("backbone", list(vectors) + list(vectors)[:10])  # duplicates too
    assert len(found) == 1200
    np.testing.assert_array_equal(found["0" * 60 + "04af"], vectors["0" * 60 + "04af"])


def test_only_one_dimensional_vectors_are_accepted(store):
    with pytest.raises(ValueError, match="1-D"):
        DatabaseEmbeddingCache(store).put_many("backbone", {"a" * 64: np.zeros((2, 3))})


def test_a_damaged_row_reads_as_a_miss(store):
    cache = DatabaseEmbeddingCache(store)
    with store.session() as session:
        session.add(Embedding(fingerprint="backbone", sha256="a" * 64, dim=8, vector=b"\x00" * 5))
    assert cache.get_many("backbone", ["a" * 64]) == {}
