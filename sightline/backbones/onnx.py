"""`onnx:PATH` backbones: any ONNX image model described by a JSON sidecar next to it.

The sidecar (`PATH` with `.json`) says how to feed and read the graph, so a user can bring a model
from any framework without writing code. See DESIGN.md for the fields. `output.activation` says what
the graph already outputs: `softmax` or `sigmoid` probabilities, or `none` for raw scores.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sightline.backbones.base import Backbone, digest
from sightline.backbones.graph import GraphTail, extend_graph, require_onnx
from sightline.backbones.runtime import create_onnx_session
from sightline.errors import ModelConfigError, ModelNotFoundError
from sightline.imaging import PreprocessSpec

if TYPE_CHECKING:
    import onnx

_ACTIVATIONS = ("softmax", "sigmoid", "none")


def sidecar_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _require(mapping: dict[str, Any], key: str, where: str, sidecar: Path) -> Any:
    if key not in mapping:
        raise ModelConfigError(f"{sidecar}: missing `{where}{key}` in the model's JSON sidecar")
    return mapping[key]


def read_sidecar(model_path: Path) -> dict[str, Any]:
    sidecar = sidecar_path(model_path)
    if not sidecar.is_file():
        raise ModelConfigError(
            f"ONNX model {model_path} has no sidecar {sidecar.name}: write one describing its input "
            '(e.g. {"task": "embedding", "input": {"name": ..., "height": 224, "width": 224, ...}, '
            '"output": {"name": ..., "dim": ...}}; see DESIGN.md)'
        )
    try:
        return json.loads(sidecar.read_text())
    except json.JSONDecodeError as exc:
        raise ModelConfigError(f"{sidecar} is not valid JSON: {exc}") from None


def preprocess_from_sidecar(spec: dict[str, Any], sidecar: Path) -> PreprocessSpec:
    """The sidecar's `input` block as a PreprocessSpec, with its values checked."""
    try:
        return PreprocessSpec(
            height=int(_require(spec, "height", "input.", sidecar)),
            width=int(_require(spec, "width", "input.", sidecar)),
            resize=spec.get("resize", "stretch"),
            resample=spec.get("resample", "bilinear"),
            layout=spec.get("layout", "NCHW"),
            color=spec.get("color", "RGB"),
            mean=tuple(float(v) for v in spec.get("mean", (0.0, 0.0, 0.0))),
            std=tuple(float(v) for v in spec.get("std", (1.0, 1.0, 1.0))),
        )
    except (TypeError, ValueError) as exc:
        raise ModelConfigError(f"{sidecar}: invalid `input` block: {exc}") from None


class OnnxBackbone(Backbone):
    """An ONNX graph run by ONNX Runtime, fed and read as its sidecar describes."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise ModelNotFoundError(f"ONNX model not found: {self.path}")
        sidecar = sidecar_path(self.path)
        meta = read_sidecar(self.path)
        self.task = meta.get("task", "embedding")
        if self.task not in ("embedding", "classification"):
            raise ModelConfigError(f"{sidecar}: `task` must be embedding or classification, not {self.task!r}")
        input_spec = _require(meta, "input", "", sidecar)
        output_spec = _require(meta, "output", "", sidecar)
        self._preprocess = preprocess_from_sidecar(input_spec, sidecar)
        self._input_name = _require(input_spec, "name", "input.", sidecar)
        self._output_name = _require(output_spec, "name", "output.", sidecar)
        self.activation = output_spec.get("activation", "none")
        if self.activation not in _ACTIVATIONS:
            raise ModelConfigError(f"{sidecar}: output.activation must be one of {_ACTIVATIONS}")
        self.name = meta.get("name") or self.path.stem
        self.license = meta.get("license")
        self._keep, self.labels = self._read_labels(meta, sidecar)
        self._dim = len(self.labels) if self.labels else int(_require(output_spec, "dim", "output.", sidecar))
        self._fingerprint = digest("onnx", _file_sha256(self.path), meta)
        self._session = create_onnx_session(self.path)

    def _read_labels(self, meta: dict[str, Any], sidecar: Path) -> tuple[np.ndarray | None, tuple[str, ...]]:
        """Labels file lines, minus `ignore_labels`; returns the output columns to keep with them."""
        if not meta.get("labels"):
            if self.task == "classification":
                raise ModelConfigError(f"{sidecar}: a classification model needs a `labels` file")
            return None, ()
        labels_path = self.path.parent / meta["labels"]
        if not labels_path.is_file():
            raise ModelConfigError(f"{sidecar}: labels file {labels_path} not found")
        all_labels = [line.strip() for line in labels_path.read_text().splitlines() if line.strip()]
        ignore = set(meta.get("ignore_labels", ()))
        keep = [i for i, label in enumerate(all_labels) if label not in ignore]
        return np.asarray(keep), tuple(all_labels[i] for i in keep)

    @property
    def preprocess(self) -> PreprocessSpec:
        return self._preprocess

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        (out,) = self._session.run([self._output_name], {self._input_name: np.ascontiguousarray(pixels)})
        out = out.reshape(out.shape[0], -1).astype(np.float32, copy=False)
        if self._keep is not None:
            out = out[:, self._keep]
            if self.activation == "softmax":  # dropping `background` must not leave mass behind
                out = out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)
        return out

    def image_graph(self) -> onnx.ModelProto:
        """The model file with `embed_pixels`' own steps appended: flatten, drop ignored labels, renormalise."""
        onnx = require_onnx()
        model = onnx.load(str(self.path))
        tail = GraphTail("sightline_backbone")
        out = tail.op("Flatten", [self._output_name], "flat", axis=1)
        out = tail.op("Cast", [out], "float", to=onnx.TensorProto.FLOAT)
        if self._keep is not None:
            out = tail.op("Gather", [out, tail.const("keep", self._keep)], "kept", axis=1)
            if self.activation == "softmax":
                out = tail.divide_by_row_sum(out, self.dim, out, "renormalised")
        return extend_graph(model, tail, out, self.dim)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "path": str(self.path), "license": self.license}
