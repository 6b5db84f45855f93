"""The `Tagger`: embed images, score every tag, decide which pass (see the package docstring)."""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
from PIL import Image
from scipy.special import expit, softmax

from sightline.backbones import (
    Backbone,
    EmbeddedImages,
    EmbeddingCache,
    create_backbone,
    default_embedding_cache,
    embed_images,
)
from sightline.config import ImageLimits
from sightline.errors import InvalidLabelsError, ModelError, ModelFileError, VocabularyError
from sightline.imaging import ImageSource
from sightline.learn import PlattScaler, TemperatureScaler
from sightline.tagging.common import Mode, Progress, VocabularyInput
from sightline.tagging.results import TagCalibration, TagResult, TagScore
from sightline.tagging.scoring import (
    _LabelScorer,
    _TextScorer,
)
from sightline.tagging.vocabularies import _label_vocabulary, _open_vocabulary

# --- the tagger ---------------------------------------------------------------------------------


def _check_decision(mode: str, threshold: float, top: int | None) -> None:
    if mode not in ("multilabel", "single"):
        raise ValueError(f"mode must be 'multilabel' or 'single', not {mode!r}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
    if top is not None and top < 1:
        raise ValueError(f"top must be at least 1 (or None for no limit), not {top}")


class Tagger:
    """Zero-shot (or fixed-vocabulary) image tagger. See the module docstring for what confidence means.

    `vocabulary`: None (the shipped vocabulary; for an ImageNet-1k classifier, the shipped tags its labels
    map to; another classification backbone's own labels), a `Vocabulary`,
    a list of tag names, or the path of a vocabulary file (TSV or one name per line). For a
    classification backbone, also a mapping tag -> label names whose probabilities are summed
    ({"shoes": ["running shoe", "Loafer", "sandal"]}); a tag name alone must name one label.
    `categories`, `include`, `exclude` filter it (`Vocabulary.filter`). Only tags with confidence >=
    `threshold` are returned, best first, at most `top` of them.
    """

    def __init__(
        self,
        backbone: str | Backbone = "default",
        *,
        vocabulary: VocabularyInput = None,
        mode: Mode = "multilabel",
        threshold: float = 0.5,
        top: int | None = None,
        categories: Iterable[str] | None = None,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        add_parents: bool = True,
        calibration: TagCalibration | str | os.PathLike | None = None,
        cache: EmbeddingCache | Literal["disk"] | None = "disk",
        batch_size: int = 32,
        limits: ImageLimits | None = None,
    ):
        _check_decision(mode, threshold, top)
        self.backbone = create_backbone(backbone) if isinstance(backbone, str) else backbone
        if self.backbone.has_labels:
            vocab, label_sets = _label_vocabulary(self.backbone, vocabulary)
        elif self.backbone.has_text:
            vocab, label_sets = _open_vocabulary(vocabulary), None
        else:
            raise ModelError(
                f"backbone {self.backbone.name!r} cannot tag: it has neither a text tower nor class labels; "
                "use an image-text model (hf:...) or a classification model (onnx:... with labels)"
            )
        if categories is not None or include is not None or exclude is not None:
            filtered = vocab.filter(categories, include, exclude)
            if label_sets is not None:
                position = {name: i for i, name in enumerate(vocab.names())}
                label_sets = [label_sets[position[name]] for name in filtered.names()]
            vocab = filtered
        if not len(vocab):
            raise VocabularyError("no tags left after the category/include/exclude filters")
        self.vocabulary = vocab
        self._label_sets = label_sets
        self.mode: Mode = mode
        self.threshold = threshold
        self.top = top
        self.add_parents = add_parents
        self.cache = default_embedding_cache() if cache == "disk" else cache
        self.batch_size = batch_size
        self.limits = limits
        self.calibration_ = self._checked_calibration(calibration)
        position = {name: i for i, name in enumerate(vocab.names())}
        self._ancestors = [[position[a] for a in vocab.ancestors(tag.name)] for tag in vocab]

    def adjusted(self, *, threshold: float, top: int | None, mode: Mode) -> Tagger:
        """This tagger with another threshold, limit or mode, sharing its backbone and embedded vocabulary.

        A copy per request is cheap: the vocabulary's text embeddings are built once, here if not yet.
        """
        _check_decision(mode, threshold, top)
        self._scorer  # noqa: B018 - built before copying, so that the copy shares it
        other = copy.copy(self)
        other.threshold, other.top, other.mode = threshold, top, mode
        return other

    @property
    def tag_names(self) -> list[str]:
        """Tag names in column order of `predict_proba`."""
        return self.vocabulary.names()

    # -- scoring
    @functools.cached_property
    def _scorer(self) -> _TextScorer | _LabelScorer:
        """Built on first use: embedding the prompts of 1,506 tags takes a while, once per process."""
        if self._label_sets is not None:
            return _LabelScorer(self.backbone, self._label_sets)
        return _TextScorer(self.backbone, self.vocabulary)

    def _embed(self, images: Sequence[ImageSource], progress: Progress | None) -> EmbeddedImages:
        return embed_images(
            self.backbone, images, cache=self.cache, batch_size=self.batch_size, limits=self.limits,
            progress=progress,
        )  # fmt: skip

    def _confidences(self, vectors: np.ndarray) -> np.ndarray:
        z = self._scorer.logits(vectors, self.mode)
        slope, intercept = (self.calibration_.slope, self.calibration_.intercept) if self.calibration_ else (1.0, 0.0)
        return softmax(slope * z, axis=1) if self.mode == "single" else expit(slope * z + intercept)

    def predict_proba(self, images: Sequence[ImageSource], progress: Progress | None = None) -> np.ndarray:
        """(n_images, n_tags) confidences in `tag_names` order, before threshold and hierarchy; NaN rows
        for unusable images."""
        images = _as_list(images)
        embedded = self._embed(images, progress)
        out = np.full((len(images), len(self.vocabulary)), np.nan)
        if embedded.ok_indices:
            out[embedded.ok_indices] = self._confidences(embedded.vectors)
        return out

    def tag(self, images: Sequence[ImageSource] | ImageSource, progress: Progress | None = None) -> list[TagResult]:
        """Tags of each image (paths, bytes or PIL images), in input order; a bad image gets an `error`."""
        images = _as_list(images)
        embedded = self._embed(images, progress)
        results = [TagResult(index=f.index, error=f.error) for f in embedded.failures]
        if embedded.ok_indices:
            confidences = self._confidences(embedded.vectors)
            results += [
                TagResult(index=index, tags=self._decide(row))
                for index, row in zip(embedded.ok_indices, confidences, strict=True)
            ]
        return sorted(results, key=lambda result: result.index)

    def _decide(self, row: np.ndarray) -> list[TagScore]:
        """Threshold, then add the ancestors of each confident tag, then keep the `top` best."""
        tags = self.vocabulary.tags
        kept: dict[int, tuple[float, str | None]] = {}
        # strongest first: a tag already kept has at least the confidence of any tag that comes later
        for i in sorted(np.flatnonzero(row >= self.threshold).tolist(), key=lambda i: -row[i]):
            kept.setdefault(i, (float(row[i]), None))
            for a in self._ancestors[i] if self.add_parents else ():
                if a not in kept:
                    kept[a] = (float(row[i]), tags[i].name) if row[a] < row[i] else (float(row[a]), None)
        ranked = sorted(kept.items(), key=lambda item: (-item[1][0], tags[item[0]].name))[: self.top]
        return [
            TagScore(name=tags[i].name, confidence=confidence, category=tags[i].category, inferred_from=source)
            for i, (confidence, source) in ranked
        ]

    # -- calibration
    def calibrate(
        self,
        images: Sequence[ImageSource],
        tag_lists: Sequence[Sequence[str] | str],
        *,
        tags: Iterable[str] | None = None,
    ) -> Tagger:
        """Fit `calibration_` on labelled images: `tag_lists[i]` are the tags present in image i.

        multilabel: the labels are taken as complete for `tags` (default: every tag named in
        `tag_lists`): such a tag missing from an image's list means it is absent (a listed tag's
        ancestors count as present). single: one tag per image, the classes are the whole vocabulary.
        Unusable images are skipped. Returns self.
        """
        images = _as_list(images)
        if len(images) != len(tag_lists):
            raise InvalidLabelsError(f"{len(images)} images but {len(tag_lists)} tag lists: give one list per image")
        label_sets = [self._known_tags([labels] if isinstance(labels, str) else labels) for labels in tag_lists]
        embedded = self._embed(images, None)
        if not embedded.ok_indices:
            raise InvalidLabelsError("none of the calibration images could be used")
        z = self._scorer.logits(embedded.vectors, self.mode)
        label_sets = [label_sets[i] for i in embedded.ok_indices]
        if self.mode == "single":
            slope, intercept, scored = self._fit_temperature(z, label_sets), 0.0, self.tag_names
        else:
            slope, intercept, scored = self._fit_platt(z, label_sets, tags)
        self.calibration_ = TagCalibration(
            slope=slope, intercept=intercept, mode=self.mode, backbone=self.backbone.name,
            fingerprint=self.backbone.fingerprint, images=len(label_sets), tags=tuple(scored),
        )  # fmt: skip
        return self

    def _known_tags(self, names: Iterable[str]) -> list[str]:
        known = []
        for name in names:
            tag = self.vocabulary.get(name) if isinstance(name, str) else None
            if tag is None:
                raise InvalidLabelsError(f"{name!r} is not a tag of this tagger's vocabulary")
            known.append(tag.name)
        return known

    def _fit_platt(
        self, z: np.ndarray, label_sets: list[list[str]], tags: Iterable[str] | None
    ) -> tuple[float, float, list[str]]:
        scored = self._known_tags(tags) if tags is not None else sorted({t for labels in label_sets for t in labels})
        position = {name: i for i, name in enumerate(self.tag_names)}
        columns = [position[name] for name in scored]
        present = np.zeros((len(label_sets), len(columns)), dtype=int)
        for row, labels in enumerate(label_sets):
            implied = set(labels).union(*(self.vocabulary.ancestors(t) for t in labels))
            present[row] = [name in implied for name in scored]
        if present.min() == present.max():
            raise InvalidLabelsError(
                "calibration needs both cases among the labels: images with and without the tags; "
                "give images that lack some of the tags, or name more tags with `tags=`"
            )
        # one map for all tags: pooled (image, tag) pairs are a single column to the learn package's scaler
        platt = PlattScaler().fit(z[:, columns].reshape(-1, 1), present.reshape(-1, 1))
        return float(platt.slope_[0]), float(platt.offset_[0]), scored

    def _fit_temperature(self, z: np.ndarray, label_sets: list[list[str]]) -> float:
        if any(len(labels) != 1 for labels in label_sets):
            raise InvalidLabelsError("single mode calibration needs exactly one tag per image")
        position = {name: i for i, name in enumerate(self.tag_names)}
        truth = np.array([position[labels[0]] for labels in label_sets])
        return 1.0 / TemperatureScaler().fit(z, truth).temperature_

    def _checked_calibration(self, calibration: TagCalibration | str | os.PathLike | None) -> TagCalibration | None:
        if calibration is None:
            return None
        if not isinstance(calibration, TagCalibration):
            calibration = TagCalibration.load(calibration)
        if calibration.fingerprint != self.backbone.fingerprint:
            raise ModelFileError(
                f"the calibration was fitted on backbone {calibration.backbone!r}, not on {self.backbone.name!r} "
                "with these weights: its scores mean something else here. Calibrate again on this backbone."
            )
        if calibration.mode != self.mode:
            raise ModelFileError(f"the calibration was fitted in {calibration.mode} mode; this tagger is {self.mode}")
        return calibration


def suggest_tags(
    images: Sequence[ImageSource], tag_names: Sequence[str], backbone: str | Backbone = "default"
) -> list[list[tuple[str, float]]]:
    """Custom Vision's Smart Labeler: per image, a project's own tag names ranked by zero-shot score.

    Scores are the independent multilabel confidences of `Tagger`; an unusable image gets an empty
    list (it cannot be tagged or trained on anyway).
    """
    tagger = Tagger(backbone, vocabulary=list(tag_names), threshold=0.0, add_parents=False)
    own_name = {  # "Ripe", not "ripe"
        tag.name: name for name in reversed(tag_names) if (tag := tagger.vocabulary.get(name)) is not None
    }
    return [[(own_name[t.name], t.confidence) for t in result.tags] for result in tagger.tag(images)]


def _as_list(images: Sequence[ImageSource] | ImageSource) -> Sequence[ImageSource]:
    """One image is a list of one: a path string must not be read as a sequence of characters."""
    if isinstance(images, str | bytes | bytearray | os.PathLike | Image.Image):
        return [images]
    return images
