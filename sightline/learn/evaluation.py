"""The evaluation report of a trained classifier, computed from out-of-fold predictions.

Every number comes from images the model being measured did not train on (cross-validation), and
"after calibration" numbers from calibrators that did not see those images either (cross-fitting).
Metrics come from scikit-learn; the report is a tree of dataclasses that converts to and from plain
JSON-ready dicts.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
)

from sightline.learn.calibration import ReliabilityBin, expected_calibration_error, reliability_bins
from sightline.learn.decisions import suggest_thresholds

MAX_CURVE_POINTS = 101


@dataclass
class PrecisionRecallCurve:
    """Points of a tag's precision-recall curve, one per threshold (ascending), at most 101."""

    thresholds: list[float]
    precision: list[float]
    recall: list[float]


@dataclass
class TagMetrics:
    """One tag's out-of-fold quality. Precision and recall are at the model's threshold; *_std is
    the standard deviation across folds (how much to trust the number)."""

    tag: str
    image_count: int
    precision: float | None  # None: no image was predicted as this tag (undefined, not 0)
    precision_std: float
    recall: float | None  # None: no image carries this tag
    recall_std: float
    average_precision: float
    average_precision_std: float
    suggested_threshold: float  # best F1 on the out-of-fold predictions (optimistic for that reason)
    pr_curve: PrecisionRecallCurve

    @classmethod
    def from_dict(cls, data: dict) -> TagMetrics:
        return cls(**{**data, "pr_curve": PrecisionRecallCurve(**data["pr_curve"])})


@dataclass
class ImagePrediction:
    """The out-of-fold prediction for one training image (index into the training arrays)."""

    index: int
    true_tags: list[str]
    probabilities: list[float]  # calibrated, in the report's `tags` order
    predicted_tags: list[str]


@dataclass
class EvaluationReport:
    """What a person needs to judge a trained classifier. ``tags`` are in the model's reported order
    (Multilabel with a negative tag: the tags, then the negative tag)."""

    multilabel: bool
    tags: list[str]
    threshold: float
    n_images: int
    n_folds: int
    chosen_c: float
    c_values: list[float]  # C values tried, weakest regularisation last
    c_log_losses: list[float]  # calibrated out-of-fold log-loss of each (choosing on it is slightly optimistic)
    precision: float | None  # micro-averaged over (image, tag) at the threshold; None: nothing predicted
    recall: float | None
    mean_average_precision: float
    accuracy: float | None  # Multiclass only (top tag)
    macro_f1: float | None  # Multiclass only (top tag)
    confusion_matrix: list[list[int]] | None  # Multiclass only: rows true tag, columns predicted tag
    ece_before_calibration: float
    ece_after_calibration: float
    reliability_before_calibration: list[ReliabilityBin]
    reliability_after_calibration: list[ReliabilityBin]
    per_tag: list[TagMetrics]
    images: list[ImagePrediction]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per training phase
    # Groups (see `crossval`): the estimate rests on n_groups independent groups, not n_images.
    n_groups: int | None = None  # None: a report from before groups existed
    n_grouped_images: int = 0  # images sharing their group with others (near-duplicates or declared)
    n_near_duplicate_images: int = 0
    n_declared_group_images: int = 0
    conflicting_pairs: list[list[int]] = field(default_factory=list)  # near-duplicates with different tags
    # likely label errors (Multiclass), most likely first: index, given, suggested, self_confidence
    label_issues: list[dict] = field(default_factory=list)
    # on a test set: (test index, training index) pairs of test images near-duplicating a training image
    leaks: list[list[int]] = field(default_factory=list)
    # Standard errors of the overall figures, from a bootstrap over the independent groups
    accuracy_std: float | None = None  # Multiclass only
    precision_std: float | None = None
    recall_std: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> EvaluationReport:
        return cls(
            **{
                **data,
                "reliability_before_calibration": [ReliabilityBin(**b) for b in data["reliability_before_calibration"]],
                "reliability_after_calibration": [ReliabilityBin(**b) for b in data["reliability_after_calibration"]],
                "per_tag": [TagMetrics.from_dict(t) for t in data["per_tag"]],
                "images": [ImagePrediction(**i) for i in data["images"]],
            }
        )


def build_report(
    *,
    tags: Sequence[str],
    multilabel: bool,
    y_true: np.ndarray,
    probs: np.ndarray,
    uncalibrated_probs: np.ndarray,
    folds: np.ndarray,
    threshold: float,
    chosen_c: float,
    c_values: Sequence[float],
    c_log_losses: Sequence[float],
    groups: np.ndarray | None = None,
) -> EvaluationReport:
    """Evaluate out-of-fold predictions.

    y_true: Multiclass (n,) tag indices; Multilabel (n, k) 0/1 indicator. probs: (n, k) calibrated
    out-of-fold probabilities; uncalibrated_probs: the same before calibration. folds: (n,) fold index.
    groups: (n,) group index (default: every image its own group); the overall figures' standard
    errors are bootstrapped over groups, because images of one group are not independent evidence.
    Multiclass precision/recall count a tag as predicted when its probability reaches the
    threshold (Custom Vision's definition); accuracy, macro-F1 and the confusion matrix use the top tag.
    """
    tags = list(tags)
    indicator = np.asarray(y_true).astype(int) if multilabel else np.eye(len(tags), dtype=int)[y_true]
    predicted = (probs >= threshold).astype(int)
    fold_ids = np.unique(folds)
    pooled = _column_metrics(indicator, probs, predicted)
    by_fold = [_column_metrics(indicator[folds == f], probs[folds == f], predicted[folds == f]) for f in fold_ids]
    suggested = suggest_thresholds(indicator, probs, default=threshold)
    per_tag = [
        TagMetrics(
            tag=tag,
            image_count=int(indicator[:, j].sum()),
            precision=_defined(pooled["precision"][j]),
            precision_std=_spread([m["precision"][j] for m in by_fold]),
            recall=_defined(pooled["recall"][j]),
            recall_std=_spread([m["recall"][j] for m in by_fold]),
            average_precision=float(np.nan_to_num(pooled["average_precision"][j])),
            average_precision_std=_spread([m["average_precision"][j] for m in by_fold]),
            suggested_threshold=float(suggested[j]),
            pr_curve=_pr_curve(indicator[:, j], probs[:, j]),
        )
        for j, tag in enumerate(tags)
    ]
    top = probs.argmax(axis=1)
    groups = np.arange(len(probs)) if groups is None else np.asarray(groups)
    spread = _group_bootstrap(groups, indicator, predicted, None if multilabel else (top == y_true))
    return EvaluationReport(
        multilabel=multilabel,
        tags=tags,
        threshold=float(threshold),
        n_images=len(probs),
        n_folds=len(fold_ids),
        chosen_c=float(chosen_c),
        c_values=[float(c) for c in c_values],
        c_log_losses=[float(v) for v in c_log_losses],
        precision=_defined(precision_score(indicator.ravel(), predicted.ravel(), zero_division=np.nan)),
        recall=_defined(recall_score(indicator.ravel(), predicted.ravel(), zero_division=np.nan)),
        mean_average_precision=float(np.mean([t.average_precision for t in per_tag])),
        accuracy=None if multilabel else float(accuracy_score(y_true, top)),
        macro_f1=None if multilabel else float(f1_score(y_true, top, average="macro", labels=range(len(tags)))),
        confusion_matrix=None if multilabel else confusion_matrix(y_true, top, labels=range(len(tags))).tolist(),
        ece_before_calibration=expected_calibration_error(y_true, uncalibrated_probs, multilabel=multilabel),
        ece_after_calibration=expected_calibration_error(y_true, probs, multilabel=multilabel),
        reliability_before_calibration=reliability_bins(y_true, uncalibrated_probs, multilabel=multilabel),
        reliability_after_calibration=reliability_bins(y_true, probs, multilabel=multilabel),
        per_tag=per_tag,
        images=_image_predictions(tags, indicator, probs, predicted, multilabel=multilabel),
        n_groups=len(np.unique(groups)),
        n_grouped_images=_grouped_images(groups),
        **spread,
    )


def held_out_report(
    *,
    tags: Sequence[str],
    multilabel: bool,
    y_true: np.ndarray,
    probs: np.ndarray,
    uncalibrated_probs: np.ndarray,
    threshold: float,
    chosen_c: float,
) -> EvaluationReport:
    """The report of a trained model on labelled images it never saw (a test set): the same figures
    as the cross-validated report, from one "fold" (n_folds = 1), so no spread across folds; the
    overall figures' standard errors are bootstrapped over the images."""
    return build_report(
        tags=tags,
        multilabel=multilabel,
        y_true=y_true,
        probs=probs,
        uncalibrated_probs=uncalibrated_probs,
        folds=np.zeros(len(probs), dtype=np.intp),
        threshold=threshold,
        chosen_c=chosen_c,
        c_values=[],
        c_log_losses=[],
    )


BOOTSTRAP_DRAWS = 200


def _grouped_images(groups: np.ndarray) -> int:
    _, member, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    return int((sizes[member] > 1).sum())


def _group_bootstrap(groups, indicator, predicted, correct) -> dict[str, float | None]:
    """Standard errors of accuracy and micro precision/recall, resampling whole groups (the cluster
    bootstrap): with 300 images from 30 items the figures are as uncertain as 30 images would make them."""
    _, member = np.unique(groups, return_inverse=True)
    n_groups = member.max() + 1
    sums = {
        "tp": np.bincount(member, weights=(indicator * predicted).sum(axis=1), minlength=n_groups),
        "pred": np.bincount(member, weights=predicted.sum(axis=1), minlength=n_groups),
        "true": np.bincount(member, weights=indicator.sum(axis=1), minlength=n_groups),
        "n": np.bincount(member, minlength=n_groups).astype(np.float64),
    }
    if correct is not None:
        sums["correct"] = np.bincount(member, weights=correct.astype(np.float64), minlength=n_groups)
    rng = np.random.default_rng(0)
    counts = np.stack(
        [np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups) for _ in range(BOOTSTRAP_DRAWS)]
    )
    drawn = {name: counts @ values for name, values in sums.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = drawn["tp"] / drawn["pred"]
        recall = drawn["tp"] / drawn["true"]
    return {
        "accuracy_std": float(np.std(drawn["correct"] / drawn["n"])) if correct is not None else None,
        "precision_std": float(np.nanstd(precision)) if np.isfinite(precision).any() else 0.0,
        "recall_std": float(np.nanstd(recall)) if np.isfinite(recall).any() else 0.0,
    }


def _column_metrics(truth: np.ndarray, probs: np.ndarray, predicted: np.ndarray) -> dict[str, np.ndarray]:
    """Per-tag precision and recall (at the threshold) and average precision; NaN where undefined
    (no predicted or no true image of the tag among these images)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # AP of a tag absent from a fold: masked below
        metrics = {
            "precision": _per_column(partial(precision_score, zero_division=np.nan), truth, predicted),
            "recall": _per_column(partial(recall_score, zero_division=np.nan), truth, predicted),
            "average_precision": _per_column(average_precision_score, truth, probs),
        }
    metrics["average_precision"][~truth.any(axis=0)] = np.nan
    return metrics


def _per_column(metric: Callable, truth: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """metric for each column of indicator matrices (sklearn reads one column as binary labels)."""
    if truth.shape[1] == 1:
        return np.atleast_1d(np.asarray(metric(truth[:, 0], scores[:, 0]), dtype=np.float64))
    return np.asarray(metric(truth, scores, average=None), dtype=np.float64)


def _defined(value: float) -> float | None:
    """A figure that may be undefined (NaN: nothing predicted, or nothing to find) as float or None:
    reports are JSON, which has no NaN, and 0.0 would claim a measurement."""
    return None if np.isnan(value) else float(value)


def _spread(values: list[float]) -> float:
    """Standard deviation across folds, ignoring folds where the metric is undefined."""
    defined = np.asarray(values, dtype=np.float64)
    defined = defined[~np.isnan(defined)]
    return float(np.std(defined)) if len(defined) > 1 else 0.0


def _pr_curve(truth: np.ndarray, probs: np.ndarray) -> PrecisionRecallCurve:
    if not truth.any():
        return PrecisionRecallCurve(thresholds=[], precision=[], recall=[])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        precision, recall, thresholds = precision_recall_curve(truth, probs)
    keep = np.unique(np.linspace(0, len(thresholds) - 1, MAX_CURVE_POINTS).round().astype(int))
    return PrecisionRecallCurve(
        thresholds=thresholds[keep].tolist(), precision=precision[keep].tolist(), recall=recall[keep].tolist()
    )


def _image_predictions(tags, indicator, probs, predicted, *, multilabel: bool) -> list[ImagePrediction]:
    top = probs.argmax(axis=1)
    return [
        ImagePrediction(
            index=i,
            true_tags=[tags[j] for j in np.flatnonzero(indicator[i])],
            probabilities=probs[i].tolist(),
            predicted_tags=[tags[j] for j in np.flatnonzero(predicted[i])] if multilabel else [tags[top[i]]],
        )
        for i in range(len(probs))
    ]
