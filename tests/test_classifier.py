"""Classifier end to end: images in, calibrated predictions out (tiny backbone; real ONNX when present)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHARED_DATA, SHARED_MODELS, needs_shared_data, needs_shared_models

from sightline import Classifier
from sightline.errors import InvalidLabelsError, ModelFileError, NotEnoughImagesError, NotTrainedError
from sightline.synthetic import make_image, make_unrelated_image, multi_label_dataset, single_label_dataset, to_jpeg


@pytest.fixture(scope="module")
def shapes(tiny_backbone):
    images, labels = single_label_dataset(15)
    return Classifier(tiny_backbone).fit(images, labels)


def test_synthetic_shapes_are_learned_and_calibrated(shapes):
    report = shapes.evaluate()
    assert report.accuracy > 0.9
    assert report.ece_after_calibration <= report.ece_before_calibration + 0.02
    held_out = [to_jpeg(make_image([kind], seed=900_000 + i)) for i, kind in enumerate(["circle", "square"] * 10)]
    probs = shapes.predict_proba(held_out)
    assert probs.shape == (20, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    predicted = [shapes.classes_[i] for i in probs.argmax(axis=1)]
    assert np.mean([p == t for p, t in zip(predicted, ["circle", "square"] * 10, strict=True)]) > 0.9


def test_predictions_carry_decisions(shapes):
    circle, bad = shapes.predict([to_jpeg(make_image(["circle"], seed=12345)), b"\x00\x01"])
    assert circle.ok and circle.top.tag == "circle" and circle.top.above_threshold
    assert [t.probability for t in circle.tags] == sorted((t.probability for t in circle.tags), reverse=True)
    assert 0.0 <= circle.unknown_score <= 1.0
    assert not bad.ok and bad.error.reason == "not_an_image"
    assert circle.to_dict()["tags"][0]["tag"] == "circle"


def test_save_and_load_give_the_same_answers(shapes, tmp_path):
    image = to_jpeg(make_image(["star"], seed=4))
    path = shapes.save(tmp_path / "model.sightline")
    loaded = Classifier.load(path)
    assert loaded.classes_ == shapes.classes_
    np.testing.assert_allclose(loaded.predict_proba([image]), shapes.predict_proba([image]))
    assert loaded.evaluate().accuracy == shapes.evaluate().accuracy


def test_a_model_file_for_other_weights_is_refused(shapes, tmp_path):
    path = shapes.save(tmp_path / "model.sightline")
    with pytest.raises(ModelFileError, match="different weights"):
        Classifier.load(path, backbone="tiny:1")
    (tmp_path / "junk.sightline").write_bytes(b"PK junk")
    with pytest.raises(ModelFileError, match="not a Sightline model file"):
        Classifier.load(tmp_path / "junk.sightline")


def test_multilabel_with_negative_images(tiny_backbone):
    images, labels = multi_label_dataset(60, kinds=["circle", "square", "triangle"])
    negatives = [to_jpeg(make_image([], seed=70_000 + i)) for i in range(8)]
    clf = Classifier(tiny_backbone, multilabel=True, negative_tag="nothing")
    clf.fit(images + negatives, labels + [["nothing"]] * 8)
    assert clf.classes_ == ["circle", "square", "triangle"]
    assert clf.evaluate().mean_average_precision > 0.7
    (both,) = clf.predict([to_jpeg(make_image(["circle", "square"], seed=31337))])
    names = {t.tag for t in both.tags}
    assert names == {"circle", "square", "triangle", "nothing"}
    confident = {t.tag for t in both.tags if t.above_threshold}
    assert "circle" in confident or "square" in confident


def test_bad_training_images_are_skipped_and_listed(tiny_backbone):
    images, labels = single_label_dataset(6, kinds=["circle", "square"])
    clf = Classifier(tiny_backbone).fit([*images, b"", b"junk"], [*labels, "circle", "square"])
    assert [(i, e.reason) for i, e in clf.failures_] == [(12, "empty"), (13, "not_an_image")]
    assert clf.evaluate().n_images == 12
    assert any("fewer than 15" in w for w in clf.warnings_)


def test_label_rules(tiny_backbone):
    images, labels = single_label_dataset(5, kinds=["circle", "square"])
    with pytest.raises(InvalidLabelsError, match="exactly one tag"):
        Classifier(tiny_backbone).fit(images[:2], [["circle", "square"], "circle"])
    with pytest.raises(InvalidLabelsError, match="2 labels"):
        Classifier(tiny_backbone).fit(images[:3], labels[:2])
    with pytest.raises(InvalidLabelsError, match="cannot sit with"):
        Classifier(tiny_backbone, multilabel=True, negative_tag="none").fit(images[:1], [["none", "circle"]])
    with pytest.raises(NotEnoughImagesError) as info:
        Classifier(tiny_backbone).fit(images[:7], labels[:7])
    assert info.value.short_tags == {"square": 2}
    with pytest.raises(NotTrainedError):
        Classifier(tiny_backbone).predict(images[:1])


@needs_shared_models
@needs_shared_data
def test_real_photos_are_classified_and_unrelated_ones_flagged():
    """MobileNetV1 features: three clothing classes from 15 photos each; unrelated photos are unknown."""
    kinds = ["hat", "pants", "shoes"]
    train = [(p, k) for k in kinds for p in sorted((SHARED_DATA / "train" / k).glob("*.jpg"))[:15]]
    test = [(p, k) for k in kinds for p in sorted((SHARED_DATA / "test" / k).glob("*.jpg"))[:10]]
    clf = Classifier(f"onnx:{SHARED_MODELS / 'mobilenet_v1_embedding.onnx'}")
    clf.fit([p for p, _ in train], [k for _, k in train])
    predictions = clf.predict([p for p, _ in test])
    accuracy = np.mean([pred.top.tag == k for pred, (_, k) in zip(predictions, test, strict=True)])
    assert accuracy > 0.8
    unrelated = clf.predict(sorted((SHARED_MODELS / "test_images").iterdir()))
    assert np.median([p.unknown_score for p in unrelated]) > np.median([p.unknown_score for p in predictions])
    assert np.mean([p.unknown for p in unrelated]) >= 0.5
    assert np.mean([p.unknown for p in predictions]) <= 0.1

    # An ONNX backbone's display name is its sidecar's ("mobilenet-v1-embedding"), which cannot be created
    # by itself: a saved model must find its backbone again from what created it, as a fresh process would.
    assert clf.backbone.name != clf.backbone.spec
    reloaded = Classifier.from_bytes(clf.to_bytes())
    assert reloaded.backbone is clf.backbone
    assert np.allclose(reloaded.predict_proba([p for p, _ in test[:3]]), clf.predict_proba([p for p, _ in test[:3]]))


def test_unrelated_synthetic_image_scores_as_more_unknown(shapes):
    known, odd = shapes.predict([to_jpeg(make_image(["square"], seed=55)), to_jpeg(make_unrelated_image(5))])
    assert odd.unknown_score > known.unknown_score


def test_an_unknown_image_is_never_passed_on_as_certain(shapes):
    from sightline.synthetic import make_lens_cap_image

    (odd,) = shapes.predict([to_jpeg(make_lens_cap_image(1))])
    assert odd.unknown and odd.uncertain
