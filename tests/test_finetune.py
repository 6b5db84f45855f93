"""Advanced training: LP-FT fine-tuning of an EfficientNet-Lite backbone, on `tiny-lite`.

`tiny-lite` is the real EfficientNet-Lite network code (narrow, shallow, 32 px, random weights), so
these tests run the very fine-tuning, export and model-file code of efficientnet-lite0 in seconds.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from sightline.backbones import create_backbone
from sightline.backbones.torch_export import PARITY_TOLERANCE
from sightline.backbones.tuned import TINY_LITE, TunedLiteBackbone, weights_to_bytes
from sightline.classifier import Classifier
from sightline.errors import CannotFineTuneError, ModelFileError
from sightline.finetune import FineTuneOptions
from sightline.service.advanced import fine_tune_options, parse_budget
from sightline.synthetic import single_label_dataset

KINDS = ["circle", "square", "triangle"]
QUICK = FineTuneOptions(max_epochs=2, patience=2, batch_size=8, backbone_lr=1e-3, head_lr=1e-3)


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGHTLINE_THREADS", "1")  # two torch threads on a busy 2-core machine are 10x slower


@pytest.fixture(scope="module")
def shapes() -> tuple[list[bytes], list[str]]:
    return single_label_dataset(8, KINDS, seed=3)


def perturbed(seed: int = 1) -> TunedLiteBackbone:
    """tiny-lite with its weights nudged: what a fine-tuned backbone looks like to the rest of the product."""
    import torch

    network = create_backbone("tiny-lite").build_network()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(0.01 * torch.randn(parameter.shape, generator=generator))
    return TunedLiteBackbone(TINY_LITE, weights_to_bytes(network.state_dict()))


def test_fine_tuning_runs_lp_ft_and_records_the_honest_comparison(shapes):
    images, labels = shapes
    seen: list[tuple[str, int, int]] = []
    clf = Classifier("tiny-lite", fine_tune=QUICK, cache=None).fit(images, labels, progress=lambda *p: seen.append(p))
    summary = clf.fine_tune_
    assert summary is not None and summary.base == "tiny-lite" and summary.device == "cpu"
    assert summary.train_images + summary.validation_images == len(images) and summary.validation_images >= 3
    assert [h.epoch for h in summary.history] == list(range(summary.epochs_run + 1))  # epoch 0 is the probe
    assert 1 <= summary.epochs_run <= QUICK.max_epochs
    assert summary.stopped_by in ("max epochs", "early stopping")
    best = summary.history[summary.best_epoch]
    assert (summary.tuned_val_loss, summary.tuned_val_accuracy) == (best.val_loss, best.val_accuracy)
    assert summary.tuned_val_loss <= summary.frozen_val_loss  # the probe is a candidate: never worse than it
    if summary.best_epoch == 0:  # nothing beat the frozen network: it is kept as it was
        assert clf.backbone is create_backbone("tiny-lite") and not summary.beat_frozen
    else:
        assert clf.backbone.fingerprint != create_backbone("tiny-lite").fingerprint
    fine_tuning = [p for p in seen if p[0] == "fine_tuning"]
    assert fine_tuning[0] == ("fine_tuning", 0, QUICK.max_epochs)
    assert ("fine_tuning", summary.epochs_run, QUICK.max_epochs) in fine_tuning  # progress per epoch
    assert {"cross_validation", "calibration"} <= {p[0] for p in seen}  # then a regular training
    probabilities = clf.predict_proba(images[:4])
    assert np.allclose(probabilities.sum(axis=1), 1.0)


def test_the_model_file_carries_the_fine_tuned_weights_and_checks_them(shapes):
    images, labels = shapes
    tuned = perturbed()
    clf = Classifier(tuned, cache=None).fit(images, labels)
    data = clf.to_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert archive.read("backbone.npz") == tuned.weights
    assert manifest["backbone_tuned"]["weights_sha256"] == tuned.weights_sha256
    # a project names its base backbone (the domain); the weights in the file win over it
    loaded = Classifier.from_bytes(data, backbone="tiny-lite", cache=None)
    assert isinstance(loaded.backbone, TunedLiteBackbone) and loaded.backbone.fingerprint == tuned.fingerprint
    assert np.allclose(loaded.predict_proba(images[:5]), clf.predict_proba(images[:5]), atol=1e-5)

    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            body = source.read(item)
            target.writestr(item, perturbed(seed=2).weights if item.filename == "backbone.npz" else body)
    with pytest.raises(ModelFileError, match="damaged"):
        Classifier.from_bytes(damaged.getvalue(), cache=None)


def test_a_fine_tuned_backbone_has_its_own_fingerprint_and_exports_with_parity():
    base, tuned = create_backbone("tiny-lite"), perturbed()
    assert tuned.fingerprint != base.fingerprint and tuned.fingerprint == perturbed().fingerprint
    graph = tuned.image_graph()  # exported now, parity checked against torch
    parity = json.loads((tuned._tower.path.parent / "parity.json").read_text())
    assert parity["max_relative_error"] <= PARITY_TOLERANCE
    assert graph.graph.input[0].name == "pixel_values"
    pixels = np.random.default_rng(0).normal(size=(3, 3, 32, 32)).astype(np.float32)
    import torch

    with torch.inference_mode():
        expected = tuned.torch_network().features(torch.from_numpy(pixels)).numpy()
    assert np.allclose(tuned.embed_pixels(pixels), expected, atol=1e-4)


def test_a_callback_that_raises_stops_fine_tuning_within_a_batch(shapes):
    images, labels = shapes

    class Stop(Exception):
        pass

    calls = []

    def cancel_in_first_epoch(phase: str, done: int, total: int) -> None:
        calls.append(phase)
        if phase == "fine_tuning" and len(calls) > 3:
            raise Stop

    with pytest.raises(Stop):
        Classifier("tiny-lite", fine_tune=QUICK, cache=None).fit(images, labels, progress=cancel_in_first_epoch)
    assert len(calls) == 4


def test_a_spent_budget_keeps_the_frozen_network(shapes):
    images, labels = shapes
    options = FineTuneOptions(max_epochs=5, budget_seconds=0.0, batch_size=8)
    clf = Classifier("tiny-lite", fine_tune=options, cache=None).fit(images, labels)
    assert clf.fine_tune_.stopped_by == "budget" and clf.fine_tune_.epochs_run == 0
    assert clf.backbone is create_backbone("tiny-lite")


def test_backbones_that_cannot_be_fine_tuned_are_refused_clearly(shapes, tiny_backbone):
    images, labels = shapes
    with pytest.raises(CannotFineTuneError, match=r"cannot be fine-tuned.*EfficientNet-Lite"):
        Classifier(tiny_backbone, fine_tune=True, cache=None).fit(images, labels)


def test_stored_options_become_fine_tuning_settings():
    assert fine_tune_options({"trainingType": "Regular"}) is None
    assert fine_tune_options({"trainingType": "Advanced", "reservedBudgetInHours": 2}).budget_seconds == 7200
    stored = {"trainingType": "Advanced", "reservedBudgetInHours": 1, "budgetSeconds": 90.0}
    assert fine_tune_options(stored).budget_seconds == 90
    assert [parse_budget(t) for t in ("90s", "10m", "1.5h", "30")] == [90, 600, 5400, 30]
    for bad in ("ten minutes", "0m", "-5s"):
        with pytest.raises(ValueError):
            parse_budget(bad)


def test_the_calibration_refitted_on_the_validation_fold_serves_a_head_of_the_same_scale():
    """The temperature is fitted for the head trained without the validation fold: the model's head must
    share its C, or the temperature rescales logits of another size (near-uniform probabilities)."""
    from sightline.finetune.calibration import recalibrate_on_validation
    from sightline.learn import train_model

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    y = np.repeat(np.arange(3), 12)
    X = centres[y] + 0.8 * rng.normal(size=(len(y), 16))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    validation = np.zeros(len(y), dtype=bool)
    validation[::4] = True
    model = train_model(X, y, KINDS, multilabel=False, c_grid=(0.01,))  # a C search that landed elsewhere
    part = train_model(X[~validation], y[~validation], KINDS, multilabel=False)
    assert part.head.C != 0.01

    assert recalibrate_on_validation(model, X, y, validation)
    assert model.head.C == part.head.C
    assert model.calibrator.n_samples_ == validation.sum()
    confidence = model.predict_proba(X[validation]).max(axis=1).mean()
    assert confidence > 1 / 3 + 0.1  # separable classes: far from uniform
