"""Confident learning ranks flipped labels first, from out-of-fold probabilities."""

from __future__ import annotations

import numpy as np

from sightline.learn import train_model
from sightline.learn.label_errors import rank_label_issues


def test_flipped_labels_rank_first_and_are_flagged():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 32)) * 1.5
    y = np.repeat(np.arange(4), 40)
    X = centres[y] + rng.normal(size=(160, 32))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    flipped = rng.choice(160, 16, replace=False)
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + 1 + rng.integers(0, 3, 16)) % 4
    model = train_model(X, noisy, list("abcd"), multilabel=False, detect_near_duplicates=False)
    probs = np.array([image.probabilities for image in model.report.images])
    ranking = rank_label_issues(probs, noisy)
    assert sorted(r.index for r in ranking) == list(range(160))  # every image, once
    top = {r.index for r in ranking[:16]}
    assert len(top & set(flipped)) >= 12
    flagged = [r for r in ranking if r.flagged]
    assert 8 <= len(flagged) <= 32
    # the suggestion is the true tag for most flips found
    found = [r for r in ranking[:16] if r.index in set(flipped)]
    assert np.mean([r.suggested == y[r.index] for r in found]) > 0.8
    # the report carries the flagged ones, by tag name
    issues = model.report.label_issues
    assert issues and {i["index"] for i in issues} == {r.index for r in flagged}
    assert issues[0]["given"] == "abcd"[noisy[issues[0]["index"]]]


def test_clean_labels_flag_little():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]])
    ranking = rank_label_issues(probs, np.array([0, 0, 1, 1]))
    assert not any(r.flagged for r in ranking)
    assert ranking[0].self_confidence == 0.8
