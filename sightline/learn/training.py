"""`train_model`: from labelled embeddings to a calibrated, evaluated `TrainedModel`.

1. Check the labels (too few images per tag is an error; few or imbalanced tags are warnings).
2. Groups: near-duplicates found in the embeddings, joined with the groups the caller declares.
   Stratified group k-fold cross-validation over a grid of C (see `crossval`), out-of-fold logits.
3. Calibrate on the out-of-fold logits; cross-fitted calibration gives honest report numbers.
4. Fit the final head on all images with the chosen C; fit the novelty scorer.
5. Build the evaluation report from the calibrated out-of-fold probabilities.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import clone

from sightline.backbones.views import mean_of_views
from sightline.errors import InvalidLabelsError, TrainingError
from sightline.learn.calibration import make_calibrator
from sightline.learn.crossval import (
    DEFAULT_C_GRID,
    assign_folds,
    conflicting_pairs,
    cross_fit_calibration,
    cross_validate,
    find_groups,
    split_single_group_tags,
    training_rows,
)
from sightline.learn.evaluation import build_report
from sightline.learn.heads import LinearHead
from sightline.learn.label_errors import rank_label_issues
from sightline.learn.model import TrainedModel, reported_columns, reported_tags
from sightline.learn.novelty import NoveltyScorer
from sightline.learn.rules import check_image_counts
from sightline.learn.solver import ProjectedEmbeddings

Progress = Callable[[str, int, int], None]


def train_model(
    X: np.ndarray,
    Y: np.ndarray,
    classes: Sequence[str],
    *,
    multilabel: bool,
    prior_weights: np.ndarray | None = None,
    prior_bias: np.ndarray | None = None,
    negative_class: str | None = None,
    threshold: float = 0.5,
    uncertainty_margin: float = 0.1,
    random_state: int = 0,
    progress: Progress | None = None,
    c_grid: Sequence[float] = DEFAULT_C_GRID,
    groups: Sequence[object] | None = None,
    detect_near_duplicates: bool = True,
    near_duplicate_pairs: np.ndarray | None = None,
    views: Sequence[np.ndarray] = (),
    test_time_view: np.ndarray | None = None,
) -> TrainedModel:
    """Train, calibrate and evaluate a head on L2-normalised embeddings X (n, d).

    Y: Multiclass (n,) tag indices into ``classes``; Multilabel (n, k) 0/1 indicator, k = len(classes).
    negative_class: the tag meaning "none of these". Multiclass: one of ``classes``, trained as an
    ordinary class whose prior row is zero. Multilabel: not one of ``classes`` (no column); its images
    are the all-zero rows of Y, and its probability is derived as prod(1 - p_i).
    prior_weights: (len(classes), d) zero-shot weights, e.g. scaled text embeddings of the tag names.
    progress(phase, done, total) is called as training advances.
    groups: (n,) declared group per image (equal values stay on one side of every fold; None: none).
    detect_near_duplicates: also keep near-duplicate images together (False: the plain stratified
    folds of earlier versions, kept for benchmarks that compare the two).
    near_duplicate_pairs: those of X when the caller found them already (`crossval.find_duplicates`).
    views: L2-normalised embeddings of augmented views of the images (each (n, d), rows as in X), used
    as extra training rows only: a cross-validation fold trains on the views of its training images,
    and the report, calibration and novelty see the images alone.
    test_time_view: the embeddings of the view that predictions average with the image (see
    `sightline.backbones.views`); then held-out images are scored, calibrated and compared for novelty
    as predictions will see them, and the model records ``test_time_views=True``.
    Raises NotEnoughImagesError (fewer than 5 images for some tag), TrainingError, InvalidLabelsError.
    """
    classes = [str(c) for c in classes]
    X, Y = _check_inputs(X, Y, classes, multilabel=multilabel, negative_class=negative_class)
    views = [np.asarray(v, dtype=np.float32) for v in views]
    if any(v.shape != X.shape for v in views) or (test_time_view is not None and test_time_view.shape != X.shape):
        raise ValueError(f"every view must have the images' shape {X.shape}")
    X_eval = X if test_time_view is None else mean_of_views(X, [test_time_view])
    X_train = np.vstack([X, *views]) if views else X
    rows = training_rows(np.arange(len(X)), len(X), len(views))
    tags = reported_tags(classes, multilabel=multilabel, negative_class=negative_class)
    truth = Y if not multilabel else reported_columns(Y, multilabel=True, negative_class=negative_class)
    counts = dict(zip(tags, _image_counts(truth, len(tags), multilabel=multilabel), strict=True))
    warnings = check_image_counts(counts)
    template = LinearHead(
        multilabel=multilabel,
        prior_weights=_prior(prior_weights, classes, negative_class, multilabel=multilabel, dim=X.shape[1]),
        prior_bias=prior_bias,
    )
    timer = _PhaseTimer(progress)

    if groups is not None and len(groups) != len(X):
        raise InvalidLabelsError(f"{len(groups)} groups for {len(X)} images: give one group per image (None for none)")
    found = find_groups(
        X if detect_near_duplicates else None,
        groups if groups is not None else [None] * len(X),
        pairs=near_duplicate_pairs if detect_near_duplicates else None,
    )
    found, single = split_single_group_tags(Y, found, multilabel=multilabel)
    warnings += [
        f"All images of tag {classes[j]!r} are near-duplicates or in one declared group: its cross-validated "
        "figures come from near-copies and are optimistic. Add images of other items."
        for j in single
    ]
    assert found.near_duplicate_pairs is not None  # find_groups always finds them (maybe none)
    conflicts = conflicting_pairs(found.near_duplicate_pairs, Y)
    if len(conflicts):
        i, j = conflicts[0]
        warnings.append(
            f"{len(conflicts)} pairs of near-duplicate images carry different tags (probably labelling errors), "
            f"for example images {i} and {j}: check them (the report lists every pair)."
        )
    folds = assign_folds(Y, multilabel=multilabel, random_state=random_state, groups=found.labels)
    with timer.phase("cross_validation", total=len(c_grid) * len(np.unique(folds))):
        data = ProjectedEmbeddings.from_embeddings(X_train)
        cv = cross_validate(data, X_train, Y, folds, template=template, c_grid=c_grid,
                            on_fit=timer.step("cross_validation"), n_views=len(views), X_eval=X_eval)  # fmt: skip
    with timer.phase("calibration"):
        oof_probs = cross_fit_calibration(cv.logits, Y, folds, multilabel=multilabel)
        calibrator = make_calibrator(multilabel=multilabel).fit(cv.logits, Y)
    with timer.phase("final_fit"):
        head = clone(template).set_params(C=cv.chosen_c)
        _, targets, weights = head._validate_training_data(X_train, Y[rows % len(Y)])
        head._fit_projected(data, targets, weights, coef_init=cv.coef_mean, intercept_init=cv.intercept_mean)
    with timer.phase("novelty"):
        novelty = NoveltyScorer().fit(X_eval, _groups(Y, len(classes), multilabel=multilabel))
    with timer.phase("evaluation"):
        raw_probs = expit(cv.logits) if multilabel else softmax(cv.logits, axis=1)
        report = build_report(
            tags=tags,
            multilabel=multilabel,
            y_true=truth,
            probs=reported_columns(oof_probs, multilabel=multilabel, negative_class=negative_class),
            uncalibrated_probs=reported_columns(raw_probs, multilabel=multilabel, negative_class=negative_class),
            folds=folds,
            threshold=threshold,
            chosen_c=cv.chosen_c,
            c_values=cv.c_values,
            c_log_losses=cv.log_losses,
            groups=found.labels,
        )
    report.n_near_duplicate_images = found.n_near_duplicate_images
    report.n_declared_group_images = found.n_declared_images
    report.conflicting_pairs = conflicts.tolist()
    if not multilabel:
        ranked = rank_label_issues(oof_probs, Y)
        report.label_issues = [
            {"index": r.index, "given": classes[r.given], "suggested": classes[r.suggested],
             "self_confidence": r.self_confidence}
            for r in ranked if r.flagged
        ]  # fmt: skip
    report.timings = timer.timings
    return TrainedModel(
        classes=classes,
        multilabel=multilabel,
        negative_class=negative_class,
        head=head,
        calibrator=calibrator,
        novelty=novelty,
        threshold=float(threshold),
        tag_thresholds=np.full(len(tags), float(threshold)),
        uncertainty_margin=float(uncertainty_margin),
        report=report,
        warnings=warnings,
        test_time_views=test_time_view is not None,
    )


def _check_inputs(X, Y, classes: list[str], *, multilabel: bool, negative_class: str | None):
    X = np.asarray(X, dtype=np.float32)
    Y = np.asarray(Y)
    if X.ndim != 2 or not np.isfinite(X).all():
        raise ValueError(f"X must be a finite (n_images, dim) array, got shape {X.shape}")
    if len(set(classes)) != len(classes):
        raise InvalidLabelsError(f"Tag names must be unique: {classes}")
    if multilabel:
        if len(classes) < 1:
            raise TrainingError("Multilabel training needs at least 1 tag.")
        if negative_class is not None and negative_class in classes:
            raise InvalidLabelsError(
                f"In Multilabel projects the negative tag {negative_class!r} is not a column of the labels; "
                "its images are the rows with no tag."
            )
        if Y.shape != (len(X), len(classes)) or not np.isin(Y, (0, 1)).all():
            raise InvalidLabelsError(
                f"Multilabel labels must be a 0/1 matrix of shape ({len(X)}, {len(classes)}), got {Y.shape}."
            )
        return X, Y.astype(np.int8)
    if len(classes) < 2:
        raise TrainingError("Multiclass training needs at least 2 tags (a negative tag counts).")
    if negative_class is not None and negative_class not in classes:
        raise InvalidLabelsError(f"The negative tag {negative_class!r} is not one of the tags {classes}.")
    if Y.ndim != 1:
        raise InvalidLabelsError(f"Multiclass training needs exactly one tag per image; got labels of shape {Y.shape}.")
    in_range = np.issubdtype(Y.dtype, np.integer) and np.isin(Y, np.arange(len(classes))).all()
    if len(Y) != len(X) or not in_range:
        raise InvalidLabelsError(f"Multiclass labels must be {len(X)} tag indices in [0, {len(classes)}).")
    return X, Y.astype(np.intp)


def _groups(Y: np.ndarray, n_classes: int, *, multilabel: bool) -> np.ndarray:
    """Each image's groups for the novelty scorer's tag means: its tags, and for Multilabel images
    without any tag a group of their own."""
    if not multilabel:
        return np.eye(n_classes, dtype=np.int8)[Y]
    return np.column_stack([Y, ~Y.any(axis=1)]).astype(np.int8)


def _image_counts(truth: np.ndarray, n_tags: int, *, multilabel: bool) -> list[int]:
    counts = truth.sum(axis=0) if multilabel else np.bincount(truth, minlength=n_tags)
    return [int(c) for c in counts]


def _prior(prior_weights, classes, negative_class, *, multilabel: bool, dim: int) -> np.ndarray | None:
    """The prior as (len(classes), dim) float64; a Multiclass negative tag has no text prior: zero."""
    if prior_weights is None:
        return None
    prior = np.array(prior_weights, dtype=np.float64)
    if prior.shape != (len(classes), dim):
        raise ValueError(f"prior_weights must have shape ({len(classes)}, {dim}), got {prior.shape}")
    if not multilabel and negative_class is not None:
        prior[classes.index(negative_class)] = 0.0
    return prior


class _PhaseTimer:
    """Seconds per training phase, and progress callbacks as phases start, advance and end."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.timings: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str, total: int = 1) -> Iterator[None]:
        """Time a phase; report (name, 0, total) as it starts and (name, total, total) as it ends."""
        self._report(name, 0, total)
        start = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - start
        self._report(name, total, total)

    def step(self, name: str) -> Callable[[int, int], None]:
        """A callback for the steps inside a phase."""
        return lambda done, total: self._report(name, done, total)

    def _report(self, name: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(name, done, total)
