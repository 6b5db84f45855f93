"""Pre-built tagging: "what is in this photo?" with no training, like Azure AI Vision's `tags`.

Two kinds of backbone tag images:

- image-text models (`has_text`: CLIP, SigLIP) score an image against the text embedding of every tag
  of an open vocabulary (the shipped 1,506 tags, or any list of words);
- classification models (`task == "classification"`, e.g. an ImageNet ONNX network) have a fixed
  vocabulary: their labels are the tags and their probabilities the confidences.

Multi-label by default: each tag gets its own independent score, so several can be right at once and
adding tags to the vocabulary never changes another tag's score. `mode="single"` instead shares one
softmax across the given tags: an instant zero-shot classifier over, say, "ripe, unripe, rotten".

What "confidence" means (multilabel)
------------------------------------
Every tag's confidence is `sigmoid(z)` of a raw score `z` that depends only on that tag and the image:

- SigLIP-family models (`sigmoid_zero_shot`) were trained with one sigmoid per image-text pair, so
  `z = scale * cos(image, tag) + bias` with the model's own learned scale and bias: the confidence is
  the model's own probability that the tag's captions match the photo. These are known to be
  conservative (a correct tag often scores 0.2-0.4), so few tags pass the default 0.5.
- CLIP-family models were trained with a softmax over captions and have no bias, so a lone
  `cos(image, tag)` has no absolute meaning. Each tag is therefore scored against a fixed neutral
  caption ("a photo.", "an image.", ...: `NEUTRAL_PROMPTS`, embedded by the same backbone):
  `z = scale * (cos(image, tag) - cos(image, neutral))`. The confidence is the probability CLIP itself
  gives the tag's captions when asked to choose between them and a caption that names nothing: above
  0.5 when the tag describes the photo better than "a photo." does. The neutral caption is per image
  and per backbone, fitted to no data.
- Classification models: the summed softmax probability of the tag's labels (noisy-or for sigmoid
  outputs), i.e. the network's own probability.

None of these is a calibrated probability that the tag is present: that needs labelled images.
`Tagger.calibrate(images, tag_lists)` fits one Platt map `sigmoid(slope * z + intercept)` shared by all
tags (one softmax temperature in single mode) on your labelled photos; it is saved and loaded as JSON
(`TagCalibration`) and only applies to the backbone it was fitted on.

Hierarchy: when a tag passes the threshold, its ancestors in the vocabulary ("golden retriever" -> dog,
mammal, animal) are reported too, with the child's confidence when theirs is lower, and
`inferred_from` naming the tag that implied them (as Amazon Rekognition's parents).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image
from scipy.special import expit, logit, softmax

from sightline.backbones import (
    Backbone,
    EmbeddedImages,
    EmbeddingCache,
    create_backbone,
    default_embedding_cache,
    embed_images,
    l2_normalize,
)
from sightline.config import ImageLimits
from sightline.errors import ImageError, InvalidLabelsError, ModelError, ModelFileError, VocabularyError
from sightline.imaging import ImageSource
from sightline.learn import PlattScaler, TemperatureScaler
from sightline.vocabulary import Vocabulary, imagenet_vocabulary, load_default_vocabulary, prompts_for

__all__ = [
    "NEUTRAL_PROMPTS",
    "TagCalibration",
    "TagResult",
    "TagScore",
    "Tagger",
    "suggest_tags",
]

Mode = Literal["multilabel", "single"]
Progress = Callable[[int, int], None]
VocabularyInput = Vocabulary | Mapping[str, Sequence[str]] | Sequence[str] | str | Path | None

#: Captions that name nothing: CLIP-family tags are scored against them (see the module docstring).
NEUTRAL_PROMPTS: tuple[str, ...] = (
    "a photo.",
    "a picture.",
    "an image.",
    "a photo of something.",
    "a photo of an object.",
    "a close-up photo.",
)
CALIBRATION_FORMAT = "sightline-tag-calibration"
_EPS = 1e-6


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagScore:
    """One tag of one image. `inferred_from` names the detected tag that implied it (a parent), else None."""

    name: str
    confidence: float
    category: str
    inferred_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TagResult:
    """The tags of one input image, best first; `error` is set (and `tags` empty) when it was unusable."""

    index: int
    tags: list[TagScore] = field(default_factory=list)
    error: ImageError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"index": self.index, "error": {"reason": self.error.reason, "message": str(self.error)}}
        return {"index": self.index, "tags": [tag.to_dict() for tag in self.tags]}


@dataclass(frozen=True)
class TagCalibration:
    """A Platt map of a tagger's raw scores, fitted on labelled images by `Tagger.calibrate`.

    multilabel: confidence = sigmoid(slope * z + intercept), one map shared by every tag, so it also
    applies to tags that had no labels (it re-fits the backbone's scale and bias for your photos).
    single: confidence = softmax(slope * z) (temperature scaling; `intercept` is 0).
    """

    slope: float
    intercept: float
    mode: Mode
    backbone: str
    fingerprint: str
    images: int
    tags: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"format": CALIBRATION_FORMAT, "version": 1, **asdict(self), "tags": list(self.tags)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TagCalibration:
        if not isinstance(data, Mapping) or data.get("format") != CALIBRATION_FORMAT:
            raise ModelFileError("not a Sightline tag calibration (expected JSON from TagCalibration.save)")
        try:
            return cls(
                slope=float(data["slope"]), intercept=float(data["intercept"]), mode=data["mode"],
                backbone=str(data["backbone"]), fingerprint=str(data["fingerprint"]),
                images=int(data["images"]), tags=tuple(data["tags"]),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"damaged tag calibration: {exc!r}") from None

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> TagCalibration:
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise ModelFileError(f"calibration file not found: {path}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"cannot read calibration file {path}: {exc}") from None


# --- scoring ------------------------------------------------------------------------------------


class _TextScorer:
    """Tags of an image-text backbone: cosine similarity to each tag's prompt-ensemble embedding."""

    def __init__(self, backbone: Backbone, vocabulary: Vocabulary):
        self.backbone = backbone
        ensembles = [tuple(prompts_for(tag)) for tag in vocabulary]
        if backbone.sigmoid_zero_shot:
            self.text, self.neutral = _text_embeddings(backbone, ensembles), None
        else:
            *text, self.neutral = _text_embeddings(backbone, [*ensembles, NEUTRAL_PROMPTS])
            self.text = np.stack(text)

    def logits(self, vectors: np.ndarray, mode: Mode) -> np.ndarray:
        images = l2_normalize(vectors)
        cos = images @ self.text.T
        # read after embedding text: a backbone may learn its scale and bias when its model loads
        scale, bias = self.backbone.zero_shot_scale, self.backbone.zero_shot_bias
        if mode == "single":
            return scale * cos
        if self.neutral is None:
            return scale * cos + bias
        return scale * (cos - (images @ self.neutral)[:, None])


class _LabelScorer:
    """Tags of a classification backbone: the probability of each tag's labels, combined."""

    def __init__(self, backbone: Backbone, label_sets: Sequence[Sequence[int]]):
        self.backbone = backbone
        self.members = np.zeros((len(backbone.labels), len(label_sets)), dtype=np.float32)
        for column, labels in enumerate(label_sets):
            self.members[list(labels), column] = 1.0
        activation = getattr(backbone, "activation", "softmax")
        self.exclusive = activation != "sigmoid"
        self.raw_logits = activation == "none"

    def logits(self, vectors: np.ndarray, mode: Mode) -> np.ndarray:
        vectors = self.backbone.label_probabilities(vectors)
        probs = softmax(vectors, axis=1) if self.raw_logits else vectors
        if self.exclusive:  # softmax labels are exclusive events: their probabilities add up
            tag_probs = probs @ self.members
        else:  # independent sigmoid labels: P(any of them) by noisy-or
            tag_probs = 1.0 - np.exp(np.log1p(-np.clip(probs, 0.0, 1 - _EPS)) @ self.members)
        tag_probs = np.clip(tag_probs, _EPS, 1 - _EPS)
        return np.log(tag_probs) if mode == "single" else logit(tag_probs)


_text_vectors: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
_text_vectors_lock = threading.Lock()
_TEXT_VECTORS_MAX = 50_000  # bounds a long-lived server that sees many custom vocabularies


def _text_embeddings(backbone: Backbone, ensembles: Sequence[tuple[str, ...]]) -> np.ndarray:
    """One unit vector per prompt ensemble (the normalised mean of its prompts' unit embeddings).

    Kept in memory per (backbone, ensemble), so a tag's text is embedded once per process whatever
    vocabulary or filter it comes with; the backbone's disk cache makes later processes cheap too.
    """
    with _text_vectors_lock:
        keys = [(backbone.fingerprint, ensemble) for ensemble in ensembles]
        missing = list(dict.fromkeys(key for key in keys if key not in _text_vectors))
        if missing:
            prompts = [prompt for _, ensemble in missing for prompt in ensemble]
            embedded = l2_normalize(backbone.embed_text(prompts))
            start = 0
            for key in missing:
                stop = start + len(key[1])
                _text_vectors[key] = l2_normalize(embedded[start:stop].mean(axis=0))
                start = stop
            while len(_text_vectors) > _TEXT_VECTORS_MAX:
                _text_vectors.pop(next(iter(_text_vectors)))
        return np.stack([_text_vectors[key] for key in keys]).astype(np.float32)


# --- vocabularies -------------------------------------------------------------------------------


def _label_key(text: str) -> str:
    return " ".join(text.replace("_", " ").split()).lower()


class _LabelIndex:
    """Finds a classification backbone's labels by tag name, full label, or one of its aliases.

    ImageNet-style labels list aliases ("jersey, T-shirt, tee shirt"); a tag is named by the first
    alias that no other label starts with, so names stay short and unique ("crane" twice: "crane (2)").
    """

    def __init__(self, labels: Sequence[str]):
        aliases = [[_label_key(a) for a in label.split(",") if a.strip()] or [_label_key(label)] for label in labels]
        first_counts = Counter(names[0] for names in aliases)
        self.names: list[str] = [""] * len(labels)
        taken: set[str] = set()
        for i, names in enumerate(aliases):  # unique first aliases, then another alias of the label
            if first_counts[names[0]] == 1:
                self.names[i] = names[0]
            else:
                self.names[i] = next((a for a in names[1:] if a not in first_counts and a not in taken), "")
            taken.add(self.names[i])
        for i, names in enumerate(aliases):  # the rest keep their first alias, numbered when taken
            if not self.names[i]:
                self.names[i] = names[0] if names[0] not in taken else f"{names[0]} ({i})"
                taken.add(self.names[i])
        self._by_name = {name: i for i, name in enumerate(self.names)}
        self._by_label = {_label_key(label): i for i, label in enumerate(labels)}
        self._by_alias: dict[str, list[int]] = {}
        for i, names in enumerate(aliases):
            for alias in names:
                self._by_alias.setdefault(alias, []).append(i)

    def find(self, text: str, *, for_tag: str) -> int:
        key = _label_key(text)
        if key in self._by_name:
            return self._by_name[key]
        if key in self._by_label:
            return self._by_label[key]
        matches = self._by_alias.get(key, [])
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = ", ".join(repr(self.names[i]) for i in matches)
            raise VocabularyError(f"tag {for_tag!r}: {text!r} names several labels of the model ({names}); pick one")
        raise VocabularyError(f"tag {for_tag!r}: {text!r} is not a label of the model")


def _open_vocabulary(vocabulary: VocabularyInput) -> Vocabulary:
    if vocabulary is None:
        return load_default_vocabulary()
    if isinstance(vocabulary, Vocabulary):
        return vocabulary
    if isinstance(vocabulary, str | os.PathLike):
        return Vocabulary.from_file(vocabulary)
    if isinstance(vocabulary, Mapping):
        raise VocabularyError(
            "a mapping of tag -> label names is for classification backbones; give an image-text model a list of tags"
        )
    return Vocabulary.from_names(vocabulary)


def _label_vocabulary(backbone: Backbone, vocabulary: VocabularyInput) -> tuple[Vocabulary, list[list[int]]]:
    """The tags of a classification backbone, and which of its labels each tag stands for."""
    if vocabulary is None:
        tags, imagenet, label_sets = imagenet_vocabulary()
        if tuple(label.strip() for label in backbone.labels) == imagenet:  # ImageNet-1k: the built-in tags
            return tags, [list(labels) for labels in label_sets]
    index = _LabelIndex(backbone.labels)
    if vocabulary is None:
        return Vocabulary.from_names(index.names), [[i] for i in range(len(index.names))]
    if isinstance(vocabulary, Mapping):
        names = list(vocabulary)
        tags = Vocabulary.from_names(names)
        if len(tags) != len(names):
            raise VocabularyError("two tags of the mapping have the same name (names ignore case and spacing)")
        label_sets = []
        for tag, labels in zip(tags, vocabulary.values(), strict=True):
            if isinstance(labels, str) or not labels:
                raise VocabularyError(f"tag {tag.name!r}: map it to a non-empty list of label names")
            label_sets.append(sorted({index.find(label, for_tag=tag.name) for label in labels}))
        return tags, label_sets
    tags = _open_vocabulary(vocabulary)
    return tags, [[index.find(tag.name, for_tag=tag.name)] for tag in tags]


def _check_decision(mode: str, threshold: float, top: int | None) -> None:
    if mode not in ("multilabel", "single"):
        raise ValueError(f"mode must be 'multilabel' or 'single', not {mode!r}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
    if top is not None and top < 1:
        raise ValueError(f"top must be at least 1 (or None for no limit), not {top}")


# --- the tagger ---------------------------------------------------------------------------------


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
    own_name = {tagger.vocabulary.get(name).name: name for name in reversed(tag_names)}  # "Ripe", not "ripe"
    return [[(own_name[t.name], t.confidence) for t in result.tags] for result in tagger.tag(images)]


def _as_list(images: Sequence[ImageSource] | ImageSource) -> Sequence[ImageSource]:
    """One image is a list of one: a path string must not be read as a sequence of characters."""
    if isinstance(images, str | bytes | bytearray | os.PathLike | Image.Image):
        return [images]
    return images
