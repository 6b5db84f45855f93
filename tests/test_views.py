"""Augmented views: made on preprocessed pixels, cached under their own key, trained on, predicted with."""

from __future__ import annotations

import numpy as np
import pytest

from sightline import Classifier
from sightline.backbones import MemoryEmbeddingCache, embed_images, l2_normalize
from sightline.backbones.views import TestTimeViewBackbone, ViewBackbone, mean_of_views, view_pixels
from sightline.imaging import PreprocessSpec, decode_for_model
from sightline.learn import train_model
from sightline.learn.model import TrainedModel
from sightline.synthetic import make_image, single_label_dataset, to_jpeg


def test_flip_mirrors_the_width_axis_in_either_layout():
    pixels = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    flipped = view_pixels(pixels, "flip", PreprocessSpec(4, 5))
    np.testing.assert_array_equal(flipped[..., 0], pixels[..., -1])
    nhwc = pixels.transpose(0, 2, 3, 1)
    flipped_nhwc = view_pixels(nhwc, "flip", PreprocessSpec(4, 5, layout="NHWC"))
    np.testing.assert_array_equal(flipped_nhwc, flipped.transpose(0, 2, 3, 1))


def test_crop_keeps_the_input_size_and_zooms_on_the_centre():
    yy, xx = np.mgrid[0:20, 0:20].astype(np.float32)
    pixels = np.stack([xx, yy, xx])[None]  # a horizontal ramp in channel 0
    cropped = view_pixels(pixels, "crop80", PreprocessSpec(20, 20))
    assert cropped.shape == pixels.shape and cropped.dtype == np.float32
    assert cropped[0, 0, 10, 0] > pixels[0, 0, 10, 0] and cropped[0, 0, 10, -1] < pixels[0, 0, 10, -1]
    with pytest.raises(ValueError, match="unknown view"):
        view_pixels(pixels, "rotate", PreprocessSpec(20, 20))


def test_each_view_has_its_own_cache_key(tiny_backbone):
    base = tiny_backbone
    flip, crop = ViewBackbone(base, "flip"), ViewBackbone(base, "crop80")
    assert len({base.fingerprint, flip.fingerprint, crop.fingerprint, TestTimeViewBackbone(base).fingerprint}) == 4
    cache = MemoryEmbeddingCache()
    image = to_jpeg(make_image(["circle"], seed=3))
    plain = embed_images(base, [image], cache=cache).vectors
    mirrored = embed_images(flip, [image], cache=cache)
    assert not np.allclose(plain, mirrored.vectors)
    again = embed_images(flip, [image], cache=cache)
    assert again.cache_hits == 1
    np.testing.assert_array_equal(again.vectors, mirrored.vectors)
    mean = embed_images(TestTimeViewBackbone(base), [image]).vectors
    np.testing.assert_allclose(mean, mean_of_views(plain, [mirrored.vectors]), atol=1e-5)


def test_views_train_but_the_report_counts_images_only():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 32))
    y = np.repeat(np.arange(3), 8)
    X, flip, crop = (l2_normalize(centres[y] + rng.normal(size=(24, 32))) for _ in range(3))
    model = train_model(X, y, ["a", "b", "c"], multilabel=False, views=[flip, crop], test_time_view=flip)
    assert model.test_time_views and model.report.n_images == 24
    plain = train_model(X, y, ["a", "b", "c"], multilabel=False)
    assert not plain.test_time_views and not np.allclose(plain.head.coef_, model.head.coef_)
    loaded = TrainedModel.from_arrays(*model.to_arrays())
    assert loaded.test_time_views
    with pytest.raises(ValueError, match="shape"):
        train_model(X, y, ["a", "b", "c"], multilabel=False, views=[flip[:5]])


def test_a_classifier_with_test_time_views_predicts_the_same_after_loading(tiny_backbone):
    images, labels = single_label_dataset(8)
    clf = Classifier(tiny_backbone, training_views=True, test_time_views=True).fit(images, labels)
    assert clf.model_.test_time_views
    probe = to_jpeg(make_image(["circle"], seed=77))
    loaded = Classifier.from_bytes(clf.to_bytes())
    np.testing.assert_allclose(loaded.predict_proba([probe]), clf.predict_proba([probe]), atol=1e-6)
    batch = decode_for_model(probe, clf.backbone.preprocess)[None]  # predict_pixels embeds as predict does
    by_pixels = clf.predict_pixels(batch)[0]
    by_bytes = clf.predict([probe])[0]
    assert by_pixels.top.tag == by_bytes.top.tag
    assert by_pixels.top.probability == pytest.approx(by_bytes.top.probability, abs=1e-5)
    default = Classifier(tiny_backbone).fit(images, labels)
    assert not default.model_.test_time_views and not default.training_views
