"""ONNX export: model.onnx in onnxruntime gives the classifier's own calibrated probabilities."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import zipfile

import numpy as np
import onnx
import onnxruntime
import pytest
from conftest import SHARED_MODELS, needs_shared_models

from sightline import Classifier
from sightline.backbones import Backbone, create_backbone, l2_normalize
from sightline.backbones.graph import GraphTail
from sightline.errors import ExportError, NotTrainedError
from sightline.export import export_onnx
from sightline.imaging import PreprocessSpec, decode_for_model
from sightline.learn.onnx_head import append_probabilities
from sightline.synthetic import make_image, make_unrelated_image, multi_label_dataset, single_label_dataset, to_jpeg

KINDS = ["circle", "square", "star"]


@pytest.fixture(scope="module")
def cpu_tiny(sightline_home):
    """On CPU: the tiny backbone runs its exported ONNX tower there, as the export does."""
    return create_backbone("tiny", device="cpu")


@pytest.fixture(scope="module")
def multiclass(cpu_tiny) -> Classifier:
    """Every third label is wrong, so the calibrated probabilities are spread out (clean labels saturate them
    at the evidence bound, where a wrong head would still match)."""
    images, labels = single_label_dataset(8, KINDS, seed=3)
    labels = [KINDS[(KINDS.index(tag) + 1) % 3] if i % 3 == 0 else tag for i, tag in enumerate(labels)]
    return Classifier(cpu_tiny, cache=None).fit(images, labels)


@pytest.fixture(scope="module")
def multilabel(cpu_tiny) -> Classifier:
    images, labels = multi_label_dataset(60, kinds=["circle", "square", "triangle"], seed=4)
    labels = [tags if i % 6 else ["nothing"] for i, tags in enumerate(labels)]
    return Classifier(cpu_tiny, multilabel=True, negative_tag="nothing", cache=None).fit(images, labels)


def _held_out() -> list[bytes]:
    shapes = [to_jpeg(make_image([kind], seed=880_000 + i)) for i, kind in enumerate(["triangle", *KINDS] * 3)]
    return [*shapes, to_jpeg(make_unrelated_image(11)), to_jpeg(make_image(["circle", "square"], seed=5))]


def _unzip(data: bytes) -> tuple[onnxruntime.InferenceSession, list[str], dict]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert set(archive.namelist()) == {"model.onnx", "labels.txt", "sightline.json", "README.md"}
    session = onnxruntime.InferenceSession(archive.read("model.onnx"), providers=["CPUExecutionProvider"])
    return session, archive.read("labels.txt").decode().splitlines(), json.loads(archive.read("sightline.json"))


def _run_as_described(session: onnxruntime.InferenceSession, description: dict, images: list[bytes]) -> np.ndarray:
    """Preprocess with nothing but sightline.json's values, as a user of the export would."""
    spec = description["input"]
    keys = ("height", "width", "resize", "resample", "layout", "mean", "std", "crop_fraction")
    preprocess = PreprocessSpec(**{k: tuple(spec[k]) if isinstance(spec[k], list) else spec[k] for k in keys},
                                color=spec["channel_order"])  # fmt: skip
    pixels = np.stack([decode_for_model(image, preprocess) for image in images])
    (probabilities,) = session.run([description["output"]["name"]], {spec["name"]: pixels})
    return probabilities


@pytest.mark.parametrize("kind", ["multiclass", "multilabel"])
def test_the_onnx_model_gives_the_classifiers_probabilities(kind, request):
    classifier: Classifier = request.getfixturevalue(kind)
    session, labels, description = _unzip(export_onnx(classifier))
    assert labels == classifier.classes_
    assert description["classification_type"] == kind.capitalize()
    assert description["input"]["shape"] == ["batch", 3, 64, 64]
    assert description["input"]["mean"] == list(classifier.backbone.preprocess.mean)
    images = _held_out()
    got = _run_as_described(session, description, images)
    expected = classifier.predict_proba(images)
    assert got.dtype == np.float32 and got.shape == expected.shape == (len(images), len(labels))
    assert len(np.unique(expected.round(3))) > expected.size // 2  # spread out, not pinned at the evidence bound
    np.testing.assert_allclose(got, expected, atol=1e-4)
    np.testing.assert_allclose(_run_as_described(session, description, images[:1]), expected[:1], atol=1e-4)


@pytest.mark.parametrize("opset", [8, 13, 21])
@pytest.mark.parametrize("kind", ["multiclass", "multilabel"])
def test_the_head_nodes_compute_predict_proba_in_any_opset(kind, opset, request):
    """Calibration set by hand (temperature 3; Platt slopes and offsets per tag) and few calibration samples,
    so every step (normalising, folding the calibration into the head, the evidence bound) shows."""
    model = request.getfixturevalue(kind).model_
    classes = len(model.classes)
    calibrator = copy.deepcopy(model.calibrator)
    if model.multilabel:
        calibrator.slope_, calibrator.offset_ = np.linspace(0.5, 2.0, classes), np.linspace(-1.0, 0.5, classes)
    else:
        calibrator.temperature_ = 3.0
    calibrator.n_samples_ = 5
    model = dataclasses.replace(model, calibrator=calibrator)
    dim = model.head.coef_.shape[1]
    tail = GraphTail("head")
    output = append_probabilities(tail, model, "embedding", "probabilities")
    graph = onnx.helper.make_graph(
        tail.nodes,
        "head",
        [onnx.helper.make_tensor_value_info("embedding", onnx.TensorProto.FLOAT, ["n", dim])],
        [onnx.helper.make_tensor_value_info(output, onnx.TensorProto.FLOAT, ["n", classes])],
        tail.initializers,
    )
    head = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)], ir_version=8)
    onnx.checker.check_model(head)
    session = onnxruntime.InferenceSession(head.SerializeToString(), providers=["CPUExecutionProvider"])
    embeddings = np.random.default_rng(0).normal(scale=3.0, size=(50, dim)).astype(np.float32)
    embeddings[0] = 0.0  # a zero vector stays zero, as in l2_normalize
    (got,) = session.run(["probabilities"], {"embedding": embeddings})
    np.testing.assert_allclose(got, model.predict_proba(l2_normalize(embeddings)), atol=1e-5)


def test_multilabel_keeps_the_negative_tag_out_of_the_columns(multilabel):
    _, labels, description = _unzip(export_onnx(multilabel))
    assert "nothing" not in labels and description["decisions"]["negative_tag"] == "nothing"
    assert set(description["decisions"]["tag_thresholds"]) == {*labels, "nothing"}
    assert any("product of (1 - p)" in note for note in description["not_in_graph"])
    assert any("unknown" in note for note in description["not_in_graph"])


class WithoutGraph(Backbone):
    """A backbone that embeds (through tiny) but has no ONNX graph of its own."""

    name = "without-graph"

    def __init__(self, inner: Backbone):
        self.inner = inner

    preprocess = property(lambda self: self.inner.preprocess)
    dim = property(lambda self: self.inner.dim)
    fingerprint = property(lambda self: self.inner.fingerprint)

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return self.inner.embed_pixels(pixels)


def test_an_untrained_classifier_or_a_backbone_without_a_graph_cannot_export(multiclass, cpu_tiny):
    with pytest.raises(NotTrainedError):
        export_onnx(Classifier(cpu_tiny, cache=None))
    classifier = Classifier(WithoutGraph(cpu_tiny), cache=None)
    classifier.model_ = multiclass.model_
    with pytest.raises(ExportError) as info:
        export_onnx(classifier)
    assert info.value.code == "BadRequestExportValidationFailed"


@needs_shared_models
@pytest.mark.shared
@pytest.mark.parametrize("model", ["mobilenet_v1_embedding", "mobilenet_v2_imagenet"])
def test_onnx_backbones_export_with_their_own_output_steps(model):
    """v2 is an ImageNet tagger: its `background` column is dropped and the rest renormalised in the graph,
    and its output is called `probabilities` too."""
    backbone = create_backbone(f"onnx:{SHARED_MODELS / f'{model}.onnx'}")
    images, labels = single_label_dataset(6, KINDS, seed=8)
    classifier = Classifier(backbone, cache=None).fit(images, labels)
    session, labels, description = _unzip(export_onnx(classifier))
    assert labels == classifier.classes_ and description["input"]["name"] == "pixels"
    held_out = _held_out()
    np.testing.assert_allclose(
        _run_as_described(session, description, held_out), classifier.predict_proba(held_out), atol=1e-4
    )
