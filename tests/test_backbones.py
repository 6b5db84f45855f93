"""Backbones: registry, tiny (same path as hf:), ONNX export parity, caches, errors, onnx: sidecars."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_MODELS, needs_shared_models

from sightline.backbones import (
    DiskEmbeddingCache,
    MemoryEmbeddingCache,
    create_backbone,
    embed_images,
    list_backbones,
)
from sightline.backbones.hf import HFBackbone
from sightline.backbones.tiny import tiny_model_dir
from sightline.errors import ModelConfigError, ModelNotFoundError, UnknownBackboneError
from sightline.synthetic import make_image, make_unrelated_image, to_jpeg


def test_tiny_is_an_hf_model_folder_with_text_tower(tiny_backbone):
    assert isinstance(tiny_backbone, HFBackbone)
    assert tiny_backbone.has_text and tiny_backbone.dim == 64
    for name in ("config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json"):
        assert (tiny_model_dir() / name).is_file()


def test_tiny_is_deterministic_across_builds(tiny_backbone, tmp_path, monkeypatch):
    images = [to_jpeg(make_image(["circle"], seed=i)) for i in range(3)]
    first = embed_images(tiny_backbone, images).vectors
    monkeypatch.setenv("SIGHTLINE_CACHE", str(tmp_path / "other-cache"))
    rebuilt = HFBackbone(str(tiny_model_dir()), name="tiny-rebuilt")
    assert rebuilt.fingerprint == tiny_backbone.fingerprint
    np.testing.assert_allclose(embed_images(rebuilt, images).vectors, first, atol=1e-5)


def test_onnx_export_matches_torch(tiny_backbone):
    rng = np.random.default_rng(0)
    pixels = rng.normal(size=(5, 3, 64, 64)).astype(np.float32)
    via_onnx = tiny_backbone.embed_pixels(pixels)
    assert tiny_backbone._onnx_session() is not None, "the image tower should run in ONNX Runtime on CPU"
    import torch

    with torch.inference_mode():
        via_torch = tiny_backbone._torch_image_features(torch.from_numpy(pixels)).numpy()
    assert via_onnx.shape == (5, 64)
    np.testing.assert_allclose(via_onnx, via_torch, atol=1e-4)
    from sightline.config import cache_dir

    parity = json.loads((cache_dir() / "onnx" / tiny_backbone.fingerprint / "parity.json").read_text())
    assert parity["max_relative_error"] < 1e-3


def test_text_embeddings_are_cached(tiny_backbone, monkeypatch):
    texts = ["a photo of a circle.", "a photo of a square."]
    first = tiny_backbone.embed_text(texts)
    assert first.shape == (2, 64)
    assert not np.allclose(first[0], first[1])

    def fail(*args, **kwargs):
        raise AssertionError("text tower ran although every phrase was cached")

    monkeypatch.setattr(tiny_backbone, "_torch_text_features", fail)
    np.testing.assert_array_equal(tiny_backbone.embed_text(texts), first)


class CountingBackbone:
    """Wraps a backbone and counts how many images reach the model."""

    def __init__(self, inner):
        self.inner, self.seen = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed_pixels(self, pixels):
        self.seen += len(pixels)
        return self.inner.embed_pixels(pixels)


@pytest.mark.parametrize("cache_kind", ["memory", "disk"])
def test_cache_hit_skips_the_model(tiny_backbone, tmp_path, cache_kind):
    cache = MemoryEmbeddingCache() if cache_kind == "memory" else DiskEmbeddingCache(tmp_path)
    counting = CountingBackbone(tiny_backbone)
    images = [to_jpeg(make_image(["square"], seed=i)) for i in range(4)]
    first = embed_images(counting, images, cache=cache)
    assert counting.seen == 4 and first.cache_hits == 0
    again = embed_images(counting, [*images, to_jpeg(make_unrelated_image(1))], cache=cache)
    assert counting.seen == 5, "only the new image should be embedded"
    assert again.cache_hits == 4
    np.testing.assert_allclose(again.vectors[:4], first.vectors, atol=1e-6)


def test_bad_images_are_reported_and_the_rest_embedded(tiny_backbone):
    images = [to_jpeg(make_image(["star"], seed=1)), b"", b"hello", to_jpeg(make_image(["star"], seed=2))]
    progress = []
    result = embed_images(tiny_backbone, images, progress=lambda done, total: progress.append((done, total)))
    assert result.ok_indices == [0, 3]
    assert [(f.index, f.error.reason) for f in result.failures] == [(1, "empty"), (2, "not_an_image")]
    assert progress[-1] == (4, 4)


def test_registry_reuses_instances_and_rejects_unknown_names(tiny_backbone):
    assert create_backbone("tiny") is tiny_backbone
    with pytest.raises(UnknownBackboneError, match="hf:<model id>"):
        create_backbone("resnet")
    names = [row["name"] for row in list_backbones()]
    assert "tiny" in names and any(row["default"] for row in list_backbones())


def test_missing_weights_fail_fast_with_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("SIGHTLINE_MODELS", str(tmp_path / "models"))
    for offline in ("1", ""):
        monkeypatch.setenv("HF_HUB_OFFLINE", offline)
        monkeypatch.setattr("sightline.backbones.hf._hub_reachable", lambda timeout=3.0: False)
        start = time.monotonic()
        with pytest.raises(ModelNotFoundError) as info:
            HFBackbone("google/siglip2-base-patch32-256")
        assert time.monotonic() - start < 10
        message = str(info.value)
        assert "google/siglip2-base-patch32-256" in message and "SIGHTLINE_MODELS" in message


def test_models_folder_is_searched(monkeypatch, tmp_path, tiny_backbone):
    target = tmp_path / "models" / "acme" / "tiny-clip"
    shutil.copytree(tiny_model_dir(), target)
    monkeypatch.setenv("SIGHTLINE_MODELS", str(tmp_path / "models"))
    backbone = HFBackbone("acme/tiny-clip")
    assert backbone.folder == target and backbone.fingerprint == tiny_backbone.fingerprint


# --- onnx: sidecars ------------------------------------------------------------------------------------


def _copy_model(tmp_path: Path, sidecar: dict | str | None) -> Path:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not read before the sidecar is checked")
    if sidecar is not None:
        model.with_suffix(".json").write_text(sidecar if isinstance(sidecar, str) else json.dumps(sidecar))
    return model


@pytest.mark.parametrize(
    ("sidecar", "message"),
    [
        (None, "has no sidecar"),
        ("{not json", "not valid JSON"),
        ({"task": "embedding", "output": {"name": "x", "dim": 3}}, "missing `input`"),
        ({"task": "detect", "input": {}, "output": {}}, "must be embedding or classification"),
        ({"input": {"name": "x", "width": 4}, "output": {"name": "y", "dim": 3}}, "missing `input.height`"),
    ],
)
def test_bad_sidecars_are_explained(tmp_path, sidecar, message):
    with pytest.raises(ModelConfigError, match=message):
        create_backbone(f"onnx:{_copy_model(tmp_path, sidecar)}")


def test_missing_onnx_file(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found"):
        create_backbone(f"onnx:{tmp_path / 'nope.onnx'}")


@needs_shared_models
def test_onnx_embedding_model_from_shared():
    backbone = create_backbone(f"onnx:{SHARED_MODELS / 'mobilenet_v1_embedding.onnx'}")
    images = sorted((SHARED_MODELS / "test_images").iterdir())
    result = embed_images(backbone, images)
    assert result.vectors.shape == (len(images), 1024) and not result.failures
    assert (result.vectors >= 0).all()


@needs_shared_models
def test_onnx_classifier_from_shared_drops_ignored_labels():
    backbone = create_backbone(f"onnx:{SHARED_MODELS / 'mobilenet_v2_imagenet.onnx'}")
    assert backbone.task == "classification" and len(backbone.labels) == 1000
    assert "background" not in backbone.labels
    result = embed_images(backbone, [SHARED_MODELS / "test_images" / "parrot.jpg"])
    probs = result.vectors[0]
    assert backbone.labels[int(probs.argmax())] == "macaw"
    assert probs.sum() == pytest.approx(1.0, abs=1e-4)


def test_known_keys_let_cached_images_go_unread(tiny_backbone):
    """The project store knows each image's sha256: a cached image must not even be fetched."""
    cache = MemoryEmbeddingCache()
    images = [to_jpeg(make_image(["circle"], seed=i)) for i in range(3)]
    first = embed_images(tiny_backbone, images, cache=cache)

    class Unreadable:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            raise AssertionError(f"image {i} was read although its embedding is cached")

    again = embed_images(tiny_backbone, Unreadable(), cache=cache, keys=first.keys)
    assert again.cache_hits == 3
    np.testing.assert_allclose(again.vectors, first.vectors)


def test_zero_shot_parameters_survive_a_fresh_process(tiny_backbone):
    """A process running on cached ONNX and text must still know the learned logit scale and bias."""
    scale, bias = tiny_backbone.zero_shot_scale, tiny_backbone.zero_shot_bias
    assert scale == pytest.approx(np.exp(2.6592), rel=1e-3)  # CLIP's initial logit_scale
    fresh = HFBackbone(str(tiny_model_dir()), name="tiny-fresh")
    assert (fresh.zero_shot_scale, fresh.zero_shot_bias) == (scale, bias)
    assert fresh._model is None, "the stored values should be read without loading torch"
