"""Precision and recall of stored out-of-fold probabilities at another threshold.

The service re-reads a trained iteration's figures at the threshold a person picks; the arithmetic
is learn's (DESIGN.md: metrics are computed in `learn`, not in `service`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PrecisionRecall:
    precision: float | None
    recall: float | None


@dataclass(frozen=True)
class ThresholdFigures:
    """Micro-averaged precision and recall over every (image, tag) cell, and each tag's own, in column order."""

    overall: PrecisionRecall
    per_tag: list[PrecisionRecall]


def _defined(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def precision_recall_at(truth: np.ndarray, probabilities: np.ndarray, threshold: float) -> ThresholdFigures:
    """`truth` (0/1) and `probabilities`, both images x tags; a probability at or above `threshold` is a
    positive. An undefined figure (nothing predicted, or nothing to find) is None, not 0: the front ends
    show a dash, and the Azure fields turn it into Azure's 0.0 themselves."""
    from sklearn.metrics import precision_score, recall_score  # here: scikit-learn costs the CLI ~1 s to import

    truth = np.asarray(truth, dtype=int)
    predicted = (np.asarray(probabilities, dtype=float) >= threshold).astype(int)

    def figures(t: np.ndarray, p: np.ndarray) -> PrecisionRecall:
        return PrecisionRecall(
            precision=_defined(precision_score(t, p, zero_division=np.nan)),
            recall=_defined(recall_score(t, p, zero_division=np.nan)),
        )

    per_tag = [figures(truth[:, j], predicted[:, j]) for j in range(truth.shape[1])]
    return ThresholdFigures(overall=figures(truth.ravel(), predicted.ravel()), per_tag=per_tag)
