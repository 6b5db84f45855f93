"""How unlike the training images an image is: an "unknown" score in [0, 1] whose 0.99 means 1 in 100.

A classifier always answers with one of its tags, even for a photo of something it never saw. The
novelty score asks a different question, from two pieces of evidence measured to separate unrelated
photos (benchmarks/unknown.py, AUROC 0.99 on clothing at 5-15 images per tag):

* the mean cosine distance to the k nearest training images;
* the cosine distance to the nearest tag mean (the mean of the images of each tag).

Each is compared with the training images' own, leave-one-out (a training image against the others, as
a new image meets them all): Box-Cox transformed, then turned into a standard score through a fitted
tail. The larger of the two standard scores (either evidence suffices: their mean let a random-weight
backbone's stripes pass as known, and it flagged fewer unrelated photos at 5 shots, 0.85 vs 0.86) is
standardised once more against the training images', and the score is the normal CDF of the result.

The tail: from SHAPE_MIN_REFERENCE (150) reference images on, a generalised normal with the maximum-
likelihood power and shape (1 to 8; 2 is the normal): EfficientNet-Lite0's distances are lighter-tailed
than normal (shapes around 3.5), and a normal tail put the 0.99 cut far beyond the in-domain photos. On
clothing (13 draws, 15 and 30 images per tag; unrelated flagged / in-domain flagged / unrelated above
threshold unflagged) it took EfficientNet-Lite0 from 0.92/0.003/0.053 to 0.99/0.008/0.007 at 15 and
0.97/0.004/0.023 to 0.99/0.009/0.008 at 30, MobileNetV1 from 0.89/0.006/0.050 to 0.92/0.008/0.034 and
0.92/0.005/0.033 to 0.94/0.009/0.023. Below 150 each evidence's own fitted shape is noise (at 100 images
its worst draw flagged 4.6% of in-domain photos (Lite0), at 50 10%), so the power is the log unless the
log is outside its 95% confidence interval (a power fitted anyway flagged fewer unrelated images at 50:
0.83 vs 0.86), and the two evidences share one shape (fitted on both samples: twice the data), its
maximum a posteriori under a Gaussian prior on log(shape) centred at log 2 (the normal) worth
SHAPE_PRIOR (30) pseudo-observations, so it fades as the sample grows. Against normal tails (13 draws,
5 and 10 images per tag; as above, the in-domain worst draw in brackets) it took EfficientNet-Lite0 from
0.84/0.010 (0.067)/0.076 to 0.89/0.011 (0.070)/0.055 at 5 and 0.88/0.004 (0.011)/0.075 to
0.92/0.006 (0.013)/0.056 at 10, MobileNetV1 from 0.86/0.013 (0.035)/0.055 to 0.86/0.014 (0.043)/0.053
and 0.86/0.005 (0.011)/0.049 to 0.85/0.004 (0.011)/0.053. Of the prior weights tried (3, 10, 30), 30
was the only one that kept MobileNetV1's mean in-domain flags within 1.5% and its worst draw within a
point of the normal's at 5 images; per-evidence shapes under the same prior flagged fewer (Lite0 0.87).

For images like the training set the score is then about uniform, so flagging from 0.99 flags about
1% of them, also at 50 training images: a conformal rank over n reference points cannot exceed
n/(n+1) (0.98 at n = 50), so a rank cannot honour 0.99 with few images, while a fitted tail can.
Measured on clothing (13 draws) it flagged 0.4-1.4% of in-domain test photos on average from 5 to 30
images per tag, the worst draw 2.4% from 150 images on (7% at 50); see benchmarks/unknown.py for what it catches.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import boxcox as boxcox_transform
from scipy.special import gammaincc, gammaln, ndtr, ndtri
from scipy.stats import gennorm
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

# Rows of queries per block of the similarity matrix: bounds memory to about 64 MB per block for
# 50k training images.
_BLOCK_ELEMENTS = 16_000_000
#: The smallest spread a standardisation uses (identical training images have none).
_MIN_SPREAD = 1e-3
#: Box-Cox powers are kept in this range: wider ones come from a handful of odd reference distances,
#: not from a shape worth following into the tail.
_POWER_RANGE = (-2.0, 2.0)
#: The chi-squared (1 degree of freedom) 95% quantile: the likelihood-ratio bound of a 95% interval.
_CHI2_1_95 = 3.841458820694124
#: Generalised-normal shapes are kept in this range (2 is the normal, larger is lighter-tailed).
_SHAPE_RANGE = (1.0, 8.0)
#: Standard scores are kept within this (a tail probability underflows to 0 beyond it).
_Z_LIMIT = 37.0
#: The fewest reference images (per evidence) from which the tails' shape is fitted; see the module docstring.
SHAPE_MIN_REFERENCE = 150
#: Below that, the weight (in pseudo-observations) of the prior that holds the shared shape toward the normal.
SHAPE_PRIOR = 30.0


class NoveltyScorer(BaseEstimator):
    """k-NN and tag-mean cosine distances, standardised against the training images' leave-one-out ones.

    Embeddings are expected L2-normalised. The training embeddings are rounded to float16 precision
    (so a saved model can store them at half the size, losslessly; far more precision than a distance
    needs) and kept as float32 for fast matrix products. The reference uses at most ``max_reference``
    training images (a random sample, as in split conformal prediction): leave-one-out over 50k images
    would cost 50k x 50k products.

    ``fit(X, groups)``: ``groups`` is an (n, G) 0/1 membership (an image's tags; Multiclass: one-hot),
    for the tag-mean evidence; without it only the k-NN evidence is used. ``fit_power=False`` keeps the
    log of both distances and normal tails (as before the fitted powers; models saved then load that way).
    ``shape_min_reference``: the fewest reference distances (per evidence) from which the tail's shape is
    fitted per evidence (``shapes_``); below, one shape shared by both evidences, its log held toward log 2
    (the normal) by a Gaussian prior worth ``shape_prior`` pseudo-observations (``inf``: the normal, as
    before that prior; models saved then keep their normal tails).
    """

    def __init__(
        self,
        k: int = 5,
        max_reference: int = 5000,
        random_state: int = 0,
        fit_power: bool = True,
        shape_min_reference: int = SHAPE_MIN_REFERENCE,
        shape_prior: float = SHAPE_PRIOR,
    ):
        self.k = k
        self.max_reference = max_reference
        self.random_state = random_state
        self.fit_power = fit_power
        self.shape_min_reference = shape_min_reference
        self.shape_prior = shape_prior

    def fit(self, X: np.ndarray, groups: np.ndarray | None = None) -> NoveltyScorer:
        X = np.asarray(X, dtype=np.float32)
        if len(X) < 2:
            raise ValueError("NoveltyScorer needs at least 2 training embeddings")
        self.embeddings_ = X.astype(np.float16).astype(np.float32)
        reference = np.arange(len(X))
        if len(X) > self.max_reference:
            reference = np.sort(np.random.default_rng(self.random_state).choice(len(X), self.max_reference, False))
        ref = self.embeddings_[reference]
        knn = self._knn_distance(ref, exclude=reference)
        self.reference_distances_ = np.sort(knn)
        self.powers_ = np.zeros(2)  # the log, until a power is fitted
        self.shapes_ = np.full(2, 2.0)  # normal tails, until a shape is fitted
        if groups is None:
            (self.knn_stats_,) = self._fit_tails([knn])
            self.group_sums_ = np.zeros((0, X.shape[1]))
            self.group_counts_ = np.zeros(0)
            self.mean_stats_ = np.array([0.0, 1.0])
            self.combined_stats_ = np.array([0.0, 1.0])
            return self
        groups = np.asarray(groups, dtype=np.float64)
        keep = groups.sum(axis=0) > 0
        self.group_sums_ = groups[:, keep].T @ self.embeddings_.astype(np.float64)
        self.group_counts_ = groups[:, keep].sum(axis=0)
        mean = self._mean_distance(ref, leave_out=groups[reference][:, keep])
        finite = np.isfinite(mean)  # an image alone in its tags has no tag mean to leave out to
        self.knn_stats_, self.mean_stats_ = self._fit_tails([knn, mean[finite]])
        self.combined_stats_ = spread_stats(np.maximum(self._knn_z(knn[finite]), self._mean_z(mean[finite])))
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        """(n,) novelty in [0, 1]: about uniform for images like the training images, near 1 for others."""
        check_is_fitted(self)
        X = np.asarray(X, dtype=np.float32)
        z = self._knn_z(self._knn_distance(X))
        if len(self.group_counts_):
            z = np.maximum(z, self._mean_z(self._mean_distance(X)))
            z = (z - self.combined_stats_[0]) / self.combined_stats_[1]
        return ndtr(z)

    def _fit_tails(self, distances: list[np.ndarray]) -> list[np.ndarray]:
        """Fit each evidence's power and tail shape (into ``powers_``, ``shapes_``); returns their [centre, spread].
        From ``shape_min_reference`` distances on an evidence has its own maximum-likelihood shape; below, the
        evidences share one shape, held toward the normal by ``shape_prior`` (see the module docstring)."""
        large = [self.fit_power and len(d) >= self.shape_min_reference for d in distances]
        values = []
        for evidence, d in enumerate(distances):
            if self.fit_power:
                self.powers_[evidence] = normalising_power(d, keep_log=not large[evidence])
            values.append(boxcox_transform(d, self.powers_[evidence]))
        stats = [spread_stats(v) for v in values]
        for evidence in [e for e in range(len(values)) if large[e]]:
            self.shapes_[evidence], centre, spread = generalised_normal_fit(values[evidence])
            stats[evidence] = np.array([centre, spread])
        small = [e for e in range(len(values)) if not large[e]]
        if self.fit_power and small and np.isfinite(self.shape_prior):
            shape, fitted = shared_shape_fit([values[e] for e in small], self.shape_prior)
            for evidence, fit in zip(small, fitted, strict=True):
                self.shapes_[evidence], stats[evidence] = shape, fit
        return stats

    def _knn_z(self, distances: np.ndarray) -> np.ndarray:
        return standardised(distances, self.powers_[0], self.knn_stats_, self.shapes_[0])

    def _mean_z(self, distances: np.ndarray) -> np.ndarray:
        return standardised(distances, self.powers_[1], self.mean_stats_, self.shapes_[1])

    def _mean_distance(self, queries: np.ndarray, leave_out: np.ndarray | None = None) -> np.ndarray:
        """Cosine distance to the nearest tag mean; ``leave_out[i]`` removes query i from its own tags' means
        (leave-one-out for training images). A tag left empty counts as infinitely far."""
        sums = self.group_sums_
        queries = queries.astype(np.float64)
        dots = queries @ sums.T  # (n, G): the cosine to a mean is the cosine to the sum
        squared = np.broadcast_to(np.sum(sums * sums, axis=1), dots.shape)
        counts = np.broadcast_to(self.group_counts_, dots.shape)
        if leave_out is not None:  # the sum without x: S - x, so x.(S - x) and |S - x|^2 = |S|^2 - 2 x.S + |x|^2
            self_dots = np.sum(queries * queries, axis=1)[:, None]
            squared = squared - leave_out * (2 * dots - self_dots)
            dots = dots - leave_out * self_dots
            counts = counts - leave_out
        norms = np.sqrt(np.maximum(squared, 0.0))
        cosine = np.where((counts > 0) & (norms > 1e-9), dots / np.maximum(norms, 1e-12), -np.inf)
        return np.maximum(1.0 - cosine.max(axis=1), 1e-9)

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
        return np.maximum(out, 1e-9)  # a log needs it positive; duplicates of a training image sit at 0


def spread_stats(values: np.ndarray) -> np.ndarray:
    """[mean, spread] for a standardisation (spread at least _MIN_SPREAD)."""
    if len(values) < 2:
        return np.array([float(values.mean()) if len(values) else 0.0, 1.0])
    return np.array([float(values.mean()), max(float(values.std(ddof=1)), _MIN_SPREAD)])


def standardised(distances: np.ndarray, power: float, stats: np.ndarray, shape: float = 2.0) -> np.ndarray:
    """Box-Cox transformed `distances` (power 0: the log), standardised by `stats` ([centre, spread]), as the
    standard normal score of the same upper-tail probability under a generalised normal of this `shape`."""
    z = (boxcox_transform(distances, power) - stats[0]) / stats[1]
    return z if shape == 2.0 else normal_score(z, shape)


def normal_score(z: np.ndarray, shape: float) -> np.ndarray:
    """The standard normal score with the upper-tail probability of `z` under a generalised normal of this
    shape, scaled so that shape 2 is the standard normal (its tail: half the regularised upper incomplete
    gamma function of |z / sqrt 2| ** shape; computed directly, so the far tail keeps its precision)."""
    tail = 0.5 * gammaincc(1.0 / shape, (np.abs(z) / np.sqrt(2.0)) ** shape)
    return np.clip(-np.sign(z) * ndtri(tail), -_Z_LIMIT, _Z_LIMIT)


def generalised_normal_fit(values: np.ndarray) -> tuple[float, float, float]:
    """(shape, centre, spread) of a generalised normal fitted by maximum likelihood, the shape kept within
    _SHAPE_RANGE and the scale expressed so that shape 2 is the normal with standard deviation `spread`."""
    if len(np.unique(values)) < 3:
        centre, spread = spread_stats(values)
        return 2.0, float(centre), float(spread)
    shape = float(np.clip(gennorm.fit(values)[0], *_SHAPE_RANGE))
    _, centre, scale = gennorm.fit(values, f0=shape)  # centre and scale again, for the clipped shape
    return shape, float(centre), max(float(scale) / np.sqrt(2.0), _MIN_SPREAD)


def shared_shape_fit(samples: list[np.ndarray], prior: float) -> tuple[float, list[np.ndarray]]:
    """One generalised-normal shape for all `samples` (each its own centre and scale), maximum a posteriori
    under a Gaussian prior on log(shape) centred at log 2 (the normal) adding ``prior / 2 * (log(shape) -
    log 2) ** 2`` to the summed negative log-likelihood: worth `prior` observations, so it fades as the
    samples grow. Returns (shape, [centre, spread] per sample), the shape within _SHAPE_RANGE and the spread
    as in `generalised_normal_fit`."""
    stats = [spread_stats(values) for values in samples]
    if any(len(np.unique(values)) < 3 for values in samples):
        return 2.0, stats
    start = np.concatenate([[values[0], np.log(values[1] * np.sqrt(2.0))] for values in stats])

    def objective(params: np.ndarray) -> float:  # params: log shape, then centre and log scale per sample
        shape, total = np.exp(params[0]), prior / 2 * (params[0] - np.log(2.0)) ** 2
        for i, values in enumerate(samples):
            centre, log_scale = params[1 + 2 * i : 3 + 2 * i]
            total += np.sum(np.abs((values - centre) * np.exp(-log_scale)) ** shape)
            total -= len(values) * (np.log(shape / 2) - log_scale - gammaln(1 / shape))
        return float(total)

    bounds = [tuple(np.log(_SHAPE_RANGE))] + [(None, None)] * (2 * len(samples))
    fits = [  # from the normal and from a light and a heavy tail: the likelihood in the shape may have two modes
        minimize(objective, np.r_[np.log(shape), start], method="L-BFGS-B", bounds=bounds) for shape in (2.0, 3.5, 1.3)
    ]
    best = min((fit for fit in fits if np.isfinite(fit.fun)), key=lambda fit: fit.fun, default=None)
    if best is None:
        return 2.0, stats
    fitted = [
        np.array([best.x[1 + 2 * i], max(np.exp(best.x[2 + 2 * i]) / np.sqrt(2.0), _MIN_SPREAD)])
        for i in range(len(samples))
    ]
    return float(np.exp(best.x[0])), fitted


def normalising_power(distances: np.ndarray, keep_log: bool = True) -> float:
    """The Box-Cox power (maximum likelihood, within _POWER_RANGE) under which ``distances`` look most
    normal, or with ``keep_log`` 0 (the log) while the log is within its 95% confidence interval
    (likelihood ratio): the fitted power is noisy with few reference images."""
    distances = distances[np.isfinite(distances)]
    if len(np.unique(distances)) < 3:
        return 0.0
    logs = np.log(distances)

    def log_likelihood(power: float) -> float:  # Box-Cox's profile log-likelihood (scipy's boxcox_llf, faster)
        return (power - 1) * logs.sum() - len(logs) / 2 * np.log(np.var(boxcox_transform(distances, power)))

    fitted = minimize_scalar(
        lambda p: -log_likelihood(p), bounds=_POWER_RANGE, method="bounded", options={"xatol": 1e-3}
    )
    if not fitted.success or not np.isfinite(fitted.fun):
        return 0.0
    log_rejected = 2 * (-fitted.fun - log_likelihood(0.0)) > _CHI2_1_95
    return float(fitted.x) if log_rejected or not keep_log else 0.0
