"""Turning a head's scores into probabilities that mean what they say, and measuring whether they do.

A linear head trained to separate classes is usually over-confident (and the balanced class
weights shift its probabilities toward rare tags). The calibrators here are fitted on
out-of-fold scores, so they learn how far the head's confidence can be trusted on unseen images:

* `TemperatureScaler` (Multiclass): one temperature for all logits; ranking is unchanged.
* `PlattScaler` (Multilabel): per tag ``sigmoid(a * z + b)`` with ``a > 0``, the slopes pooled across
  tags, so that a tag with few positives borrows the other tags' evidence; ranking is unchanged.

Both bound their output by the evidence behind it (`evidence_bound`): fitted on n out-of-fold
predictions, no probability is reported more extreme than n observations can support, so a model
that happened to be right on all of them says 0.99, not 1.0 against 1e-26.

`expected_calibration_error` and `reliability_bins` measure the result (scikit-learn has neither).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted


def evidence_bound(probs: np.ndarray, n_samples: int, n_outcomes: int) -> np.ndarray:
    """Mix with uniform so the top probability is at most Laplace's rule of succession, 1 - 1/(n + 2).

    With n held-out predictions all correct, the honest estimate of the chance the next one is right
    is (n + 1) / (n + 2). The mixing weight alpha = k / ((k - 1)(n + 2)) caps the most likely of k
    outcomes there and lifts the least likely to alpha / k; ranking is unchanged, and the effect
    fades as n grows (n = 1000: at most 0.999).
    """
    alpha = n_outcomes / ((n_outcomes - 1) * (n_samples + 2))
    return (1.0 - alpha) * probs + alpha / n_outcomes


class TemperatureScaler(BaseEstimator):
    """Multiclass calibration: probabilities = softmax(logits / T), T fitted by minimum NLL.

    ``prior_strength`` > 0 adds ``prior_strength/2 * log(T)^2`` to the summed NLL: a Gaussian prior
    that keeps the head's own scale (T = 1) unless the evidence outweighs it. Out-of-fold logits of
    every training image need none; a fine-tuning validation fold of 20-40 images does (its fitted T
    swings with a handful of images: see `sightline.finetune.calibration`).
    """

    def __init__(self, min_temperature: float = 0.05, max_temperature: float = 100.0, prior_strength: float = 0.0):
        self.min_temperature = min_temperature
        self.max_temperature = max_temperature
        self.prior_strength = prior_strength

    def fit(self, logits: np.ndarray, y: np.ndarray) -> TemperatureScaler:
        """logits: (n, k) out-of-fold logits; y: (n,) class indices."""
        logits = np.asarray(logits, dtype=np.float64)
        rows = np.arange(len(logits))
        y = np.asarray(y, dtype=np.intp)

        def negative_log_likelihood(log_temperature: float) -> float:
            fit = -np.sum(log_softmax(logits / np.exp(log_temperature), axis=1)[rows, y])
            return float(fit + self.prior_strength / 2 * log_temperature**2) / len(logits)

        result = minimize_scalar(
            negative_log_likelihood,
            bounds=(np.log(self.min_temperature), np.log(self.max_temperature)),
            method="bounded",
        )
        self.temperature_ = float(np.exp(result.x))
        self.n_samples_ = len(logits)
        return self

    def transform(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated (n, k) probabilities."""
        check_is_fitted(self)
        probs = softmax(np.asarray(logits, dtype=np.float64) / self.temperature_, axis=1)
        return evidence_bound(probs, self.n_samples_, probs.shape[1])


class PlattScaler(BaseEstimator):
    """Multilabel calibration: per tag sigmoid(a * z + b), all tags fitted in one vectorised problem.

    The slopes are fitted as ``a = exp(s)``, so never 0: a zero slope gives every image the same
    probability of that tag, and the tag's ranking (its average precision) is lost. With 5-15
    positives per tag the out-of-fold scores of a tag often rank worse than chance even when the final
    head ranks well (each fold's offset differs), and the earlier fit, a linear slope bounded at 0,
    put 1-2 tags per model on 0: measured on clothing mosaics that cost 1.0-1.6 points of mAP at 15-30
    training images (benchmarks/results/multilabel_candidates.md).

    Each log-slope is pulled toward one shared log-slope by ``tag_ridge/2 * (s_j - s)^2``: a handful of
    positives cannot say how far one tag's scores can be trusted, the pooled tags can, and hundreds of
    images per tag outweigh the pull. ``ridge/2 * (s^2 + sum b_j^2)`` keeps the shared slope near 1 and
    the offsets near 0 when there is hardly any evidence (a tag without positives).
    """

    # exp(-7) ~ 1e-3: a flatter slope would tie a tag's probabilities again in float32 (ONNX export);
    # exp(10) lets a strongly regularised head (logits of spread 0.01) reach confident probabilities.
    _LOG_SLOPE_BOUNDS = (-7.0, 10.0)

    def __init__(self, ridge: float = 1.0, tag_ridge: float = 100.0):
        self.ridge = ridge
        self.tag_ridge = tag_ridge

    def fit(self, scores: np.ndarray, Y: np.ndarray) -> PlattScaler:
        """scores: (n, k) out-of-fold logits; Y: (n, k) 0/1 indicator."""
        scores = np.asarray(scores, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        k = scores.shape[1]

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            log_slope, offset, shared = theta[:k], theta[k : 2 * k], theta[2 * k]
            slope = np.exp(log_slope)
            z = scores * slope + offset
            apart = log_slope - shared
            loss = -np.sum(Y * log_expit(z) + (1.0 - Y) * log_expit(-z))
            loss += 0.5 * self.tag_ridge * np.sum(apart**2) + 0.5 * self.ridge * (shared**2 + np.sum(offset**2))
            residual = expit(z) - Y
            grad_log_slope = np.sum(residual * scores, axis=0) * slope + self.tag_ridge * apart
            grad_offset = residual.sum(axis=0) + self.ridge * offset
            grad_shared = -self.tag_ridge * np.sum(apart) + self.ridge * shared
            return loss, np.concatenate([grad_log_slope, grad_offset, [grad_shared]])

        bounds = [self._LOG_SLOPE_BOUNDS] * k + [(None, None)] * k + [self._LOG_SLOPE_BOUNDS]
        result = minimize(objective, np.zeros(2 * k + 1), jac=True, method="L-BFGS-B", bounds=bounds)
        self.slope_, self.offset_ = np.exp(result.x[:k]), result.x[k : 2 * k].copy()
        self.n_samples_ = len(scores)
        return self

    def transform(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated (n, k) probabilities, one per tag."""
        check_is_fitted(self)
        probs = expit(np.asarray(scores, dtype=np.float64) * self.slope_ + self.offset_)
        return evidence_bound(probs, self.n_samples_, 2)  # each tag: present or not


def make_calibrator(*, multilabel: bool, temperature_prior: float = 0.0) -> TemperatureScaler | PlattScaler:
    """The calibrator that fits the head: per tag for Multilabel, one temperature for Multiclass
    (`temperature_prior`: its `prior_strength`)."""
    return PlattScaler() if multilabel else TemperatureScaler(prior_strength=temperature_prior)


# --- measuring calibration ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReliabilityBin:
    """One bar of a reliability diagram: predictions with confidence in [lower, upper)."""

    lower: float
    upper: float
    count: int
    mean_confidence: float
    accuracy: float


def reliability_bins(
    y_true: np.ndarray, probs: np.ndarray, *, multilabel: bool, n_bins: int = 10
) -> list[ReliabilityBin]:
    """Equal-width confidence bins (empty bins left out).

    Multiclass: the top probability of each image against whether the top class is right
    (y_true: (n,) class indices). Multilabel: every (image, tag) probability against whether the
    tag is present (y_true: (n, k) indicator).
    """
    confidence, correct = _confidence_and_outcome(y_true, probs, multilabel=multilabel)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.floor(confidence * n_bins).astype(int), 0, n_bins - 1)  # 1.0 joins the last bin
    counts = np.bincount(which, minlength=n_bins)
    confidence_sums = np.bincount(which, weights=confidence, minlength=n_bins)
    correct_sums = np.bincount(which, weights=correct, minlength=n_bins)
    return [
        ReliabilityBin(
            lower=float(edges[b]),
            upper=float(edges[b + 1]),
            count=int(counts[b]),
            mean_confidence=float(confidence_sums[b] / counts[b]),
            accuracy=float(correct_sums[b] / counts[b]),
        )
        for b in np.flatnonzero(counts)
    ]


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, *, multilabel: bool, n_bins: int = 10) -> float:
    """Count-weighted mean |accuracy - confidence| over equal-width bins (see `reliability_bins`)."""
    bins = reliability_bins(y_true, probs, multilabel=multilabel, n_bins=n_bins)
    total = sum(b.count for b in bins)
    return float(sum(b.count * abs(b.accuracy - b.mean_confidence) for b in bins) / max(total, 1))


def _confidence_and_outcome(y_true, probs, *, multilabel: bool) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float64)
    y_true = np.asarray(y_true)
    if multilabel:
        return probs.ravel(), y_true.astype(np.float64).ravel()
    return probs.max(axis=1), (probs.argmax(axis=1) == y_true).astype(np.float64)
