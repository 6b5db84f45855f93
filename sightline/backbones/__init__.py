"""Image encoders behind one interface, created by name.

Names: `hf:<model id or folder>`, `onnx:<path to .onnx>`, `efficientnet-lite0/1/2` (ImageNet weights that
come with pip), `tiny` (random weights, tests only), and `default` (the recommended image-text model, or
`SIGHTLINE_BACKBONE`; offline, the packaged `efficientnet-lite0`).
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from sightline.backbones.base import Backbone, l2_normalize
from sightline.backbones.cache import DiskEmbeddingCache, EmbeddingCache, MemoryEmbeddingCache
from sightline.backbones.catalog import CATALOG
from sightline.backbones.lite import PACKAGED_DEFAULT
from sightline.backbones.lite import VARIANTS as LITE_VARIANTS
from sightline.backbones.runtime import EmbeddedImages, embed_images
from sightline.config import DEFAULT_BACKBONE, cache_dir, env_flag, env_text, models_dir
from sightline.errors import UnknownBackboneError

__all__ = [
    "PACKAGED_DEFAULT",
    "Backbone",
    "DiskEmbeddingCache",
    "EmbeddedImages",
    "EmbeddingCache",
    "MemoryEmbeddingCache",
    "create_backbone",
    "default_backbone_name",
    "default_embedding_cache",
    "embed_images",
    "l2_normalize",
    "list_backbones",
    "resolve_backbone_name",
]

log = logging.getLogger(__name__)

_instances: dict[tuple[str, str], Backbone] = {}
_instances_lock = threading.Lock()


def default_embedding_cache() -> EmbeddingCache:
    """The on-disk cache under SIGHTLINE_CACHE that the engine uses when not given another."""
    return DiskEmbeddingCache(cache_dir() / "embeddings")


def default_backbone_name() -> str:
    """What `default` means here: `SIGHTLINE_BACKBONE`, else the recommended image-text model when its
    weights can be had, else the packaged EfficientNet-Lite0 (said once, in one line), never `tiny`."""
    chosen = env_text("SIGHTLINE_BACKBONE")
    if chosen:
        return chosen
    return _default_here(str(env_flag("HF_HUB_OFFLINE")), env_text("SIGHTLINE_MODELS") or "",
                         env_text("HF_HOME") or "")  # fmt: skip


@functools.cache
def _default_here(*environment: str) -> str:
    """Cached per environment: asking the hub takes up to seconds, and the answer rarely changes."""
    from sightline.backbones.hf import weights_available

    if weights_available(DEFAULT_BACKBONE[3:]):
        return DEFAULT_BACKBONE
    log.warning(
        "the default model %s is not on this machine and cannot be downloaded now; using %s, the packaged "
        "ImageNet model (image features and ImageNet tags, no text tower)", DEFAULT_BACKBONE, PACKAGED_DEFAULT,
    )  # fmt: skip
    return PACKAGED_DEFAULT


def resolve_backbone_name(name: str) -> str:
    """The concrete backbone a name stands for: what projects and model files store, never `default`."""
    return default_backbone_name() if name == "default" else name


def _create(name: str, device: str) -> Backbone:
    if name == "tiny-lite":
        from sightline.backbones.tuned import TunedLiteBackbone

        return TunedLiteBackbone.random()
    if name == "tiny" or name.startswith("tiny:"):
        from sightline.backbones.tiny import create_tiny_backbone

        seed = int(name.split(":", 1)[1]) if ":" in name else 0
        return create_tiny_backbone(seed, device=device)
    if name.startswith("hf:"):
        from sightline.backbones.hf import HFBackbone

        return HFBackbone(name[3:], device=device)
    if name in LITE_VARIANTS:
        from sightline.backbones.lite import LiteBackbone

        return LiteBackbone(name, device=device)
    if name.startswith("onnx:"):
        from sightline.backbones.onnx import OnnxBackbone

        return OnnxBackbone(name[5:])
    raise UnknownBackboneError(
        f"unknown backbone {name!r}: use `hf:<model id>`, `onnx:<path.onnx>`, "
        f"{', '.join(f'`{v}`' for v in LITE_VARIANTS)}, `tiny`, `tiny-lite` or `default`"
    )


def create_backbone(name: str = "default", *, device: str = "auto") -> Backbone:
    """The backbone called `name`, created once per process (sessions and models are reused)."""
    name = resolve_backbone_name(name)
    key = (f"{name}@{device}", str(cache_dir()))
    with _instances_lock:
        if key not in _instances:
            _instances[key] = _create(name, device)
            _instances[key].spec = name
        return _instances[key]


def list_backbones() -> list[dict[str, Any]]:
    """Known backbones: the catalog, `tiny`, and ONNX models found in `SIGHTLINE_MODELS`."""
    rows: list[dict[str, Any]] = [
        {
            "name": entry.name,
            "license": entry.license,
            "has_text": entry.has_text,
            "zero_shot_imagenet": entry.zero_shot_imagenet,
            "default": entry.name == default_backbone_name(),
        }
        for entry in CATALOG
    ]
    rows += [
        {"name": v.spec, "display_name": v.display, "license": "Apache-2.0", "has_text": False,
         "zero_shot_imagenet": None, "imagenet_top1": v.imagenet_top1, "resolution": v.resolution,
         "default": v.spec == default_backbone_name(), "note": f"pip package {v.package}: works offline"}
        for v in LITE_VARIANTS.values()
    ]  # fmt: skip
    rows.append({"name": "tiny", "license": "Apache-2.0", "has_text": True, "zero_shot_imagenet": None,
                 "default": False, "note": "random weights: tests and offline demos only"})  # fmt: skip
    folder = models_dir()
    if folder and folder.is_dir():
        for path in sorted(folder.rglob("*.onnx")):
            if path.with_suffix(".json").is_file():
                rows.append({"name": f"onnx:{path}", "license": None, "has_text": False, "default": False})
    return rows
