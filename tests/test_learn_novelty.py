"""sightline.learn.novelty: the conformal-style unknown score."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import gennorm

from sightline.learn import NoveltyScorer
from sightline.learn.novelty import (
    SHAPE_MIN_REFERENCE,
    generalised_normal_fit,
    normal_score,
    normalising_power,
    shared_shape_fit,
)


def unit(X: np.ndarray) -> np.ndarray:
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def clusters() -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out images from the same three clusters of a 64-d embedding space."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 64))
    labels = rng.integers(0, 3, 900)
    X = unit(centres[labels] + 0.8 * rng.normal(size=(900, 64)))
    return X[:600], X[600:]


def test_in_distribution_images_are_flagged_at_the_rate_the_threshold_says(clusters):
    """The score's tail is fitted, so 0.99 flags about 1% of new in-domain images, even with 50 training
    images (where a conformal rank over the references could not exceed 50/51 < 0.99)."""
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(5, 64))
    flagged = []
    for _ in range(20):
        labels = np.repeat(np.arange(5), 10)
        train = unit(centres[labels] + 0.8 * rng.normal(size=(50, 64)))
        held_out = unit(centres[rng.integers(0, 5, 500)] + 0.8 * rng.normal(size=(500, 64)))
        scorer = NoveltyScorer().fit(train, np.eye(5)[labels])
        flagged.append((scorer.score(held_out) >= 0.99).mean())
        assert (scorer.score(unit(rng.normal(size=(20, 64)))) >= 0.99).all()  # unrelated directions
    assert 0.002 < np.mean(flagged) < 0.03


def test_tag_means_are_left_one_out_for_the_reference():
    rng = np.random.default_rng(0)
    X = unit(rng.normal(size=(30, 8)))
    y = rng.integers(0, 3, 30)
    scorer = NoveltyScorer().fit(X, np.eye(3)[y])
    distances = scorer._mean_distance(scorer.embeddings_, leave_out=np.eye(3)[y])
    for i in range(5):
        means = [scorer.embeddings_[(y == g) & (np.arange(30) != i)].astype(float).mean(axis=0) for g in range(3)]
        best = max(scorer.embeddings_[i] @ m / np.linalg.norm(m) for m in means)
        assert distances[i] == pytest.approx(1 - best, abs=1e-5)


def test_in_distribution_images_score_around_one_half(clusters):
    train, held_out = clusters
    scores = NoveltyScorer(k=5).fit(train).score(held_out)
    assert scores.min() >= 0.0 and scores.max() <= 1.0
    assert 0.35 < scores.mean() < 0.65  # conformal: roughly uniform for exchangeable images


def test_unrelated_images_score_near_one(clusters):
    train, held_out = clusters
    rng = np.random.default_rng(1)
    unrelated = unit(rng.normal(size=(20, 64)))  # random directions, far from every cluster
    scorer = NoveltyScorer(k=5).fit(train)
    assert scorer.score(unrelated).min() > 0.95
    assert scorer.score(unrelated).mean() > scorer.score(held_out).mean() + 0.3


def test_small_training_sets_use_fewer_neighbours():
    train = unit(np.eye(3, 8) + 0.01)
    scores = NoveltyScorer(k=5).fit(train).score(unit(-np.ones((1, 8))))
    assert scores[0] > 0.999


def test_blocks_give_the_same_scores_as_one_block(clusters, monkeypatch):
    train, held_out = clusters
    whole = NoveltyScorer().fit(train)
    monkeypatch.setattr("sightline.learn.novelty._BLOCK_ELEMENTS", 7 * len(train))
    blocked = NoveltyScorer().fit(train)
    np.testing.assert_allclose(blocked.reference_distances_, whole.reference_distances_, atol=1e-6)
    np.testing.assert_allclose(blocked.score(held_out), whole.score(held_out), atol=2 / len(train))


def test_a_sampled_reference_set_gives_similar_scores(clusters):
    train, held_out = clusters
    full = NoveltyScorer().fit(train).score(held_out)
    sampled = NoveltyScorer(max_reference=200).fit(train)
    assert len(sampled.reference_distances_) == 200
    assert np.abs(sampled.score(held_out) - full).mean() < 0.05


def test_the_log_is_kept_unless_the_distances_reject_it():
    """The power is fitted only when the log is outside its 95% interval: a noisy power from 50 images
    would move the fitted tail more than it corrects it."""
    rng = np.random.default_rng(0)
    assert normalising_power(np.exp(rng.normal(-1.0, 0.3, 50))) == 0.0  # log-normal: the log fits
    assert normalising_power(rng.normal(0.5, 0.05, 2000)) == pytest.approx(1.0, abs=0.3)  # normal: power 1
    assert normalising_power(np.full(10, 0.3)) == 0.0  # nothing to fit


def test_duplicate_training_images_keep_scores_finite_and_in_domain_images_unflagged(clusters):
    train, held_out = clusters
    train = np.r_[train, train[:20]]  # duplicates sit at distance 0 from their copy
    scorer = NoveltyScorer(k=1).fit(train, np.eye(2)[np.arange(len(train)) % 2])
    scores = scorer.score(held_out)
    assert np.isfinite(scores).all() and np.all(np.abs(scorer.powers_) <= 2.0)
    assert (scores >= 0.99).mean() < 0.05


def light_tailed_clusters(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Images of five clusters with bounded (uniform) noise; returns (embeddings, cluster of each)."""
    centres = np.random.default_rng(2).normal(size=(5, 64))
    labels = np.arange(n) % 5
    return unit(centres[labels] + 0.8 * rng.uniform(-1.7, 1.7, size=(n, 64))), labels


def test_light_tailed_references_get_a_fitted_shape_and_the_nominal_flag_rate():
    """With enough reference images the tails' shape is fitted: these distances are lighter-tailed than a
    normal (shape above 2), whose tail put the 0.99 cut too far out and flagged about half the nominal 1%."""
    rng = np.random.default_rng(0)
    n = max(400, SHAPE_MIN_REFERENCE)
    fitted, normal, shapes = [], [], []
    for _ in range(8):
        train, labels = light_tailed_clusters(rng, n)
        held_out, _ = light_tailed_clusters(rng, 2000)
        scorer = NoveltyScorer().fit(train, np.eye(5)[labels])
        shapes.append(scorer.shapes_)
        fitted.append((scorer.score(held_out) >= 0.99).mean())
        normal_tails = NoveltyScorer(shape_min_reference=n + 1).fit(train, np.eye(5)[labels])
        normal.append((normal_tails.score(held_out) >= 0.99).mean())
    assert np.mean(shapes, axis=0)[0] > 2.4
    assert 0.006 < np.mean(fitted) < 0.018
    assert np.mean(normal) < np.mean(fitted)


def test_small_reference_sets_share_one_shape_held_toward_the_normal():
    """Below SHAPE_MIN_REFERENCE images both evidences share one shape, between the normal's 2 and what
    the distances alone would say; an infinite prior keeps the normal tails exactly."""
    rng = np.random.default_rng(1)
    train, labels = light_tailed_clusters(rng, 50)
    scorer = NoveltyScorer().fit(train, np.eye(5)[labels])
    assert scorer.shapes_[0] == scorer.shapes_[1]
    unheld = NoveltyScorer(shape_prior=0.0).fit(train, np.eye(5)[labels])
    assert abs(scorer.shapes_[0] - 2.0) < abs(unheld.shapes_[0] - 2.0)
    assert (scorer.shapes_[0] - 2.0) * (unheld.shapes_[0] - 2.0) > 0
    normal = NoveltyScorer(shape_prior=np.inf).fit(train, np.eye(5)[labels])
    np.testing.assert_array_equal(normal.shapes_, [2.0, 2.0])
    probe = np.r_[light_tailed_clusters(rng, 50)[0], unit(rng.normal(size=(5, 64)))]
    everywhere = NoveltyScorer(shape_min_reference=10**9, shape_prior=np.inf).fit(train, np.eye(5)[labels])
    np.testing.assert_array_equal(normal.score(probe), everywhere.score(probe))
    assert np.all(scorer.score(probe)[-5:] > 0.99)


def test_the_shared_shape_prior_fades_as_the_samples_grow():
    rng = np.random.default_rng(0)
    small = [gennorm.rvs(4.0, loc=c, scale=s, size=50, random_state=rng) for c, s in ((1.0, 0.5), (-2.0, 0.1))]
    large = [gennorm.rvs(4.0, loc=c, scale=s, size=5000, random_state=rng) for c, s in ((1.0, 0.5), (-2.0, 0.1))]
    shape, stats = shared_shape_fit(large, 30.0)
    assert shape == pytest.approx(4.0, abs=0.4)
    assert stats[0][0] == pytest.approx(1.0, abs=0.02) and stats[1][0] == pytest.approx(-2.0, abs=0.005)
    assert stats[1][1] == pytest.approx(0.1 / np.sqrt(2.0), rel=0.05)  # the scale as a normal's spread
    held, _ = shared_shape_fit(small, 30.0)
    free, _ = shared_shape_fit(small, 0.0)
    assert 2.0 < held < free and shared_shape_fit(small, 1e9)[0] == pytest.approx(2.0, abs=1e-3)
    constant, stats = shared_shape_fit([np.ones(10)], 30.0)
    assert constant == 2.0 and np.all(np.isfinite(stats[0]))


def test_the_generalised_normal_tail_is_the_normal_at_shape_2_and_monotone():
    z = np.linspace(-12, 12, 49)
    np.testing.assert_allclose(normal_score(z, 2.0), z, atol=1e-9)
    light = normal_score(z, 4.0)
    assert np.all(np.diff(light) >= 0) and np.all(np.abs(light) <= 37.0)
    assert np.all(np.diff(light[np.abs(z) <= 5]) > 0)  # strictly monotone until the tail underflows (~1e-300)
    assert normal_score(np.array([0.0]), 5.0)[0] == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    values = gennorm.rvs(4.0, loc=1.0, scale=0.5, size=4000, random_state=rng)  # lighter-tailed than normal
    shape, centre, spread = generalised_normal_fit(values)
    assert shape == pytest.approx(4.0, abs=0.5) and centre == pytest.approx(1.0, abs=0.02)
    z = normal_score((values - centre) / spread, shape)
    assert np.mean(z >= 2.326) == pytest.approx(0.01, abs=0.006)  # its 0.99 cut flags about 1%
