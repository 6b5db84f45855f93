"""How unlike the training images an image is: a conformal-style "unknown" score in [0, 1].

A classifier always answers with one of its tags, even for a photo of something it never saw.
The novelty score asks a different question: is this image's distance to its k nearest training
images unusual compared with how far training images are from *each other* (leave-one-out)?
The score is the fraction of training images that sit closer to their own neighbours, i.e.
1 - conformal p-value: uniform (about 0.5 on average) for images like the training set, near 1.0
for an unrelated photo. Being rank-based, it needs no tuning per backbone.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

# Rows of queries per block of the similarity matrix: bounds memory to about 64 MB per block for
# 50k training images.
_BLOCK_ELEMENTS = 16_000_000


class NoveltyScorer(BaseEstimator):
    """k-NN cosine distance to the training embeddings, ranked against the training set's own.

    Embeddings are expected L2-normalised. The training embeddings are rounded to float16 precision
    (so a saved model can store them at half the size, losslessly; far more precision than a rank
    needs) and kept as float32 for fast matrix products. The reference distribution uses at most
    ``max_reference`` training images (a random sample, as in split conformal prediction): a score
    needs a few thousand references, and leave-one-out over 50k images would cost 50k x 50k products.
    """

    def __init__(self, k: int = 5, max_reference: int = 5000, random_state: int = 0):
        self.k = k
        self.max_reference = max_reference
        self.random_state = random_state

    def fit(self, X: np.ndarray, y=None) -> NoveltyScorer:
        X = np.asarray(X, dtype=np.float32)
        if len(X) < 2:
            raise ValueError("NoveltyScorer needs at least 2 training embeddings")
        self.embeddings_ = X.astype(np.float16).astype(np.float32)
        reference = np.arange(len(X))
        if len(X) > self.max_reference:
            reference = np.sort(np.random.default_rng(self.random_state).choice(len(X), self.max_reference, False))
        distances = self._knn_distance(self.embeddings_[reference], exclude=reference)
        self.reference_distances_ = np.sort(distances)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        """(n,) novelty in [0, 1]: fraction of training images whose leave-one-out distance is smaller."""
        check_is_fitted(self)
        distance = self._knn_distance(np.asarray(X, dtype=np.float32))
        ranks = np.searchsorted(self.reference_distances_, distance, side="left")
        return ranks / len(self.reference_distances_)

    def _knn_distance(self, queries: np.ndarray, *, exclude: np.ndarray | None = None) -> np.ndarray:
        """Mean cosine distance of each query to its k nearest training embeddings, leaving out
        training image ``exclude[i]`` for query i (leave-one-out when queries are training images)."""
        train = self.embeddings_
        k = min(self.k, len(train) - 1)  # leave-one-out leaves n - 1 neighbours
        block = max(1, _BLOCK_ELEMENTS // len(train))
        out = np.empty(len(queries), dtype=np.float64)
        for start in range(0, len(queries), block):
            similarity = queries[start : start + block] @ train.T
            if exclude is not None:
                similarity[np.arange(len(similarity)), exclude[start : start + block]] = -np.inf
            nearest = -np.partition(-similarity, k - 1, axis=1)[:, :k]
            out[start : start + block] = 1.0 - nearest.mean(axis=1)
        return out
