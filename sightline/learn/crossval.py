"""Cross-validation of the head: groups, folds, the choice of C, and out-of-fold calibration.

Folds keep groups whole: images that are near-duplicates of each other (several shots of one item),
and images the user declares to belong together, never sit on both sides of a fold. Otherwise the
model is graded on near-copies of what it learned: 10 clothing items x 3 shots per tag showed a
cross-validated accuracy of 0.997 against 0.61 on photos of other items.

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
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from sightline.errors import TrainingError
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

# Near-duplicates. Two images are near-duplicates when their embedding distance is far below what
# chance gives the nearest neighbour in this data: d(i, j) < t x sqrt(r_i r_j), r_i = the distance of
# image i to its NEAR_DUPLICATE_NEIGHBOURS-th (k-th) nearest neighbour.
# * A fixed cosine cut-off cannot work: with MobileNetV1 embeddings, shots of one clothing item
#   (crops, rotations, lighting) have cosine similarity 0.80-0.97, while unrelated images of a
#   homogeneous set (grey metal surfaces with defects) reach 0.92-0.99 with their nearest neighbour.
# * A fixed ratio cannot either: how much closer the nearest neighbour is than the k-th depends on the
#   data's intrinsic dimension m (in m dimensions (d_1/d_k)^m ~ Beta(1, k - 1)): features with few
#   factors of variation put ordinary neighbours at a ratio of 0.2-0.4 (measured on a random tiny
#   network), real photos at 0.6-1.0.
# So m is estimated from the neighbours beyond the k-th, which small groups of shots do not reach
# (m = log 2 / median log(d_2k / d_k)), and t is the ratio that an ordinary nearest neighbour falls
# below with probability NEAR_DUPLICATE_ALPHA: t = (alpha / (k - 1))^(1/m), capped at
# NEAR_DUPLICATE_MAX_RATIO. Measured (benchmarks/honest_evaluation.py data; ratios of a pair):
#   shots of one item (100 items x 3):   ratios 0.29-0.78, median 0.50; m = 18.7, t = 0.69:
#                                        99 of 100 items kept whole, 1 group joins two items
#   homogeneous surfaces (160):          nearest 0.60-1.02; m = 8.1, t = 0.43: 160 groups (none joined)
#   distinct clothing photos (100):      nearest 0.42-1.02; m = 18.4, t = 0.69: 99 groups
# Groups larger than k are only partly found: declare them (a metadata key, or `groups=`).
NEAR_DUPLICATE_NEIGHBOURS = 10
NEAR_DUPLICATE_ALPHA = 0.01
NEAR_DUPLICATE_MAX_RATIO = 0.7
# Copies (the same picture saved again: other bytes, the same content) are near-duplicates whatever
# their neighbours: a JPEG re-encoded at quality 70 lies at distance 0.009 from its original (tiny test
# network, where ordinary nearest neighbours sit at 0.1), while the closest distinct images measured,
# the homogeneous surfaces, are 0.14 apart (cosine 0.99). 0.02 is cosine similarity 0.9998.
COPY_DISTANCE = 0.02


@dataclass(frozen=True)
class Groups:
    """Which images must stay together in cross-validation, and why."""

    labels: np.ndarray  # (n,) group index per image, 0..n_groups-1
    n_near_duplicate_images: int  # images with a near-duplicate among the others
    n_declared_images: int  # images in a declared group with other images
    near_duplicate_pairs: np.ndarray | None = None  # (m, 2) index pairs found in the embeddings

    @property
    def n_groups(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0

    @property
    def n_grouped_images(self) -> int:
        """Images that share their group with at least one other image."""
        return int((np.bincount(self.labels)[self.labels] > 1).sum())


def near_duplicate_pairs(X: np.ndarray) -> np.ndarray:
    """(m, 2) index pairs i < j of near-duplicate images in L2-normalised embeddings X (see the rule
    above). Memory grows with n x 2k: a pair that passes the rule is always among the k nearest
    neighbours of the image with the larger reference distance (t < 1)."""
    n = len(X)
    if n < 2:
        return np.empty((0, 2), dtype=np.intp)
    k = max(1, min(NEAR_DUPLICATE_NEIGHBOURS, (n - 1) // 2))
    distances, neighbours = NearestNeighbors(n_neighbors=min(2 * k + 1, n)).fit(X).kneighbors(X)
    # column 0 is the image itself (or an identical copy): the k-th neighbour is column k
    reference = np.maximum(distances[:, k], 1e-12)
    ratio_threshold = near_duplicate_ratio(distances, k)
    rows = np.repeat(np.arange(n), k + 1)
    cols, dist = neighbours[:, : k + 1].ravel(), distances[:, : k + 1].ravel()
    ratio = dist / np.sqrt(reference[rows] * reference[cols])
    keep = (rows != cols) & ((ratio < ratio_threshold) | (dist < COPY_DISTANCE))
    pairs = np.sort(np.column_stack([rows[keep], cols[keep]]), axis=1)
    return np.unique(pairs, axis=0)


def near_duplicate_ratio(distances: np.ndarray, k: int) -> float:
    """t of the rule above from sorted neighbour distances (n, >= 2k + 1), column 0 the image itself."""
    if distances.shape[1] < 2 * k + 1:
        return NEAR_DUPLICATE_MAX_RATIO * 0.5  # too few images to estimate the dimension: be strict
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = np.log(distances[:, 2 * k] / distances[:, k])
    growth = growth[np.isfinite(growth)]
    if not len(growth) or np.median(growth) <= 0:
        return 0.0
    dimension = np.log(2.0) / np.median(growth)
    return float(min(NEAR_DUPLICATE_MAX_RATIO, (NEAR_DUPLICATE_ALPHA / max(k - 1, 1)) ** (1.0 / dimension)))


def cross_duplicates(X_new: np.ndarray, X_train: np.ndarray) -> np.ndarray:
    """(m, 2) pairs (new index, training index) of new images that near-duplicate a training image
    (the same rule, applied to both sets together): a test set holding them measures memory, not
    generalisation."""
    if not len(X_new) or not len(X_train):
        return np.empty((0, 2), dtype=np.intp)
    pairs = near_duplicate_pairs(np.vstack([X_train, X_new]))
    n = len(X_train)
    across = pairs[(pairs[:, 0] < n) & (pairs[:, 1] >= n)]
    return np.column_stack([across[:, 1] - n, across[:, 0]])


def conflicting_pairs(pairs: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The near-duplicate pairs whose tags differ: one of the two is probably mislabelled."""
    if not len(pairs):
        return pairs
    differ = (Y[pairs[:, 0]] != Y[pairs[:, 1]]) if Y.ndim == 1 else (Y[pairs[:, 0]] != Y[pairs[:, 1]]).any(axis=1)
    return pairs[differ]


@dataclass(frozen=True)
class Duplicates:
    """What near-duplicate detection finds before training, as index pairs.

    `pairs`: near-duplicates among the training images (they stay in one fold); `conflicts`: those of
    them whose tags differ (one is probably mislabelled); `leaks`: (test index, training index) of test
    images that near-duplicate a training image (they flatter the held-out figures).
    """

    pairs: np.ndarray
    conflicts: np.ndarray
    leaks: np.ndarray


def find_duplicates(X: np.ndarray, Y: np.ndarray, X_test: np.ndarray | None = None) -> Duplicates:
    """Near-duplicates, label conflicts and test-set leakage of L2-normalised embeddings X (tags Y) and
    test embeddings X_test: found once, before training, so that they can be said before the figures
    they distort are computed (and `train_model` reuses `pairs`)."""
    pairs = near_duplicate_pairs(X)
    leaks = cross_duplicates(X_test, X) if X_test is not None else np.empty((0, 2), dtype=np.intp)
    return Duplicates(pairs=pairs, conflicts=conflicting_pairs(pairs, Y), leaks=leaks)


def find_groups(
    X: np.ndarray | None, declared: Sequence[object] | None = None, *, pairs: np.ndarray | None = None
) -> Groups:
    """Groups for cross-validation: connected near-duplicates of X (None: no detection) joined with
    the declared groups (equal values belong together; None means no declared group). `pairs`: the
    near-duplicate pairs of X when the caller found them already (`find_duplicates`)."""
    n = len(X) if X is not None else len(declared or [])
    if pairs is None:
        pairs = near_duplicate_pairs(X) if X is not None else np.empty((0, 2), dtype=np.intp)
    near = np.zeros(n, dtype=bool)
    near[pairs.ravel()] = True
    edges = [pairs]
    n_declared = 0
    if declared is not None:
        if len(declared) != n:
            raise ValueError(f"groups has {len(declared)} entries for {n} images")
        ids: dict[object, int] = {}
        member = np.array([-1 if g is None else ids.setdefault(g, len(ids)) for g in declared], dtype=np.intp)
        sizes = np.bincount(member[member >= 0], minlength=len(ids))
        n_declared = int(sum(sizes[member[i]] > 1 for i in range(n) if member[i] >= 0))
        # link every image of a declared group to its group's first image
        first = np.full(len(ids), -1, dtype=np.intp)
        for i, g in enumerate(member):
            if g >= 0 and first[g] < 0:
                first[g] = i
        linked = np.flatnonzero(member >= 0)
        edges.append(np.column_stack([linked, first[member[linked]]]))
    edges_all = np.concatenate(edges) if edges else np.empty((0, 2), dtype=np.intp)
    graph = coo_matrix((np.ones(len(edges_all)), (edges_all[:, 0], edges_all[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return Groups(
        labels=labels.astype(np.intp),
        n_near_duplicate_images=int(near.sum()),
        n_declared_images=n_declared,
        near_duplicate_pairs=pairs,
    )


@dataclass
class CrossValidation:
    folds: np.ndarray  # (n,) fold index of each image
    c_values: list[float]  # C values tried (the walk stops once the loss stops improving)
    log_losses: list[float]  # calibrated out-of-fold log-loss of each
    chosen_c: float
    logits: np.ndarray  # (n, k) out-of-fold logits at the chosen C
    coef_mean: np.ndarray  # fold heads' average at the chosen C: a warm start for the final fit
    intercept_mean: np.ndarray


def assign_folds(Y: np.ndarray, *, multilabel: bool, random_state: int, groups: np.ndarray | None = None) -> np.ndarray:
    """Stratified fold index per image, keeping each group in one fold.

    k = min(5, the fewest groups any tag has), at least 2. Multilabel images are stratified on their
    rarest tag (images with no tag form their own stratum), which keeps every tag spread over the
    folds without an extra dependency. Without groups (or with one image per group) this is plain
    StratifiedKFold. Call `split_single_group_tags` first: a Multiclass tag in one group cannot be
    both trained and tested on.
    """
    strata = _strata(Y, multilabel=multilabel)
    if groups is None or len(np.unique(groups)) == len(Y):
        return _split(StratifiedKFold, Y, strata, None, random_state, multilabel=multilabel)
    groups = np.asarray(groups)
    smallest = min(_groups_per_tag(Y, groups, multilabel=multilabel).values(), default=len(Y))
    return _split(StratifiedGroupKFold, Y, strata, groups, random_state, multilabel=multilabel, smallest=smallest)


def _groups_per_tag(Y: np.ndarray, groups: np.ndarray, *, multilabel: bool) -> dict[int, int]:
    indicator = Y.astype(bool) if multilabel else np.eye(Y.max() + 1, dtype=bool)[Y]
    return {j: len(np.unique(groups[indicator[:, j]])) for j in range(indicator.shape[1]) if indicator[:, j].any()}


def split_single_group_tags(Y: np.ndarray, groups: Groups, *, multilabel: bool) -> tuple[Groups, list[int]]:
    """Groups where no tag has all its images in one group: such a tag's images become groups of
    their own (its estimate is then optimistic, and the caller warns). Returns the tag indices split.
    Multilabel heads train without a tag's positives, so there a single-group tag stays as it is."""
    if multilabel:
        return groups, []
    per_tag = _groups_per_tag(Y, groups.labels, multilabel=multilabel)
    single = [j for j, count in per_tag.items() if count < 2 and np.sum(j == Y) > 1]
    if not single:
        return groups, []
    affected = np.isin(Y, single)
    labels = groups.labels.copy()
    labels[affected] = labels.max() + 1 + np.arange(affected.sum())
    _, labels = np.unique(labels, return_inverse=True)
    return Groups(labels, groups.n_near_duplicate_images, groups.n_declared_images, groups.near_duplicate_pairs), single


def _strata(Y: np.ndarray, *, multilabel: bool) -> np.ndarray:
    if not multilabel:
        return Y
    counts = Y.sum(axis=0)
    rarity = np.where(Y > 0, counts, np.inf)
    return np.where(Y.any(axis=1), rarity.argmin(axis=1), -1)


def _split(splitter_cls, Y, strata, groups, random_state: int, *, multilabel: bool, smallest: int | None = None):
    if smallest is None:
        smallest = Y.sum(axis=0)[Y.sum(axis=0) > 0].min(initial=len(Y)) if multilabel else np.bincount(Y).min()
    n_folds = int(max(2, min(MAX_FOLDS, smallest)))
    folds = np.empty(len(Y), dtype=np.intp)
    # A training fold must hold every Multiclass tag; StratifiedGroupKFold balances greedily and
    # almost always does, another shuffle settles the rare exception.
    for attempt in range(20):
        splitter = splitter_cls(n_splits=n_folds, shuffle=True, random_state=random_state + attempt)
        with warnings.catch_warnings():  # strata smaller than n_folds are expected for co-occurring tags
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            for fold, (_, test) in enumerate(splitter.split(np.zeros(len(Y)), strata, groups)):
                folds[test] = fold
        if multilabel or all(len(np.unique(Y[folds != f])) == Y.max() + 1 for f in range(n_folds)):
            return folds
    raise TrainingError("could not form cross-validation folds that train on every tag; add images from more groups")


class _FoldFit:
    """One fold's head, walked along the C grid, writing its out-of-fold logits in place.

    ``data`` and ``X_train`` hold the images followed by ``n_views`` blocks of their augmented views
    (same order): a fold trains on the views of its training images only, and is scored on ``X_eval``.
    """

    def __init__(self, template: LinearHead, data: ProjectedEmbeddings, X_train: np.ndarray, Y: np.ndarray,
                 test: np.ndarray, X_eval: np.ndarray, n_views: int = 0):  # fmt: skip
        self.head = clone(template).set_params(tol=max(template.tol, CV_TOLERANCE))
        rows = training_rows(np.flatnonzero(~test), len(Y), n_views)
        _, self.targets, self.weights = self.head._validate_training_data(X_train[rows], Y[rows % len(Y)])
        self.train_data = data.take(rows)
        self.test = test
        self.X_test = X_eval[test]

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
    n_views: int = 0,
    X_eval: np.ndarray | None = None,
) -> CrossValidation:
    """Fit one head per fold for each C (strong to weak), recording out-of-fold logits.

    With ``n_views``, ``X`` and ``data`` hold the n images then n_views blocks of n augmented views
    (training rows only); ``X_eval`` (n, d), default the images, is what held-out images are scored on.

    The walk stops at the first C that does not lower the loss by MIN_LOG_LOSS_GAIN: the loss is close
    to unimodal in C, and the weakly regularised end is the expensive one (and overfits first).
    Folds are fitted in parallel threads, one BLAS thread each (the fits are small; see `solver`).
    """
    X_eval = X[: len(Y)] if X_eval is None else X_eval
    fits = [_FoldFit(template, data, X, Y, folds == fold, X_eval, n_views) for fold in np.unique(folds)]
    total = len(c_grid) * len(fits)
    tried, losses, best = [], [], None
    logits = np.zeros((len(Y), len(fits[0].head.classes_)))
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
    assert best is not None  # the first C tried is always kept
    best.c_values, best.log_losses = tried, losses
    return best


def training_rows(images: np.ndarray, n: int, n_views: int) -> np.ndarray:
    """Rows of stacked (image, then view blocks) training data that belong to ``images``."""
    return np.concatenate([images + block * n for block in range(n_views + 1)])


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
