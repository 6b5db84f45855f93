"""Group-aware cross-validation: near-duplicates found in embeddings, declared groups, whole groups per fold."""

from __future__ import annotations

import numpy as np
import pytest

from sightline.errors import InvalidLabelsError
from sightline.learn import train_model
from sightline.learn.crossval import assign_folds, cross_duplicates, find_groups, near_duplicate_pairs


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _shots(
    n_items: int, shots: int, dim: int = 64, noise: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """`shots` noisy copies of each of `n_items` random items: what several photos of one thing give."""
    rng = np.random.default_rng(seed)
    items = rng.normal(size=(n_items, dim))
    X = np.repeat(items, shots, axis=0) + noise * rng.normal(size=(n_items * shots, dim))
    return _unit(X), np.repeat(np.arange(n_items), shots)


def test_shots_of_one_item_form_one_group_each():
    X, item = _shots(60, 3)
    groups = find_groups(X)
    assert groups.n_groups == 60
    assert all(len(np.unique(groups.labels[item == i])) == 1 for i in range(60))
    assert groups.n_grouped_images == groups.n_near_duplicate_images == 180


@pytest.mark.parametrize("dim", [2, 8, 64])
def test_a_homogeneous_set_is_not_lumped(dim):
    """Images that all look alike (one tight cloud) are independent: no group forms, whatever the
    intrinsic dimension of the features."""
    rng = np.random.default_rng(1)
    centre = _unit(rng.normal(size=(1, 256)))
    noise = np.pad(rng.normal(size=(200, dim)), ((0, 0), (0, 256 - dim)))
    # scaled so that nearest neighbours sit 0.15 apart (cosine 0.99), as the homogeneous surfaces measured
    nearest = np.sort(np.linalg.norm(noise[:, None] - noise[None], axis=2), axis=1)[:, 1]
    X = _unit(centre + noise * 0.15 / np.median(nearest))
    groups = find_groups(X)
    assert groups.n_groups >= 190
    assert np.bincount(groups.labels).max() <= 2


def test_identical_images_are_always_near_duplicates():
    X, _ = _shots(30, 1)
    X = np.vstack([X, X[:3]])
    pairs = {tuple(p) for p in near_duplicate_pairs(X)}
    assert {(0, 30), (1, 31), (2, 32)} <= pairs


def test_declared_groups_join_near_duplicate_groups():
    X, _item = _shots(20, 2)
    declared = [None] * 40
    declared[0] = declared[2] = "box-1"  # images of items 0 and 1 declared to belong together
    groups = find_groups(X, declared)
    assert groups.labels[0] == groups.labels[1] == groups.labels[2] == groups.labels[3]
    assert groups.n_groups == 19
    assert groups.n_declared_images == 2
    alone = find_groups(None, ["a", "a", None, "b"])
    assert alone.n_groups == 3 and alone.n_grouped_images == 2


def test_folds_keep_every_group_whole_and_stay_stratified():
    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(40), 3)
    Y = np.repeat(np.arange(40) % 4, 3)
    folds = assign_folds(Y, multilabel=False, random_state=0, groups=groups)
    assert all(len(np.unique(folds[groups == g])) == 1 for g in range(40))
    assert len(np.unique(folds)) == 5
    for f in range(5):
        assert set(Y[folds != f]) == {0, 1, 2, 3}
    Ym = (rng.random((120, 3)) < 0.4).astype(int)
    folds = assign_folds(Ym, multilabel=True, random_state=0, groups=groups)
    assert all(len(np.unique(folds[groups == g])) == 1 for g in range(40))


SIGNAL = 0.2  # how strongly an item's features say its tag: a hard task, so that leakage shows


def _labelled_shots(seed: int = 0):
    """4 tags, 10 items per tag, 3 shots per item; item features only weakly tied to the tag."""
    rng = np.random.default_rng(seed)
    tags = np.repeat(np.arange(4), 10)
    centres = rng.normal(size=(4, 64))
    items = centres[tags] * SIGNAL + rng.normal(size=(40, 64))
    X = _unit(np.repeat(items, 3, axis=0) + 0.2 * rng.normal(size=(120, 64)))
    return X, np.repeat(tags, 3), np.repeat(np.arange(40), 3)


def test_training_reports_groups_and_an_estimate_that_holds_on_other_items():
    X, y, _item = _labelled_shots()
    grouped = train_model(X, y, ["a", "b", "c", "d"], multilabel=False)
    plain = train_model(X, y, ["a", "b", "c", "d"], multilabel=False, detect_near_duplicates=False)
    report = grouped.report
    assert report.n_groups == 40 and report.n_grouped_images == 120 and report.n_near_duplicate_images == 120
    assert plain.report.n_groups == 120 and plain.report.n_grouped_images == 0
    # the plain folds grade the model on shots of items it learned: far more optimistic
    rng = np.random.default_rng(5)
    centres = np.random.default_rng(0).normal(size=(4, 64))  # the same tags, other items
    new_items = centres[np.repeat(np.arange(4), 50)] * SIGNAL + rng.normal(size=(200, 64))
    held_out = np.mean(grouped.predict_proba(_unit(new_items)).argmax(1) == np.repeat(np.arange(4), 50))
    assert plain.report.accuracy - held_out > 0.2
    assert abs(report.accuracy - held_out) < 0.1
    # its spread is that of 40 independent items, not 120 images
    assert report.accuracy_std > plain.report.accuracy_std


def test_declared_groups_through_train_model_and_their_errors():
    X, y, item = _labelled_shots()
    model = train_model(
        X, y, list("abcd"), multilabel=False, groups=[f"item{i}" for i in item], detect_near_duplicates=False
    )
    assert model.report.n_groups == 40 and model.report.n_declared_group_images == 120
    with pytest.raises(InvalidLabelsError, match="one group per image"):
        train_model(X, y, list("abcd"), multilabel=False, groups=["x"] * 3)


def test_a_tag_in_a_single_group_is_warned_about_not_refused():
    X, y, _ = _labelled_shots()
    groups = [("one" if label == 0 else None) for label in y]
    model = train_model(X, y, list("abcd"), multilabel=False, groups=groups, detect_near_duplicates=False)
    assert any("'a'" in w and "optimistic" in w for w in model.warnings)


def test_near_duplicates_with_different_tags_are_reported_as_likely_label_errors():
    X, y, _item = _labelled_shots()
    y = y.copy()
    y[1] = (y[1] + 1) % 4  # one shot of item 0 tagged differently from its two siblings
    model = train_model(X, y, list("abcd"), multilabel=False)
    pairs = {tuple(p) for p in model.report.conflicting_pairs}
    assert pairs and all(1 in p for p in pairs) and pairs <= {(0, 1), (1, 2)}
    assert any("near-duplicate images carry different tags" in w for w in model.warnings)


def test_test_images_that_near_duplicate_training_images_are_found():
    X, _ = _shots(40, 2)
    train, new = X[::2], X[1::2]  # every new image is a second shot of a training item
    others, _ = _shots(20, 1, seed=9)
    leaks = cross_duplicates(np.vstack([new[:5], others]), train)
    assert sorted(map(tuple, leaks)) == [(i, i) for i in range(5)]


def test_find_duplicates_says_conflicts_and_leaks_once_and_training_reuses_its_pairs(monkeypatch):
    from sightline.learn import crossval

    X, y, _item = _labelled_shots()
    y = y.copy()
    y[1] = (y[1] + 1) % 4
    others, _ = _shots(20, 1, seed=9)
    X_test = np.vstack([X[:1] + 0.001, others])  # a near-copy of training image 0, then unrelated images
    found = crossval.find_duplicates(X, y, _unit(X_test))
    assert {tuple(p) for p in found.conflicts} <= {(0, 1), (1, 2)} and len(found.conflicts)
    leaks = {tuple(map(int, p)) for p in found.leaks}
    assert (0, 0) in leaks and leaks <= {(0, 0), (0, 1), (0, 2)}  # image 0's item: its three shots
    calls = []
    monkeypatch.setattr(crossval, "near_duplicate_pairs", lambda X: calls.append(len(X)) or found.pairs)
    model = train_model(X, y, list("abcd"), multilabel=False, near_duplicate_pairs=found.pairs)
    assert calls == []  # not searched again
    assert model.report.conflicting_pairs == found.conflicts.tolist()
