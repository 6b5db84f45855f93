"""sightline.learn.calibration and .decisions: scalers, calibration error, thresholds, decide()."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, softmax

from sightline.learn import (
    PlattScaler,
    TemperatureScaler,
    decide,
    expected_calibration_error,
    reliability_bins,
    suggest_thresholds,
)


def sample_classes(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One class per row drawn from each row's probabilities."""
    return (probs.cumsum(axis=1) > rng.random((len(probs), 1))).argmax(axis=1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_temperature_recovers_a_known_temperature(rng):
    logits = 3.0 * rng.normal(size=(20_000, 5))
    y = sample_classes(softmax(logits / 2.5, axis=1), rng)
    scaler = TemperatureScaler().fit(logits, y)
    assert scaler.temperature_ == pytest.approx(2.5, rel=0.05)
    np.testing.assert_allclose(scaler.transform(logits).sum(axis=1), 1.0)


def test_temperature_prior_holds_few_images_near_the_heads_scale_and_yields_to_many(rng):
    """prior_strength pulls log T toward 0 like that many pseudo-observations: 20 images move T
    little, 20,000 images recover the true temperature all the same."""
    logits = 3.0 * rng.normal(size=(20_000, 5))
    y = sample_classes(softmax(logits / 2.5, axis=1), rng)
    few_free = TemperatureScaler().fit(logits[:20], y[:20]).temperature_
    few_held = TemperatureScaler(prior_strength=50.0).fit(logits[:20], y[:20]).temperature_
    assert abs(np.log(few_held)) < abs(np.log(few_free))
    assert TemperatureScaler(prior_strength=50.0).fit(logits, y).temperature_ == pytest.approx(2.5, rel=0.05)


def test_temperature_scaling_fixes_an_over_confident_model(rng):
    true_logits = rng.normal(size=(5_000, 4))
    y = sample_classes(softmax(true_logits, axis=1), rng)
    over_confident = 4.0 * true_logits
    before = expected_calibration_error(y, softmax(over_confident, axis=1), multilabel=False)
    calibrated = TemperatureScaler().fit(over_confident[:2500], y[:2500]).transform(over_confident[2500:])
    after = expected_calibration_error(y[2500:], calibrated, multilabel=False)
    assert before > 0.15
    assert after < 0.04
    assert (calibrated.argmax(axis=1) == over_confident[2500:].argmax(axis=1)).all()  # ranking unchanged


def test_platt_recovers_per_tag_slopes_and_offsets(rng):
    scores = 2.0 * rng.normal(size=(20_000, 3))
    slopes, offsets = np.array([0.5, 1.0, 2.0]), np.array([-1.0, 0.0, 1.0])
    Y = (rng.random(scores.shape) < expit(scores * slopes + offsets)).astype(int)
    scaler = PlattScaler().fit(scores, Y)
    np.testing.assert_allclose(scaler.slope_, slopes, rtol=0.1)
    np.testing.assert_allclose(scaler.offset_, offsets, atol=0.1)


def test_platt_stays_sane_for_a_tag_without_positives(rng):
    scores = rng.normal(size=(50, 2))
    Y = np.column_stack([rng.random(50) < 0.5, np.zeros(50)]).astype(int)
    scaler = PlattScaler().fit(scores, Y)
    assert np.isfinite(scaler.slope_).all() and np.isfinite(scaler.offset_).all()
    assert scaler.transform(scores)[:, 1].max() < 0.2  # never seen: low, but not an infinite logit


def test_platt_keeps_the_ranking_of_a_tag_whose_held_out_scores_mislead(rng):
    # out-of-fold scores that rank a tag backwards: the earlier fit put its slope on 0, every image then
    # got the same probability and the tag's average precision fell to its frequency
    good = rng.normal(size=40)
    Y = np.column_stack([rng.random(40) < expit(2 * good), rng.random(40) < 0.3]).astype(int)
    backwards = np.where(Y[:, 1] > 0, -1.0, 1.0) + rng.normal(size=40)
    scaler = PlattScaler().fit(np.column_stack([3 * good, backwards]), Y)
    assert (scaler.slope_ > 0).all()
    scores = np.linspace(-3, 3, 7)
    probs = scaler.transform(np.column_stack([scores, scores]))
    assert (np.diff(probs, axis=0) > 0).all()  # strictly increasing: no ties for any tag


def test_platt_pools_the_slopes_of_tags_with_few_images(rng):
    true_scores = rng.normal(size=(30, 4))
    Y = (rng.random(true_scores.shape) < expit(true_scores)).astype(int)
    over_confident = 4.0 * true_scores  # the same over-confidence in every tag
    pooled = PlattScaler().fit(over_confident, Y).slope_
    separate = PlattScaler(tag_ridge=0.0).fit(over_confident, Y).slope_
    assert np.ptp(np.log(pooled)) < 0.25 * np.ptp(np.log(separate))


def test_platt_lowers_calibration_error_of_over_confident_tags(rng):
    true_scores = rng.normal(size=(6_000, 4))
    Y = (rng.random(true_scores.shape) < expit(true_scores - 1.0)).astype(int)
    raw = 5.0 * true_scores + 2.0  # over-confident and biased toward the tags
    before = expected_calibration_error(Y[3000:], expit(raw[3000:]), multilabel=True)
    after = expected_calibration_error(
        Y[3000:], PlattScaler().fit(raw[:3000], Y[:3000]).transform(raw[3000:]), multilabel=True
    )
    assert before > 0.1
    assert after < 0.03


def test_expected_calibration_error_by_hand():
    # Multiclass: top-label confidences 0.9 (right), 0.9 (wrong), 0.6 (right), 0.6 (right)
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    y = np.array([0, 1, 0, 1])
    bins = reliability_bins(y, probs, multilabel=False, n_bins=10)
    assert [(b.lower, b.count) for b in bins] == [(pytest.approx(0.6), 2), (pytest.approx(0.9), 2)]
    assert bins[0].accuracy == 1.0 and bins[1].accuracy == 0.5
    # |1.0 - 0.6| * 2/4 + |0.5 - 0.9| * 2/4 = 0.4
    assert expected_calibration_error(y, probs, multilabel=False) == pytest.approx(0.4)


def test_expected_calibration_error_multilabel_counts_every_image_tag_pair():
    probs = np.array([[1.0, 0.0], [1.0, 0.0]])
    Y = np.array([[1, 0], [1, 0]])
    bins = reliability_bins(Y, probs, multilabel=True)
    assert sum(b.count for b in bins) == 4
    assert expected_calibration_error(Y, probs, multilabel=True) == 0.0
    assert expected_calibration_error(1 - Y, probs, multilabel=True) == 1.0


def test_calibrated_probabilities_have_small_error(rng):
    p = rng.random(50_000)
    outcome = (rng.random(50_000) < p).astype(int)
    assert expected_calibration_error(outcome[:, None], p[:, None], multilabel=True) < 0.01


def test_thresholds_best_f1_and_target_precision():
    truth = np.array([0, 0, 0, 1, 0, 1, 1, 1])[:, None]
    probs = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])[:, None]
    # Best F1: threshold 0.4 (recall 1, precision 4/5, F1 0.89) beats 0.6 (recall 3/4, precision 1, F1 0.86)
    assert suggest_thresholds(truth, probs)[0] == pytest.approx(0.4)
    # Lowest threshold with precision >= 0.95 is 0.6
    assert suggest_thresholds(truth, probs, target_precision=0.95)[0] == pytest.approx(0.6)
    # Unreachable precision: tag nothing rather than tag wrongly
    assert suggest_thresholds(np.array([[1], [0]]), np.array([[0.2], [0.9]]), target_precision=0.99)[0] == 1.0
    # No positive example: the default
    assert suggest_thresholds(np.zeros((3, 1)), np.full((3, 1), 0.5), default=0.7)[0] == 0.7


def test_decide_multiclass_close_call_is_uncertain():
    decision = decide(np.array([0.45, 0.42, 0.13]), ["cat", "dog", "fox"], multilabel=False)
    assert decision.uncertain
    assert [t.tag for t in decision.tags] == ["cat", "dog", "fox"]
    assert [t.above_threshold for t in decision.tags] == [False, False, False]


def test_decide_multiclass_clear_winner_is_certain():
    decision = decide(np.array([0.05, 0.9, 0.05]), ["cat", "dog", "fox"], multilabel=False)
    assert not decision.uncertain
    assert decision.tags[0].tag == "dog" and decision.tags[0].above_threshold
    assert decision.tags[0].probability == pytest.approx(0.9)


def test_decide_multiclass_top_below_threshold_is_uncertain():
    assert decide(np.array([0.6, 0.2, 0.2]), ["a", "b", "c"], multilabel=False, threshold=0.7).uncertain


def test_decide_multilabel_several_confident_tags_are_not_uncertain():
    decision = decide(np.array([0.95, 0.9, 0.02]), ["sky", "sea", "cat"], multilabel=True)
    assert not decision.uncertain
    assert [t.tag for t in decision.tags if t.above_threshold] == ["sky", "sea"]


def test_decide_multilabel_tag_near_its_threshold_is_uncertain():
    assert decide(np.array([0.95, 0.55, 0.02]), ["sky", "sea", "cat"], multilabel=True).uncertain
    # per-tag thresholds: 0.55 is far from a 0.2 threshold
    per_tag = np.array([0.5, 0.2, 0.5])
    decision = decide(np.array([0.95, 0.55, 0.02]), ["sky", "sea", "cat"], multilabel=True, threshold=per_tag)
    assert not decision.uncertain and decision.tags[1].above_threshold


def test_evidence_bound_keeps_probabilities_within_what_the_data_supports():
    """Right on all of n held-out predictions: report at most (n + 1) / (n + 2), never 1.0."""
    from sightline.learn.calibration import TemperatureScaler

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 80)
    logits = np.eye(4)[y] * 50.0  # perfectly separated, huge margins
    probs = TemperatureScaler().fit(logits, y).transform(logits)
    assert probs.max() == pytest.approx(1 - 1 / 82, abs=1e-6)
    assert probs.min() > 0.0
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert (probs.argmax(axis=1) == y).all()  # ranking unchanged
