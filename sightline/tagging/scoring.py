"""Raw tag scores of embedded images: against the tags' text embeddings, or from a classifier's labels."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from scipy.special import logit, softmax

from sightline.backbones import (
    Backbone,
    l2_normalize,
)
from sightline.tagging.common import _EPS, NEUTRAL_PROMPTS, Mode
from sightline.vocabulary import Vocabulary, prompts_for

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
