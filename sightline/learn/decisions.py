"""From calibrated probabilities to decisions: per-tag thresholds, when to call a result uncertain, and why.

These rules live in one place so that predictions, evaluation reports, the API, the CLI and the web
agree on what "above threshold" and "uncertain" mean, and give the same machine-readable reasons
(`Reason`): no surface guesses the reason again from the probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: The reason codes, in the order a person should read them.
UNKNOWN = "unknown"  # the image is unlike the training images: its tags may mean nothing
BELOW_THRESHOLD = "below_threshold"  # Multiclass: the top tag does not reach its threshold
CLOSE_RUNNER_UP = "close_runner_up"  # Multiclass: the second tag is within the margin of the first
NEAR_THRESHOLD = "near_threshold"  # Multilabel: a tag's yes/no could flip (within the margin of its threshold)
REASON_CODES = (UNKNOWN, BELOW_THRESHOLD, CLOSE_RUNNER_UP, NEAR_THRESHOLD)


@dataclass(frozen=True)
class Reason:
    """Why a prediction is uncertain, with the numbers that made it so (fields unused by a code are None).

    unknown: ``unknown_score`` >= ``unknown_threshold``.
    below_threshold: ``tag``'s ``probability`` < its ``threshold``.
    close_runner_up: ``probability`` of ``tag`` minus ``runner_up_probability`` of ``runner_up`` < ``margin``.
    near_threshold: ``|probability - threshold|`` < ``margin`` for ``tag``.
    """

    code: str
    tag: str | None = None
    probability: float | None = None
    threshold: float | None = None
    runner_up: str | None = None
    runner_up_probability: float | None = None
    margin: float | None = None
    unknown_score: float | None = None
    unknown_threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without the fields this code does not use."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reason:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class TagDecision:
    tag: str
    probability: float
    above_threshold: bool
    threshold: float = 0.5  # the threshold this tag was held to


@dataclass(frozen=True)
class Decision:
    """The tags of one image sorted by probability (highest first), whether to ask a person, and why."""

    tags: list[TagDecision]
    uncertain: bool
    reasons: list[Reason] = field(default_factory=list)


def decide(
    probs_row: np.ndarray,
    classes: Sequence[str],
    *,
    multilabel: bool,
    threshold: float | np.ndarray = 0.5,
    uncertainty_margin: float = 0.1,
    unknown_score: float | None = None,
    unknown_threshold: float | None = None,
) -> Decision:
    """Apply thresholds to one image's calibrated probabilities (``threshold``: one value or one per tag).

    Multiclass: uncertain when the top tag is below its threshold (``below_threshold``) or the runner-up
    is within ``uncertainty_margin`` of it (``close_runner_up``: 0.45 vs 0.42 is a coin toss, not an answer).
    Multilabel: several confident tags are a fine answer; it is uncertain when a tag's probability
    is within ``uncertainty_margin`` of its threshold (``near_threshold``, one reason per such tag).
    An unknown image (``unknown_score >= unknown_threshold``) is uncertain (``unknown``, the first reason)
    and no tag of it is above its threshold: an answer about something never trained on is no answer.
    """
    probs = np.asarray(probs_row, dtype=np.float64)
    thresholds = np.broadcast_to(np.asarray(threshold, dtype=np.float64), probs.shape)
    unknown = unknown_score is not None and unknown_threshold is not None and unknown_score >= unknown_threshold
    above = (probs >= thresholds) & (not unknown)
    order = np.argsort(-probs, kind="stable")
    tags = [TagDecision(str(classes[i]), float(probs[i]), bool(above[i]), float(thresholds[i])) for i in order]
    reasons = []
    if unknown_score is not None and unknown_threshold is not None and unknown:
        reasons.append(Reason(UNKNOWN, unknown_score=float(unknown_score), unknown_threshold=float(unknown_threshold)))
    if multilabel:
        for i in order:
            if abs(probs[i] - thresholds[i]) < uncertainty_margin:
                reasons.append(
                    Reason(
                        NEAR_THRESHOLD,
                        tag=str(classes[i]),
                        probability=float(probs[i]),
                        threshold=float(thresholds[i]),
                        margin=float(uncertainty_margin),
                    )
                )
    else:
        top = order[0]
        if probs[top] < thresholds[top]:
            reasons.append(
                Reason(
                    BELOW_THRESHOLD,
                    tag=str(classes[top]),
                    probability=float(probs[top]),
                    threshold=float(thresholds[top]),
                )
            )
        if len(order) > 1 and probs[top] - probs[order[1]] < uncertainty_margin:
            second = order[1]
            reasons.append(
                Reason(
                    CLOSE_RUNNER_UP,
                    tag=str(classes[top]),
                    probability=float(probs[top]),
                    runner_up=str(classes[second]),
                    runner_up_probability=float(probs[second]),
                    margin=float(uncertainty_margin),
                )
            )
    return Decision(tags=tags, uncertain=bool(reasons), reasons=reasons)


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
    from sklearn.metrics import precision_recall_curve  # scikit-learn loads only where thresholds are fitted

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
