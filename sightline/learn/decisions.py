"""From calibrated probabilities to decisions: per-tag thresholds and when to call a result uncertain.

These rules live in one place so that predictions, evaluation reports and the API agree on what
"above threshold" and "uncertain" mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import precision_recall_curve


@dataclass(frozen=True)
class TagDecision:
    tag: str
    probability: float
    above_threshold: bool


@dataclass(frozen=True)
class Decision:
    """The tags of one image sorted by probability (highest first), and whether to ask a person."""

    tags: list[TagDecision]
    uncertain: bool


def decide(
    probs_row: np.ndarray,
    classes: Sequence[str],
    *,
    multilabel: bool,
    threshold: float | np.ndarray = 0.5,
    uncertainty_margin: float = 0.1,
) -> Decision:
    """Apply thresholds to one image's calibrated probabilities (``threshold``: one value or one per tag).

    Multiclass: uncertain when the top tag is below its threshold or the runner-up is within
    ``uncertainty_margin`` of it (0.45 vs 0.42 is a coin toss, not an answer).
    Multilabel: several confident tags are a fine answer; it is uncertain when any tag's probability
    is within ``uncertainty_margin`` of its threshold, i.e. the yes/no for that tag could flip.
    """
    probs = np.asarray(probs_row, dtype=np.float64)
    thresholds = np.broadcast_to(np.asarray(threshold, dtype=np.float64), probs.shape)
    above = probs >= thresholds
    order = np.argsort(-probs, kind="stable")
    tags = [TagDecision(str(classes[i]), float(probs[i]), bool(above[i])) for i in order]
    if multilabel:
        uncertain = bool(np.any(np.abs(probs - thresholds) < uncertainty_margin))
    else:
        top = order[0]
        runner_up = probs[order[1]] if len(order) > 1 else 0.0
        uncertain = bool(probs[top] < thresholds[top] or probs[top] - runner_up < uncertainty_margin)
    return Decision(tags=tags, uncertain=uncertain)


def suggest_thresholds(
    y_true_indicator: np.ndarray,
    probs: np.ndarray,
    *,
    target_precision: float | None = None,
    default: float = 0.5,
) -> np.ndarray:
    """One threshold per tag: the one with the best F1, or the lowest reaching ``target_precision``.

    Tags that never reach the target get 1.0 (tag nothing rather than tag wrongly); tags without any
    positive example get ``default``.
    """
    y_true_indicator = np.asarray(y_true_indicator)
    probs = np.asarray(probs, dtype=np.float64)
    thresholds = np.full(probs.shape[1], default, dtype=np.float64)
    for j in range(probs.shape[1]):
        if not y_true_indicator[:, j].any():
            continue
        precision, recall, candidates = precision_recall_curve(y_true_indicator[:, j], probs[:, j])
        precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
        if target_precision is None:
            f1 = 2 * precision * recall / np.maximum(precision + recall, np.finfo(float).tiny)
            thresholds[j] = candidates[np.argmax(f1)]
        else:
            reaching = np.flatnonzero(precision >= target_precision)
            thresholds[j] = candidates[reaching[0]] if len(reaching) else 1.0
    return thresholds
