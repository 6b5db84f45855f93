"""`Classifier`: the engine's front door. Images in, calibrated single- or multi-label predictions out.

It ties the layers together without adding logic of its own: `imaging` decodes, a backbone embeds
(through the embedding cache), `learn` fits the head, calibrates and evaluates, and decides what each
prediction means (threshold, uncertain, unknown).

Over 400 lines, knowingly: it is the public engine class (`sightline.Classifier`), and its methods
(fit, predict, evaluate, save/load) are thin, each delegating to the layer that does the work.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, overload

import numpy as np

from sightline.backbones import (
    Backbone,
    EmbeddedImages,
    EmbeddingCache,
    create_backbone,
    default_embedding_cache,
    embed_images,
    l2_normalize,
)
from sightline.backbones.tuned import LiteArchitecture, TunedLiteBackbone
from sightline.backbones.views import TEST_TIME_VIEW, TRAINING_VIEWS, TestTimeViewBackbone, ViewBackbone
from sightline.config import ImageLimits
from sightline.errors import ImageError, InvalidLabelsError, ModelFileError, NotTrainedError
from sightline.finetune.calibration import recalibrate_on_validation
from sightline.finetune.options import FineTuneOptions, FineTuneSummary
from sightline.imaging import ImageSource
from sightline.learn import EvaluationReport, TagDecision, TrainedModel, train_model
from sightline.learn.crossval import Duplicates, cross_duplicates, find_duplicates
from sightline.learn.decisions import Reason
from sightline.learn.evaluation import held_out_report
from sightline.learn.heads import logits_to_proba
from sightline.learn.model import reported_columns
from sightline.vocabulary import Vocabulary, prompts_for

FORMAT = "sightline-classifier"
FORMAT_VERSION = 1
TUNED_WEIGHTS = "backbone.npz"  # a fine-tuned backbone's weights travel inside the model file

Label = str | Sequence[str]
PhaseProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DuplicatePairs:
    """Near-duplicate pairs found before training, in the indices the caller gave `fit`.

    `conflicts`: (image, image) pairs of training images with different tags; `leaks`: (test image,
    training image) pairs, a test image that near-duplicates one trained on.
    """

    conflicts: list[tuple[int, int]] = field(default_factory=list)
    leaks: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class ImagePrediction:
    """What the classifier says about one image; `error` is set (and nothing else) when it was unusable."""

    index: int
    tags: list[TagDecision] = field(default_factory=list)
    uncertain: bool = False
    unknown_score: float = 0.0
    unknown: bool = False
    reasons: list[Reason] = field(default_factory=list)  # why it is uncertain, with the numbers
    error: ImageError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def top(self) -> TagDecision | None:
        return self.tags[0] if self.tags else None

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"index": self.index, "error": {"reason": self.error.reason, "message": str(self.error)}}
        return {
            "index": self.index,
            "tags": [
                {
                    "tag": t.tag,
                    "probability": t.probability,
                    "above_threshold": t.above_threshold,
                    "threshold": t.threshold,
                }
                for t in self.tags
            ],
            "uncertain": self.uncertain,
            "reasons": [r.to_dict() for r in self.reasons],
            "unknown_score": self.unknown_score,
            "unknown": self.unknown,
        }


@dataclass
class HeldOutScore:
    """A classifier evaluated on labelled images it did not train on (see `Classifier.score`)."""

    report: EvaluationReport | None  # None when no image could be scored
    scored: list[int]  # indices of the images the report covers, in its order
    errors: list[tuple[int, str]]  # (index, why it was left out)


class Classifier:
    """A custom image classifier on a pretrained backbone.

    `multilabel=False`: exactly one tag per image (softmax). `multilabel=True`: any number (sigmoids).
    `negative_tag`: the label that means "none of these" (Custom Vision's Negative tag).
    `fine_tune`: True or `FineTuneOptions` for Advanced training: `fit` first fine-tunes the backbone
    (EfficientNet-Lite only, see `sightline.finetune`), then trains the head on its embeddings.
    `training_views`: also train on each image's mirror and an 80% centre crop (embedded once, cached).
    `test_time_views`: predict on the mean of each image and its mirror (two forward passes per image).
    Both are off by default, as measured on clothing (benchmarks/results/accuracy.md): training views
    alone gave -0.2 to +0.7 points at 5-15 shots, for three embeddings per image at the first training;
    with test-time views +0.6 to +1.2 points, for 1.6x the batch-1 prediction latency.
    The choice is made at training and recorded in the model.
    """

    def __init__(
        self,
        backbone: str | Backbone = "default",
        *,
        fine_tune: FineTuneOptions | bool | None = None,
        multilabel: bool = False,
        negative_tag: str | None = None,
        threshold: float = 0.5,
        uncertainty_margin: float = 0.1,
        unknown_threshold: float = 0.99,
        zero_shot_prior: bool = True,
        cache: EmbeddingCache | str | None = "disk",
        batch_size: int = 32,
        limits: ImageLimits | None = None,
        random_state: int = 0,
        training_views: bool = False,
        test_time_views: bool = False,
    ):
        self.backbone = create_backbone(backbone) if isinstance(backbone, str) else backbone
        self.fine_tune = FineTuneOptions() if fine_tune is True else (fine_tune or None)
        self.multilabel = multilabel
        self.negative_tag = negative_tag
        self.threshold = threshold
        self.uncertainty_margin = uncertainty_margin
        self.unknown_threshold = unknown_threshold
        self.zero_shot_prior = zero_shot_prior
        if isinstance(cache, str) and cache != "disk":
            raise ValueError(f"cache={cache!r}: give 'disk', None or an EmbeddingCache")
        self.cache: EmbeddingCache | None = default_embedding_cache() if isinstance(cache, str) else cache
        self.batch_size = batch_size
        self.limits = limits
        self.random_state = random_state
        self.training_views = training_views
        self.test_time_views = test_time_views
        self.model_: TrainedModel | None = None
        self.failures_: list[tuple[int, ImageError]] = []
        self.duplicates_ = DuplicatePairs()
        self.fine_tune_: FineTuneSummary | None = None  # what fine-tuning did, when it ran

    # -- embedding
    def embed(
        self,
        images: Sequence[ImageSource],
        progress: PhaseProgress | None = None,
        keys: Sequence[str | None] | None = None,
    ) -> EmbeddedImages:
        """Raw backbone vectors for `images`, through the cache; bad images are listed, not raised.

        `keys`: the images' sha256 when known, so cached images are not read at all.
        """
        return self._embed_with(self.backbone, images, progress, keys)

    def _embed_with(self, backbone: Backbone, images, progress, keys, offset: int = 0, scale: int = 1):
        """Embed with `backbone` (the model's own, a view of it); progress counts `scale` passes."""

        def report(done: int, total: int) -> None:
            progress("embedding", offset * total + done, scale * total)

        return embed_images(
            backbone,
            images,
            cache=self.cache,
            keys=keys,
            batch_size=self.batch_size,
            limits=self.limits,
            progress=report if progress else None,
        )

    def _predictor(self) -> Backbone:
        """What embeds images to predict on: the backbone, or its test-time views if the model uses them."""
        return TestTimeViewBackbone(self.backbone) if self._model.test_time_views else self.backbone

    def _embed_views(self, images, embedded: EmbeddedImages, progress) -> tuple[list[np.ndarray], np.ndarray | None]:
        """Unit-length embeddings of the training views and the test-time view of the usable images
        (none where a view could not be made: then the model trains on the images alone)."""
        names = list(TRAINING_VIEWS if self.training_views else ())
        if self.test_time_views and TEST_TIME_VIEW not in names:
            names.append(TEST_TIME_VIEW)
        ok = embedded.ok_indices
        sources, keys = _Subset(images, ok), [embedded.keys[i] for i in ok]
        vectors = {}
        for step, name in enumerate(names, start=1):
            out = self._embed_with(ViewBackbone(self.backbone, name), sources, progress, keys, step, len(names) + 1)
            if out.failures:
                return [], None
            vectors[name] = l2_normalize(out.vectors)
        training = [vectors[n] for n in names if n in TRAINING_VIEWS and self.training_views]
        return training, vectors.get(TEST_TIME_VIEW) if self.test_time_views else None

    # -- training
    @property
    def classes_(self) -> list[str]:
        return list(self._model.classes)

    @property
    def reported_classes_(self) -> list[str]:
        """The tags a prediction reports (Multilabel adds the negative tag): the order of `thresholds`."""
        return list(self._model.reported_classes)

    @property
    def _model(self) -> TrainedModel:
        if self.model_ is None:
            raise NotTrainedError("this classifier is not trained yet: call fit() or Classifier.load()")
        return self.model_

    def fit(
        self,
        images: Sequence[ImageSource],
        labels: Sequence[Label],
        progress: PhaseProgress | None = None,
        keys: Sequence[str | None] | None = None,
        groups: Sequence[object] | None = None,
        test_images: Sequence[ImageSource] | None = None,
        test_keys: Sequence[str | None] | None = None,
        on_duplicates: Callable[[DuplicatePairs], None] | None = None,
    ) -> Classifier:
        """Embed, cross-validate, calibrate and fit. Unusable images are skipped and kept in `failures_`.

        `groups`: one value per image (None for none); images with equal values, for example shots of
        one item, are kept on one side of every cross-validation fold. Near-duplicate images are kept
        together as well without being declared.
        `test_images` (a held-out test set, not trained on) are embedded too, to find those that
        near-duplicate a training image. What the duplicate search finds is kept in `duplicates_` and
        handed to `on_duplicates` as soon as it is known, before the cross-validation starts.
        """
        if len(images) != len(labels):
            raise InvalidLabelsError(f"{len(images)} images but {len(labels)} labels: give one label per image")
        if groups is not None and len(groups) != len(images):
            raise InvalidLabelsError(f"{len(images)} images but {len(groups)} groups: give one group per image")
        tag_sets = [self._as_tag_set(label, i) for i, label in enumerate(labels)]
        validation = self._fine_tune_backbone(images, tag_sets, groups, progress, keys) if self.fine_tune else None
        n_passes = 1 + len(
            set(TRAINING_VIEWS if self.training_views else ()) | ({TEST_TIME_VIEW} if self.test_time_views else set())
        )
        embedded = self._embed_with(self.backbone, images, progress, keys, 0, n_passes)
        views, test_time_view = self._embed_views(images, embedded, progress)
        self.failures_ = [(f.index, f.error) for f in embedded.failures]
        kept = [tag_sets[i] for i in embedded.ok_indices]
        classes, Y = self._encode(kept)
        X = l2_normalize(embedded.vectors)
        found = self._find_duplicates(X, Y, embedded.ok_indices, test_images, test_keys, progress)
        if on_duplicates is not None:
            on_duplicates(self.duplicates_)
        prior_weights, prior_bias = self._zero_shot_prior(classes) if self.zero_shot_prior else (None, None)
        self.model_ = train_model(
            X,
            Y,
            classes,
            multilabel=self.multilabel,
            prior_weights=prior_weights,
            prior_bias=prior_bias,
            negative_class=self.negative_tag,
            threshold=self.threshold,
            uncertainty_margin=self.uncertainty_margin,
            random_state=self.random_state,
            progress=progress,
            groups=None if groups is None else [groups[i] for i in embedded.ok_indices],
            near_duplicate_pairs=found.pairs,
            views=views,
            test_time_view=test_time_view,
        )
        self.model_.unknown_threshold = self.unknown_threshold
        if validation is not None:
            kept_validation = np.isin(embedded.ok_indices, validation)
            recalibrate_on_validation(self.model_, X, Y, kept_validation, random_state=self.random_state)
        return self

    def _find_duplicates(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        ok_indices: Sequence[int],
        test_images: Sequence[ImageSource] | None,
        test_keys: Sequence[str | None] | None,
        progress: PhaseProgress | None,
    ) -> Duplicates:
        """`find_duplicates` on the usable images; `duplicates_` in the callers' image indices."""
        X_test, test_ok = None, []
        if test_images is not None and len(test_images):
            test_embedded = self.embed(test_images, progress, test_keys)
            X_test, test_ok = l2_normalize(test_embedded.vectors), test_embedded.ok_indices
        found = find_duplicates(X, Y, X_test)
        ok = list(ok_indices)
        self.duplicates_ = DuplicatePairs(
            conflicts=[(ok[i], ok[j]) for i, j in found.conflicts],
            leaks=[(test_ok[t], ok[i]) for t, i in found.leaks],
        )
        return found

    def _fine_tune_backbone(
        self, images: Sequence[ImageSource], tag_sets: list[tuple[str, ...]], groups, progress, keys
    ) -> list[int] | None:
        """Fine-tune the backbone in place; the validation images (never trained on by the new backbone)
        when it changed, None when fine-tuning kept the backbone as it was."""
        from sightline.finetune import fine_tune

        _, Y = self._encode(tag_sets)
        frozen = self.embed(images, progress, keys)  # cached: regular training reuses them if the backbone stays
        reference = np.full((len(images), self.backbone.dim), np.nan, dtype=np.float32)
        reference[frozen.ok_indices] = frozen.vectors
        result = fine_tune(self.backbone, images, Y, multilabel=self.multilabel, options=self.fine_tune,
                           groups=groups, progress=progress, limits=self.limits, reference=reference)  # fmt: skip
        self.fine_tune_ = result.summary
        if result.backbone is self.backbone:
            return None
        self.backbone = result.backbone
        return result.validation

    def _as_tag_set(self, label: Label, index: int) -> tuple[str, ...]:
        tags = (label,) if isinstance(label, str) else tuple(label)
        if any(not isinstance(t, str) or not t.strip() for t in tags):
            raise InvalidLabelsError(f"image {index}: tags must be non-empty strings, got {label!r}")
        if not self.multilabel and len(tags) != 1:
            raise InvalidLabelsError(
                f"image {index}: a Multiclass classifier needs exactly one tag per image, got {tags!r}"
            )
        if self.negative_tag in tags and len(tags) > 1:
            raise InvalidLabelsError(
                f"image {index}: the negative tag {self.negative_tag!r} cannot sit with other tags {tags!r}"
            )
        return tags

    def _encode(self, tag_sets: list[tuple[str, ...]]) -> tuple[list[str], np.ndarray]:
        if not self.multilabel:
            classes = sorted({tags[0] for tags in tag_sets})
            lookup = {c: i for i, c in enumerate(classes)}
            return classes, np.array([lookup[tags[0]] for tags in tag_sets], dtype=np.int64)
        classes = sorted({t for tags in tag_sets for t in tags if t != self.negative_tag})
        lookup = {c: i for i, c in enumerate(classes)}
        Y = np.zeros((len(tag_sets), len(classes)), dtype=np.int64)
        for row, tags in enumerate(tag_sets):
            for tag in tags:
                if tag != self.negative_tag:
                    Y[row, lookup[tag]] = 1
        return classes, Y

    def _zero_shot_prior(self, classes: list[str]) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Text embeddings of the tag names as the head's starting point (None without a text tower)."""
        if not self.backbone.has_text:
            return None, None
        vocabulary = Vocabulary.from_names([c for c in classes if c != self.negative_tag])
        weights = np.zeros((len(classes), self.backbone.dim), dtype=np.float32)
        for row, name in enumerate(classes):
            if name == self.negative_tag:
                continue  # "none of these" has no text; its prior is neutral
            tag = vocabulary.get(name)
            assert tag is not None  # the vocabulary was made from these names
            prompts = prompts_for(tag)
            weights[row] = l2_normalize(l2_normalize(self.backbone.embed_text(prompts)).mean(axis=0))
        bias = np.full(len(classes), self.backbone.zero_shot_bias, dtype=np.float64)
        return weights * self.backbone.zero_shot_scale, bias

    # -- evaluation and prediction
    def evaluate(self) -> EvaluationReport:
        """The cross-validated report computed during `fit` (out-of-fold, calibrated)."""
        return self._model.report

    def score(
        self,
        images: Sequence[ImageSource],
        labels: Sequence[Label],
        keys: Sequence[str | None] | None = None,
        *,
        find_leaks: bool = True,
    ) -> HeldOutScore:
        """Evaluate on labelled images the classifier did not train on (a test set, a new folder).

        An image that cannot be read, or whose tags the classifier does not know, is listed in
        `errors` (index, message) and left out; the others are scored. `report` is None when none is left.
        `find_leaks=False`: the caller has `duplicates_.leaks` from `fit` already (the project's test set).
        """
        if len(images) != len(labels):
            raise InvalidLabelsError(f"{len(images)} images but {len(labels)} labels: give one label per image")
        model = self._model
        known = set(model.classes) | ({self.negative_tag} if self.negative_tag else set())
        errors: dict[int, str] = {}
        tag_sets = []
        for i, label in enumerate(labels):
            try:
                tags = self._as_tag_set(label, i)
            except InvalidLabelsError as error:
                errors[i] = str(error)
                continue
            unknown = [t for t in tags if t not in known]
            if unknown:
                errors[i] = f"tag {unknown[0]!r} is not one the classifier was trained on"
            else:
                tag_sets.append((i, tags))
        usable = [i for i, _ in tag_sets]
        embedded = self._embed_with(
            self._predictor(), [images[i] for i in usable], None, None if keys is None else [keys[i] for i in usable]
        )
        for failure in embedded.failures:
            errors[usable[failure.index]] = str(failure.error)
        scored = [usable[j] for j in embedded.ok_indices]
        report = None
        if scored:
            lookup = dict(tag_sets)
            X = l2_normalize(embedded.vectors)
            y_true = self._truth([lookup[i] for i in scored])
            raw = logits_to_proba(model.head.logits(X), multilabel=self.multilabel)
            report = held_out_report(
                tags=model.reported_classes,
                multilabel=self.multilabel,
                y_true=y_true,
                probs=model.reported_proba(X),
                uncalibrated_probs=reported_columns(raw, multilabel=self.multilabel, negative_class=self.negative_tag),
                threshold=model.threshold,
                chosen_c=float(model.head.C),
            )
            # leakage: test images that near-duplicate a training image (indices into `scored`, training order)
            if find_leaks:
                report.leaks = cross_duplicates(X, model.novelty.embeddings_).tolist()
        return HeldOutScore(report=report, scored=scored, errors=sorted(errors.items()))

    def _truth(self, tag_sets: list[tuple[str, ...]]) -> np.ndarray:
        """Labels in the model's reported order: Multiclass tag indices, Multilabel an indicator
        (the negative tag, when there is one, as the last column)."""
        tags = self._model.reported_classes
        if not self.multilabel:
            return np.array([tags.index(t[0]) for t in tag_sets], dtype=np.intp)
        Y = np.zeros((len(tag_sets), len(tags)), dtype=np.int64)
        for row, names in enumerate(tag_sets):
            for name in names:
                Y[row, tags.index(name)] = 1
        if self.negative_tag is not None:
            Y[:, -1] = (Y[:, :-1].sum(axis=1) == 0).astype(np.int64)
        return Y

    @property
    def warnings_(self) -> list[str]:
        return list(self._model.warnings)

    def predict_proba(self, images: Sequence[ImageSource]) -> np.ndarray:
        """Calibrated probabilities, columns in `classes_` order; rows of unusable images are NaN."""
        embedded = self._embed_with(self._predictor(), images, None, None)
        out = np.full((len(images), len(self.classes_)), np.nan)
        if embedded.ok_indices:
            out[embedded.ok_indices] = self._model.predict_proba(l2_normalize(embedded.vectors))
        return out

    def predict(
        self, images: Sequence[ImageSource], *, thresholds: float | Sequence[float] | None = None
    ) -> list[ImagePrediction]:
        """Per image: tags with calibrated probability and `above_threshold`, `uncertain` and its reasons,
        `unknown`. `thresholds`: one value or one per tag of `reported_classes_`, in place of the trained ones."""
        embedded = self._embed_with(self._predictor(), images, None, None)
        results = [ImagePrediction(index=f.index, error=f.error) for f in embedded.failures]
        if embedded.ok_indices:
            results += self._decide(embedded.ok_indices, embedded.vectors, thresholds)
        return sorted(results, key=lambda r: r.index)

    def predict_pixels(
        self, pixels: np.ndarray, *, thresholds: float | Sequence[float] | None = None
    ) -> list[ImagePrediction]:
        """`predict` for images already decoded and preprocessed (`backbone.preprocess`): what batch
        pipelines call, so decoding can run elsewhere (threads, Ray tasks) and overlap with the model."""
        if not len(pixels):
            return []
        return self._decide(range(len(pixels)), self._predictor().embed_pixels(pixels), thresholds)

    def _decide(
        self, indices: Sequence[int], vectors: np.ndarray, thresholds: float | Sequence[float] | None
    ) -> list[ImagePrediction]:
        limits = None if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        decisions = self._model.decide(l2_normalize(vectors), limits)
        return [
            ImagePrediction(
                index=index,
                tags=d.tags,
                uncertain=d.uncertain,
                unknown_score=d.unknown_score,
                unknown=d.unknown,
                reasons=d.reasons,
            )
            for index, d in zip(indices, decisions, strict=True)
        ]

    # -- persistence (zip of JSON + npz: no pickle, so loading a model file cannot run code)
    def to_bytes(self) -> bytes:
        """The trained classifier as a self-describing zip (manifest.json + arrays.npz)."""
        arrays, meta = self._model.to_arrays()
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "backbone": self.backbone.name,
            "backbone_spec": self.backbone.spec or self.backbone.name,
            "backbone_fingerprint": self.backbone.fingerprint,
            "settings": {
                "multilabel": self.multilabel,
                "negative_tag": self.negative_tag,
                "threshold": self.threshold,
                "uncertainty_margin": self.uncertainty_margin,
                "unknown_threshold": self.unknown_threshold,
                "zero_shot_prior": self.zero_shot_prior,
                "training_views": self.training_views,
                "test_time_views": self._model.test_time_views,
            },
            "model": meta,
        }
        if isinstance(self.backbone, TunedLiteBackbone):
            manifest["backbone_tuned"] = {"architecture": asdict(self.backbone.architecture),
                                          "weights_sha256": self.backbone.weights_sha256}  # fmt: skip
        if self.fine_tune_ is not None:
            manifest["fine_tune"] = self.fine_tune_.to_dict()
        npz = BytesIO()
        np.savez_compressed(npz, **arrays)
        out = BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("manifest.json", json.dumps(manifest))
            archive.writestr("arrays.npz", npz.getvalue())
            if isinstance(self.backbone, TunedLiteBackbone):
                archive.writestr(TUNED_WEIGHTS, self.backbone.weights)
        return out.getvalue()

    def save(self, path: str | Path) -> Path:
        """Write `to_bytes()` to `path` atomically (a reader never sees half a file)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(self.to_bytes())
        tmp.replace(path)
        return path

    @classmethod
    def from_bytes(cls, data: bytes, *, backbone: str | Backbone | None = None, **options: Any) -> Classifier:
        """A classifier from `to_bytes()` output; `backbone` overrides the stored name."""
        manifest, arrays = _read_model(data, "the model data")
        settings = {**manifest["settings"], **options}
        if "backbone_tuned" in manifest and not isinstance(backbone, Backbone):
            backbone = _tuned_backbone(data, manifest["backbone_tuned"])  # a project's domain names its base
        clf = cls(backbone or manifest.get("backbone_spec") or manifest["backbone"], **settings)
        if clf.backbone.fingerprint != manifest["backbone_fingerprint"]:
            raise ModelFileError(
                f"the model was trained on backbone {manifest['backbone']!r} with different weights or "
                f"preprocessing than {clf.backbone.name!r} here; its predictions would be meaningless. "
                "Retrain, or load it with the same backbone files."
            )
        clf.model_ = TrainedModel.from_arrays(arrays, manifest["model"])
        clf.model_.unknown_threshold = clf.unknown_threshold
        if "fine_tune" in manifest:
            clf.fine_tune_ = FineTuneSummary.from_dict(manifest["fine_tune"])
        return clf

    @classmethod
    def load(cls, path: str | Path, *, backbone: str | Backbone | None = None, **options: Any) -> Classifier:
        """A saved classifier; `backbone` overrides the stored name (e.g. a model moved to another folder)."""
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"model file not found: {path}")
        return cls.from_bytes(path.read_bytes(), backbone=backbone, **options)


def _tuned_backbone(data: bytes, stored: dict[str, Any]) -> TunedLiteBackbone:
    """The fine-tuned backbone a model file carries, its weights checked against the manifest's sha256."""
    with zipfile.ZipFile(BytesIO(data)) as archive:
        try:
            weights = archive.read(TUNED_WEIGHTS)
        except KeyError:
            raise ModelFileError("the model file names a fine-tuned backbone but does not hold its weights") from None
    backbone = TunedLiteBackbone(LiteArchitecture(**stored["architecture"]), weights)
    if backbone.weights_sha256 != stored["weights_sha256"]:
        raise ModelFileError("the fine-tuned backbone's weights in the model file are damaged (sha256 differs)")
    return backbone


class _Subset(Sequence):
    """Some positions of a (possibly lazy) sequence of images, read only when indexed."""

    def __init__(self, items: Sequence[ImageSource], positions: Sequence[int]):
        self.items, self.positions = items, list(positions)

    def __len__(self) -> int:
        return len(self.positions)

    @overload
    def __getitem__(self, index: int) -> ImageSource: ...
    @overload
    def __getitem__(self, index: slice) -> _Subset: ...
    def __getitem__(self, index: int | slice) -> ImageSource | _Subset:
        if isinstance(index, slice):
            return _Subset(self.items, self.positions[index])
        return self.items[self.positions[index]]


def _read_model(data: bytes, what: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            with np.load(BytesIO(archive.read("arrays.npz")), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ModelFileError(f"{what} is not a Sightline model file ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise ModelFileError(f"{what} is not a Sightline classifier file")
    if manifest.get("version", 0) > FORMAT_VERSION:
        raise ModelFileError(f"{what} was written by a newer Sightline (format {manifest['version']}); upgrade")
    return manifest, arrays
