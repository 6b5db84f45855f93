"""An EfficientNet-Lite whose weights are given, not installed: a fine-tuned backbone, or `tiny-lite`.

Fine-tuning (`sightline.finetune`) changes the network's weights, so the result cannot point at the
pip package's file: it carries its own weights (a flat npz of float32 arrays, no pickle) and its
architecture. Its fingerprint is the sha256 of those bytes with the architecture and preprocessing,
so the embedding cache and the cached ONNX export key on the fine-tuned weights themselves.
On CPU it runs from its own ONNX export (parity checked) like the packaged networks.

`tiny-lite` is a randomly initialised, narrow, shallow, 32-pixel EfficientNet-Lite for tests: the
same network code and fine-tuning path as the real ones, in a fraction of a second per batch.
"""

from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sightline.backbones.base import Backbone, digest
from sightline.backbones.graph import require_onnx
from sightline.backbones.torch_export import ExportedTower, export_tower, tower_path
from sightline.errors import ExportError, ModelFileError
from sightline.imaging import PreprocessSpec

if TYPE_CHECKING:
    import onnx

    from sightline.backbones.lite_net import EfficientNetLite

TUNED_VERSION = 1
_LITE_MEAN, _LITE_STD = (127 / 255,) * 3, (128 / 255,) * 3


@dataclass(frozen=True)
class LiteArchitecture:
    """What builds the network before its weights are loaded: `EfficientNetLite(width, depth, resolution)`."""

    width: float
    depth: float
    resolution: int
    base: str  # the backbone it started from ("efficientnet-lite0", "tiny-lite")

    def build(self, classes: int = 1) -> EfficientNetLite:
        from sightline.backbones.lite_net import EfficientNetLite

        return EfficientNetLite(self.width, self.depth, self.resolution, classes=classes)

    @property
    def preprocess(self) -> PreprocessSpec:
        """TensorFlow's EfficientNet-Lite input, (p - 127) / 128, the whole photo stretched (as `lite.py`)."""
        size = self.resolution
        return PreprocessSpec(height=size, width=size, resize="stretch", resample="bilinear", mean=_LITE_MEAN,
                              std=_LITE_STD)  # fmt: skip


TINY_LITE = LiteArchitecture(width=0.25, depth=0.1, resolution=32, base="tiny-lite")


def weights_to_bytes(state: dict[str, Any]) -> bytes:
    """A torch state dict (features only: `_fc` is the ImageNet layer, not ours) as npz bytes."""
    arrays = {k: v.detach().float().cpu().numpy() for k, v in state.items() if not k.startswith("_fc.")}
    out = io.BytesIO()
    np.savez(out, **{k: v for k, v in sorted(arrays.items()) if not k.endswith("num_batches_tracked")})
    return out.getvalue()


class TunedLiteBackbone(Backbone):
    """EfficientNet-Lite features (1280-d) computed with the weights in `weights` (npz bytes)."""

    task = "embedding"

    def __init__(self, architecture: LiteArchitecture, weights: bytes, *, name: str | None = None):
        self.architecture = architecture
        self.weights = weights
        self.weights_sha256 = hashlib.sha256(weights).hexdigest()
        self.name = name or f"{architecture.base} (fine-tuned {self.weights_sha256[:8]})"
        self.spec = ""  # not creatable by name: it travels inside the model file
        self._preprocess = architecture.preprocess
        self._fingerprint = digest("tuned-lite", asdict(architecture), self.weights_sha256, self._preprocess,
                                   TUNED_VERSION)  # fmt: skip
        self._lock = threading.Lock()
        self._network: Any = None
        self._tower = ExportedTower(tower_path(self._fingerprint), self._export)

    @classmethod
    def random(cls, architecture: LiteArchitecture = TINY_LITE, seed: int = 0) -> TunedLiteBackbone:
        """Random (seeded) weights: `tiny-lite`, for tests."""
        import torch

        torch.manual_seed(seed)
        network = architecture.build()
        return cls(architecture, weights_to_bytes(network.state_dict()), name=architecture.base)

    @property
    def preprocess(self) -> PreprocessSpec:
        return self._preprocess

    @property
    def dim(self) -> int:
        return 1280

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def torch_network(self) -> EfficientNetLite:
        """The float32 network with these weights (a new module each call is not needed: built once)."""
        with self._lock:
            if self._network is None:
                self._network = self.build_network()
            return self._network

    def build_network(self) -> EfficientNetLite:
        """A fresh float32 network with these weights (for fine-tuning it further, say)."""
        import torch

        network = self.architecture.build()
        try:
            with np.load(io.BytesIO(self.weights), allow_pickle=False) as stored:
                state = {k: torch.from_numpy(stored[k].copy()) for k in stored.files}
        except (ValueError, OSError) as exc:
            raise ModelFileError(f"the fine-tuned weights of {self.name} are unreadable ({exc})") from None
        missing, unexpected = network.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("_fc.") and not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise ModelFileError(f"the fine-tuned weights of {self.name} do not fit its network: "
                                 f"missing {missing[:3]}, unexpected {unexpected[:3]}")  # fmt: skip
        return network.eval()

    def _export(self, path: Path) -> bool:
        from sightline.backbones.lite_net import FeaturesOnly

        size = self.architecture.resolution
        return export_tower(FeaturesOnly(self.torch_network()).eval(), (3, size, size), path, name=self.name)

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        session = self._tower.session()
        if session is not None:
            return session.run(None, {"pixel_values": np.ascontiguousarray(pixels)})[0].astype(np.float32)
        import torch

        with torch.inference_mode():
            return self.torch_network().features(torch.from_numpy(np.ascontiguousarray(pixels))).numpy()

    def image_graph(self) -> onnx.ModelProto:
        if not self._tower.ensure():
            raise ExportError(f"{self.name} could not be exported to ONNX (see the log)")
        return require_onnx().load(str(self._tower.path))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "base": self.architecture.base, "weights_sha256": self.weights_sha256}


def can_fine_tune(spec: str) -> bool:
    """Whether Advanced training can adapt the backbone this spec creates (checked without loading it)."""
    from sightline.backbones.lite import VARIANTS

    return spec in VARIANTS or spec == TINY_LITE.base
