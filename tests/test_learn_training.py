"""sightline.learn.training: train_model's rules, procedure, report and saving without pickle."""

from __future__ import annotations

import dataclasses
import io
import json
import time

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from sightline.errors import InvalidLabelsError, ModelFileError, NotEnoughImagesError, TrainingError
from sightline.learn import EvaluationReport, NoveltyScorer, TrainedModel, train_model
from sightline.learn.crossval import assign_folds


def unit(X: np.ndarray) -> np.ndarray:
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def multiclass_data(counts: list[int], dim: int = 32, spread: float = 0.6, seed: int = 0):
    X, y = make_blobs(n_samples=counts, n_features=dim, cluster_std=spread, center_box=(-1, 1), random_state=seed)
    return unit(X), y


def multilabel_data(n: int, k: int, dim: int = 32, seed: int = 0, negatives: int = 30):
    """Images carry each tag with probability 0.3; the first `negatives` images carry none."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(k, dim))
    Y = (rng.random((n, k)) < 0.3).astype(int)
    Y[:negatives] = 0
    X = unit(rng.normal(size=dim) + Y @ directions + 0.5 * rng.normal(size=(n, dim)))
    return X, Y


@pytest.fixture(scope="module")
def multiclass_model() -> tuple[TrainedModel, np.ndarray, np.ndarray]:
    X, y = multiclass_data([40, 40, 40, 40])
    return train_model(X, y, ["cat", "dog", "fox", "owl"], multilabel=False), X, y


@pytest.fixture(scope="module")
def multilabel_model() -> tuple[TrainedModel, np.ndarray, np.ndarray]:
    X, Y = multilabel_data(240, 3)
    model = train_model(X, Y, ["sky", "sea", "sand"], multilabel=True, negative_class="Negative")
    return model, X, Y


# --- rules ------------------------------------------------------------------------------------------


def test_not_enough_images_lists_every_short_tag():
    X, y = multiclass_data([20, 3, 4, 20])
    with pytest.raises(NotEnoughImagesError) as raised:
        train_model(X, y, ["a", "b", "c", "d"], multilabel=False)
    assert raised.value.short_tags == {"b": 3, "c": 4}
    assert "'b' (3)" in str(raised.value) and "'c' (4)" in str(raised.value)


def test_a_multilabel_negative_tag_needs_its_images_too():
    X, Y = multilabel_data(120, 2, negatives=2)
    Y[2:] = np.maximum(Y[2:], np.eye(2, dtype=int)[np.arange(118) % 2])  # only 2 images with no tag
    with pytest.raises(NotEnoughImagesError) as raised:
        train_model(X, Y, ["a", "b"], multilabel=True, negative_class="Negative")
    assert raised.value.short_tags == {"Negative": 2}


def test_warnings_for_few_images_and_imbalance():
    X, y = multiclass_data([60, 60, 8])
    model = train_model(X, y, ["a", "b", "c"], multilabel=False)
    assert any("fewer than 15" in w and "'c' (8)" in w for w in model.warnings)
    assert any("imbalanced" in w for w in model.warnings)
    balanced = train_model(*multiclass_data([20, 20, 20]), ["a", "b", "c"], multilabel=False)
    assert balanced.warnings == []


def test_multiclass_needs_two_tags_and_one_label_per_image():
    X, y = multiclass_data([10, 10])
    with pytest.raises(TrainingError, match="at least 2 tags"):
        train_model(X[:10], np.zeros(10, dtype=int), ["only"], multilabel=False)
    with pytest.raises(InvalidLabelsError, match="exactly one tag per image"):
        train_model(X, np.eye(2, dtype=int)[y], ["a", "b"], multilabel=False)
    with pytest.raises(InvalidLabelsError, match="tag indices"):
        train_model(X, y + 5, ["a", "b"], multilabel=False)
    with pytest.raises(InvalidLabelsError, match="not one of the tags"):
        train_model(X, y, ["a", "b"], multilabel=False, negative_class="Negative")


def test_multilabel_labels_must_match_the_tags():
    X, Y = multilabel_data(60, 2)
    with pytest.raises(InvalidLabelsError, match="0/1 matrix"):
        train_model(X, Y, ["a", "b", "c"], multilabel=True)
    with pytest.raises(InvalidLabelsError, match="not a column"):
        train_model(X, Y, ["a", "b"], multilabel=True, negative_class="a")
    with pytest.raises(TrainingError, match="at least 1 tag"):
        train_model(X, Y[:, :0], [], multilabel=True)


def test_multilabel_folds_spread_every_tag():
    _, Y = multilabel_data(200, 4)
    folds = assign_folds(Y, multilabel=True, random_state=0)
    assert len(np.unique(folds)) == 5
    for fold in range(5):
        assert Y[folds == fold].sum(axis=0).min() >= 2  # each tag is in each test fold
        assert (Y[folds == fold].sum(axis=1) == 0).any()  # and so are the images without tags


# --- multiclass ---------------------------------------------------------------------------------------


def test_multiclass_model_learns_and_reports(multiclass_model):
    model, X, y = multiclass_model
    report = model.report
    assert report.accuracy > 0.9 and report.macro_f1 > 0.9
    assert report.n_folds == 5 and report.n_images == 160
    assert report.chosen_c in report.c_values and len(report.c_values) == len(report.c_log_losses)
    assert np.array(report.confusion_matrix).shape == (4, 4) and np.trace(report.confusion_matrix) > 144
    assert [t.tag for t in report.per_tag] == ["cat", "dog", "fox", "owl"]
    assert all(t.image_count == 40 and 0 <= t.precision_std < 0.5 for t in report.per_tag)
    assert all(len(t.pr_curve.thresholds) <= 101 for t in report.per_tag)
    assert report.ece_after_calibration < 0.1
    assert sum(b.count for b in report.reliability_after_calibration) == 160
    assert set(report.timings) == {"cross_validation", "calibration", "final_fit", "novelty", "evaluation"}
    assert [image.index for image in report.images] == list(range(160))
    assert report.images[0].true_tags == [model.classes[y[0]]] and len(report.images[0].predicted_tags) == 1
    probs = model.predict_proba(X)
    assert probs.shape == (160, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert (probs.argmax(axis=1) == y).mean() > 0.9


def test_multiclass_decide_sorts_tags_and_flags_unknown_images(multiclass_model):
    model, X, _ = multiclass_model
    far_away = unit(-X[:2].mean(axis=0, keepdims=True))
    predictions = model.decide(np.vstack([X[:1], far_away]))
    known, unknown = predictions
    assert [t.probability for t in known.tags] == sorted((t.probability for t in known.tags), reverse=True)
    assert known.tags[0].above_threshold and not known.uncertain and not known.unknown
    assert unknown.unknown_score > 0.999 and unknown.unknown
    assert unknown.uncertain and unknown.reasons[0].code == "unknown"
    assert not any(t.above_threshold for t in unknown.tags)  # however confident the head is


def test_multiclass_negative_class_is_an_ordinary_class_with_a_zero_prior():
    X, y = multiclass_data([30, 30, 30])
    prior = np.ones((3, X.shape[1]))
    model = train_model(X, y, ["a", "b", "Negative"], multilabel=False, negative_class="Negative", prior_weights=prior)
    assert model.head.prior_weights[2].tolist() == [0.0] * X.shape[1]
    assert prior[2].tolist() == [1.0] * X.shape[1]  # the caller's array is left alone
    assert [t.tag for t in model.report.per_tag] == ["a", "b", "Negative"]
    assert model.predict_proba(X).shape == (90, 3)


# --- multilabel ---------------------------------------------------------------------------------------


def test_multilabel_with_negative_images(multilabel_model):
    model, X, Y = multilabel_model
    assert model.reported_classes == ["sky", "sea", "sand", "Negative"]
    probs = model.predict_proba(X)
    assert probs.shape == (240, 3)  # the negative tag is not a column of the head
    reported = model.reported_proba(X)
    np.testing.assert_allclose(reported[:, 3], np.prod(1 - probs, axis=1))
    negative_rows = Y.sum(axis=1) == 0
    assert reported[negative_rows, 3].mean() > 0.6 > reported[~negative_rows, 3].mean()
    report = model.report
    assert [t.tag for t in report.per_tag] == ["sky", "sea", "sand", "Negative"]
    assert report.per_tag[3].image_count == int(negative_rows.sum())
    assert report.accuracy is None and report.confusion_matrix is None
    assert report.mean_average_precision > 0.9
    assert report.images[0].true_tags == ["Negative"]  # the first 30 images carry no tag


def test_multilabel_decide_reports_the_negative_tag(multilabel_model):
    model, X, Y = multilabel_model
    two_tags = np.flatnonzero(Y.sum(axis=1) == 2)[0]
    prediction = model.decide(X[[two_tags, 0]])
    tagged, negative = prediction
    assert {t.tag for t in tagged.tags if t.above_threshold} == {model.classes[j] for j in np.flatnonzero(Y[two_tags])}
    assert len(tagged.tags) == 4
    assert negative.tags[0].tag == "Negative" and negative.tags[0].above_threshold


def test_progress_reports_every_phase():
    calls = []
    X, y = multiclass_data([15, 15])
    train_model(X, y, ["a", "b"], multilabel=False, progress=lambda *args: calls.append(args))
    phases = list(dict.fromkeys(phase for phase, _, _ in calls))
    assert phases == ["cross_validation", "calibration", "final_fit", "novelty", "evaluation"]
    assert all(done <= total for _, done, total in calls)
    assert calls[-1] == ("evaluation", 1, 1)


# --- report and saving ----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["multiclass_model", "multilabel_model"])
def test_report_round_trips_through_json(which, request):
    report = request.getfixturevalue(which)[0].report
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert EvaluationReport.from_dict(json.loads(text)) == report


@pytest.mark.parametrize("which", ["multiclass_model", "multilabel_model"])
def test_saved_arrays_give_identical_predictions(which, request):
    model, X, _ = request.getfixturevalue(which)
    arrays, meta = model.to_arrays()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as stored:
        loaded = TrainedModel.from_arrays(dict(stored), json.loads(json.dumps(meta, allow_nan=False)))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.unknown_scores(X), model.unknown_scores(X))
    assert loaded.decide(X[:5]) == model.decide(X[:5])
    assert loaded.report == model.report and loaded.warnings == model.warnings
    assert arrays["novelty_embeddings"].dtype == np.float16
    np.testing.assert_array_equal(loaded.novelty.shapes_, model.novelty.shapes_)


def test_a_model_saved_before_the_fitted_shapes_loads_and_scores_as_it_did(multiclass_model):
    """Models saved without ``novelty_shapes`` had normal tails: shape 2, with their stored [mean, spread]."""
    model, X, y = multiclass_model
    before = NoveltyScorer(shape_min_reference=10**9, shape_prior=np.inf).fit(model.novelty.embeddings_, np.eye(4)[y])
    arrays, meta = dataclasses.replace(model, novelty=before).to_arrays()
    del arrays["novelty_shapes"]
    loaded = TrainedModel.from_arrays(arrays, meta)
    np.testing.assert_array_equal(loaded.novelty.shapes_, [2.0, 2.0])
    probe = np.r_[X[:10], unit(np.random.default_rng(3).normal(size=(5, X.shape[1])))]
    np.testing.assert_array_equal(loaded.unknown_scores(probe), before.score(probe))


def test_a_model_saved_before_the_fitted_powers_loads_and_scores_as_it_did(multiclass_model):
    """Models saved without ``novelty_powers`` standardised the log of both distances: power 0."""
    model, X, y = multiclass_model
    before = NoveltyScorer(fit_power=False).fit(model.novelty.embeddings_, np.eye(4)[y])
    arrays, meta = dataclasses.replace(model, novelty=before).to_arrays()
    del arrays["novelty_powers"], arrays["novelty_shapes"]
    loaded = TrainedModel.from_arrays(arrays, meta)
    np.testing.assert_array_equal(loaded.novelty.powers_, [0.0, 0.0])
    probe = np.r_[X[:10], unit(np.random.default_rng(3).normal(size=(5, X.shape[1])))]
    np.testing.assert_allclose(loaded.unknown_scores(probe), before.score(probe), atol=1e-12)


def test_damaged_saved_models_raise_model_file_error(multiclass_model):
    arrays, meta = multiclass_model[0].to_arrays()
    with pytest.raises(ModelFileError, match="Unsupported model format"):
        TrainedModel.from_arrays(arrays, {**meta, "format": "something-else/9"})
    with pytest.raises(ModelFileError, match="damaged"):
        TrainedModel.from_arrays({k: v for k, v in arrays.items() if k != "coef"}, meta)
    with pytest.raises(ModelFileError, match="damaged"):
        TrainedModel.from_arrays({**arrays, "coef": arrays["coef"][:2]}, meta)


def test_timing_2000_images_1024_dims_10_tags(capsys):
    X, y = multiclass_data([200] * 10, dim=1024, spread=5.0)
    start = time.perf_counter()
    model = train_model(X, y, [f"tag{i}" for i in range(10)], multilabel=False)
    elapsed = time.perf_counter() - start
    phases = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in model.report.timings.items())
    with capsys.disabled():
        print(f"\ntrain_model 2000 x 1024 x 10: {elapsed:.2f}s ({phases}); C tried {model.report.c_values}")
    assert model.report.accuracy > 0.8  # timing is reported, not asserted (shared, noisy machines)
