"""Cross-validation of the head: folds, the choice of C, and out-of-fold calibration.

C is chosen by the calibrated out-of-fold log-loss. Choosing on the same out-of-fold predictions
that the report then shows is slightly optimistic (one number picked out of a handful); with a
5-value grid the effect is small and a nested cross-validation would cost five times as much.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from sightline.learn.calibration import make_calibrator
from sightline.learn.heads import LinearHead
from sightline.learn.solver import ProjectedEmbeddings

# Log-spaced, walked from strong to weak regularisation, each fit warm-started from the previous.
DEFAULT_C_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)
MAX_FOLDS = 5
# Fold heads only rank C values and produce out-of-fold estimates: 4 digits of the loss are plenty.
CV_TOLERANCE = 1e-4
# A weaker regularisation must lower the log-loss by this much (nats per image) to be worth it.
MIN_LOG_LOSS_GAIN = 1e-3


@dataclass
class CrossValidation:
    folds: np.ndarray  # (n,) fold index of each image
    c_values: list[float]  # C values tried (the walk stops once the loss stops improving)
    log_losses: list[float]  # calibrated out-of-fold log-loss of each
    chosen_c: float
    logits: np.ndarray  # (n, k) out-of-fold logits at the chosen C
    coef_mean: np.ndarray  # fold heads' average at the chosen C: a warm start for the final fit
    intercept_mean: np.ndarray


def assign_folds(Y: np.ndarray, *, multilabel: bool, random_state: int) -> np.ndarray:
    """Stratified fold index per image; k = min(5, smallest tag count), at least 2.

    Multilabel images are stratified on their rarest tag (images with no tag form their own
    stratum), which keeps every tag spread over the folds without an extra dependency.
    """
    if multilabel:
        counts = Y.sum(axis=0)
        rarity = np.where(Y > 0, counts, np.inf)
        strata = np.where(Y.any(axis=1), rarity.argmin(axis=1), -1)
        smallest = counts[counts > 0].min(initial=len(Y))
    else:
        strata = Y
        smallest = np.bincount(Y).min()
    n_folds = int(max(2, min(MAX_FOLDS, smallest)))
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    folds = np.empty(len(Y), dtype=np.intp)
    with warnings.catch_warnings():  # strata smaller than n_folds are expected for co-occurring tags
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for fold, (_, test) in enumerate(splitter.split(np.zeros(len(Y)), strata)):
            folds[test] = fold
    return folds


class _FoldFit:
    """One fold's head, walked along the C grid, writing its out-of-fold logits in place."""

    def __init__(self, template: LinearHead, data: ProjectedEmbeddings, X: np.ndarray, Y: np.ndarray, test: np.ndarray):
        self.head = clone(template).set_params(tol=max(template.tol, CV_TOLERANCE))
        _, self.targets, self.weights = self.head._validate_training_data(X[~test], Y[~test])
        self.train_data = data.take(np.flatnonzero(~test))
        self.test = test
        self.X_test = X[test]

    def fit(self, C: float, logits: np.ndarray) -> None:
        fitted = hasattr(self.head, "coef_")
        warm = {"coef_init": self.head.coef_, "intercept_init": self.head.intercept_} if fitted else {}
        self.head.set_params(C=C)._fit_projected(self.train_data, self.targets, self.weights, **warm)
        logits[self.test] = self.head.logits(self.X_test)


def cross_validate(
    data: ProjectedEmbeddings,
    X: np.ndarray,
    Y: np.ndarray,
    folds: np.ndarray,
    *,
    template: LinearHead,
    c_grid: Sequence[float] = DEFAULT_C_GRID,
    on_fit: Callable[[int, int], None] | None = None,
) -> CrossValidation:
    """Fit one head per fold for each C (strong to weak), recording out-of-fold logits.

    The walk stops at the first C that does not lower the loss by MIN_LOG_LOSS_GAIN: the loss is close
    to unimodal in C, and the weakly regularised end is the expensive one (and overfits first).
    Folds are fitted in parallel threads, one BLAS thread each (the fits are small; see `solver`).
    """
    fits = [_FoldFit(template, data, X, Y, folds == fold) for fold in np.unique(folds)]
    total = len(c_grid) * len(fits)
    tried, losses, best = [], [], None
    logits = np.zeros((len(X), len(fits[0].head.classes_)))
    with (
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(max_workers=min(len(fits), _available_cpus())) as pool,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", ConvergenceWarning)  # an unconverged weak-C fit is still a candidate
        for step, C in enumerate(sorted(c_grid)):
            for done, _ in enumerate(pool.map(lambda fit, C=C: fit.fit(C, logits), fits), start=1):
                if on_fit:
                    on_fit(step * len(fits) + done, total)
            tried.append(float(C))
            losses.append(calibrated_log_loss(logits, Y, multilabel=template.multilabel))
            if best is None or losses[-1] < best.log_losses[-1] - MIN_LOG_LOSS_GAIN:
                best = _snapshot(folds, tried, losses, C, logits, [fit.head for fit in fits])
            else:
                break
    best.c_values, best.log_losses = tried, losses
    return best


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _snapshot(folds, tried, losses, C, logits, heads) -> CrossValidation:
    return CrossValidation(
        folds=folds,
        c_values=list(tried),
        log_losses=list(losses),
        chosen_c=float(C),
        logits=logits.copy(),
        coef_mean=np.mean([h.coef_ for h in heads], axis=0),
        intercept_mean=np.mean([h.intercept_ for h in heads], axis=0),
    )


def calibrated_log_loss(logits: np.ndarray, Y: np.ndarray, *, multilabel: bool) -> float:
    """Log-loss after calibrating on the same predictions: the quality C should be chosen on (the
    head's raw confidence is fixed by calibration anyway). Multilabel: mean over (image, tag)."""
    probs = make_calibrator(multilabel=multilabel).fit(logits, Y).transform(logits)
    if multilabel:
        return float(log_loss(Y.ravel(), probs.ravel(), labels=[0, 1]))
    return float(log_loss(Y, probs, labels=np.arange(logits.shape[1])))


def cross_fit_calibration(logits: np.ndarray, Y: np.ndarray, folds: np.ndarray, *, multilabel: bool) -> np.ndarray:
    """Honest calibrated out-of-fold probabilities: fold i is calibrated by a calibrator fitted on
    the other folds' out-of-fold predictions only."""
    probs = np.empty_like(logits, dtype=np.float64)
    for fold in np.unique(folds):
        test = folds == fold
        calibrator = make_calibrator(multilabel=multilabel).fit(logits[~test], Y[~test])
        probs[test] = calibrator.transform(logits[test])
    return probs
