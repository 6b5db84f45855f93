"""sightline.learn.heads: the LinearHead estimator (scikit-learn API, zero-shot prior, solver exactness)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import log_expit, log_softmax
from sklearn.datasets import make_blobs
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from sightline.learn import LinearHead
from sightline.learn.solver import ProjectedEmbeddings


def normalised(X: np.ndarray) -> np.ndarray:
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def blobs(n: int, k: int, dim: int, spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit-norm embeddings around k unit-norm class directions, plus those directions."""
    X, y, centres = make_blobs(
        n_samples=n, centers=k, n_features=dim, cluster_std=spread, center_box=(-1, 1), random_state=seed,
        return_centers=True,
    )  # fmt: skip
    return normalised(X), y, normalised(centres)


@parametrize_with_checks([LinearHead()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "check",
    [
        estimator_checks.check_classifiers_multilabel_representation_invariance,
        estimator_checks.check_classifiers_multilabel_output_format_predict,
        estimator_checks.check_classifiers_multilabel_output_format_predict_proba,
        estimator_checks.check_classifiers_multilabel_output_format_decision_function,
    ],
)
def test_multilabel_mode_follows_scikit_learn_output_conventions(check):
    # The full suite feeds 1-D targets, which a multilabel head rejects on purpose; these are the
    # checks that define what a multilabel classifier must return.
    check("LinearHead", LinearHead(multilabel=True))


def test_learns_separable_blobs():
    X, y, _ = blobs(600, 5, 32, spread=0.3)
    head = LinearHead(C=10.0).fit(X[:400], y[:400])
    assert head.score(X[400:], y[400:]) > 0.9
    assert head.predict_proba(X[400:]).shape == (200, 5)
    np.testing.assert_allclose(head.predict_proba(X[400:]).sum(axis=1), 1.0)


def test_multilabel_learns_tags_and_accepts_rows_without_tags():
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(4, 32))
    Y = (rng.random((600, 4)) < 0.3).astype(int)
    Y[:50] = 0  # "negative" images: none of the tags
    X = normalised(rng.normal(size=32) + Y @ directions + 0.3 * rng.normal(size=(600, 32)))
    head = LinearHead(multilabel=True, C=10.0).fit(X[:400], Y[:400])
    assert head.classes_.tolist() == [0, 1, 2, 3]
    assert head.decision_function(X).shape == head.predict_proba(X).shape == (600, 4)
    assert (head.predict(X[400:]) == Y[400:]).mean() > 0.9


def test_binary_decision_function_is_one_dimensional_like_scikit_learn():
    X, y, _ = blobs(100, 2, 8, spread=0.5)
    head = LinearHead().fit(X, y)
    logits = head.logits(X)
    assert head.decision_function(X).shape == (100,)
    np.testing.assert_allclose(head.decision_function(X), logits[:, 1] - logits[:, 0])


def test_prior_helps_with_one_or_two_images_per_class():
    X, y, centres = blobs(3000, 8, 64, spread=0.9, seed=1)
    rng = np.random.default_rng(0)
    few = np.concatenate([rng.choice(np.flatnonzero(y == c), 2, replace=False) for c in range(8)])
    test = np.setdiff1d(np.arange(len(y)), few)
    prior = 20.0 * centres  # a good zero-shot classifier: logits = 20 * cosine to the class direction
    with_prior = LinearHead(C=1.0, prior_weights=prior).fit(X[few], y[few])
    without = LinearHead(C=1.0).fit(X[few], y[few])
    assert with_prior.score(X[test], y[test]) > without.score(X[test], y[test]) + 0.05


def test_prior_effect_vanishes_with_many_images():
    X, y, centres = blobs(20_000, 3, 16, spread=2.0, seed=2)  # overlapping classes: a finite optimum
    prior = 20.0 * centres[::-1]  # deliberately wrong prior
    gaps = []
    for n in (30, 20_000):
        plain = _identifiable(LinearHead(C=1.0).fit(X[:n], y[:n]).coef_)
        pulled = _identifiable(LinearHead(C=1.0, prior_weights=prior).fit(X[:n], y[:n]).coef_)
        gaps.append(np.linalg.norm(pulled - plain) / np.linalg.norm(plain))
    assert gaps[0] > 1.0  # few images: the head stays near its prior
    assert gaps[1] < 0.05  # many images: the data decides


def _identifiable(coef: np.ndarray) -> np.ndarray:
    """Softmax ignores a vector added to every row; only the ridge sets that part, so leave it out."""
    return coef - coef.mean(axis=0)


def test_warm_start_reaches_the_same_solution():
    X, y, _ = blobs(300, 3, 16, spread=0.5)
    cold = LinearHead(C=10.0).fit(X, y)
    warm_from = LinearHead(C=0.1).fit(X, y)
    data, targets, weights = _projected(warm_from.set_params(C=10.0), X, y)
    warm = warm_from._fit_projected(
        data, targets, weights, coef_init=warm_from.coef_, intercept_init=warm_from.intercept_
    )
    np.testing.assert_allclose(warm.predict_proba(X), cold.predict_proba(X), atol=1e-3)


def test_prior_of_the_wrong_shape_is_rejected():
    X, y, _ = blobs(60, 3, 8, spread=0.5)
    with pytest.raises(ValueError, match="prior_weights has shape"):
        LinearHead(prior_weights=np.zeros((2, 8))).fit(X, y)


@pytest.mark.parametrize("multilabel", [False, True])
@pytest.mark.parametrize("n", [12, 80])  # fewer images than dimensions, and more
def test_preconditioned_solver_matches_the_plain_objective(multilabel, n):
    """The eigenbasis reparametrisation must not change the optimum: compare with plain L-BFGS."""
    rng = np.random.default_rng(n)
    dim, k, C = 24, 3, 3.0
    X = normalised(rng.normal(size=(n, dim)) + 2.0)  # a shared mean direction, as real embeddings have
    y = np.arange(n) % k
    Y = np.eye(k, dtype=int)[y] if multilabel else y
    prior = rng.normal(size=(k, dim))
    head = LinearHead(multilabel=multilabel, C=C, prior_weights=prior, class_weight=None, tol=1e-10, max_iter=5000)
    head.fit(X, Y)
    targets = np.eye(k)[y]

    def objective(theta):
        W, b = theta[: k * dim].reshape(k, dim), theta[k * dim :]
        Z = X.astype(np.float64) @ W.T + b
        data = (
            -np.sum(targets * log_softmax(Z, axis=1))
            if not multilabel
            else -np.sum(targets * log_expit(Z) + (1 - targets) * log_expit(-Z))
        )
        # with a prior, the bias is pulled toward the prior's bias (0 here) with the same strength
        return data + (np.sum((W - prior) ** 2) + np.sum(b**2)) / (2 * C)

    plain = minimize(objective, np.zeros(k * dim + k), method="L-BFGS-B", options={"maxiter": 20_000, "ftol": 1e-14})
    W, b = plain.x[: k * dim].reshape(k, dim), plain.x[k * dim :]
    ours = head.logits(X)
    reference = X @ W.T + b
    if not multilabel:  # softmax logits are defined up to a constant per image
        ours, reference = ours - ours.mean(axis=1, keepdims=True), reference - reference.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(ours, reference, atol=2e-3)
    assert objective(np.concatenate([head.coef_.ravel(), head.intercept_])) <= plain.fun + 1e-4


def _projected(head: LinearHead, X, y):
    _, targets, weights = head._validate_training_data(X, y)
    return ProjectedEmbeddings.from_embeddings(X), targets, weights


@pytest.mark.parametrize("multilabel", [False, True])
def test_a_strong_prior_with_few_images_is_the_zero_shot_classifier(multilabel):
    """Bias included: a free bias fitted on a few images made few-shot heads worse than their prior."""
    X, y, _ = blobs(40, 3, 16, spread=0.8)
    rng = np.random.default_rng(1)
    prior = rng.normal(size=(3, 16)) * 5
    prior_bias = np.array([0.5, -1.0, 0.25])
    few = np.concatenate([np.flatnonzero(y == c)[:1] for c in range(3)])
    Y = np.eye(3, dtype=int)[y[few]] if multilabel else y[few]
    head = LinearHead(multilabel=multilabel, C=1e-4, prior_weights=prior, prior_bias=prior_bias).fit(X[few], Y)
    np.testing.assert_allclose(head.logits(X), X @ prior.T + prior_bias, atol=1e-2)
