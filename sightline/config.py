"""Where Sightline keeps things and which limits it enforces, read from the environment.

Every setting has an embedded default so that nothing needs configuring on a laptop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BACKBONE = "hf:google/siglip2-base-patch32-256"


def home() -> Path:
    """Root folder of everything Sightline stores (`SIGHTLINE_HOME`, default `~/.sightline`)."""
    return Path(os.environ.get("SIGHTLINE_HOME") or Path.home() / ".sightline").expanduser()


def cache_dir() -> Path:
    """Derived, re-creatable data: embeddings, exported ONNX graphs, built test models."""
    return Path(os.environ.get("SIGHTLINE_CACHE") or home() / "cache").expanduser()


def models_dir() -> Path | None:
    """Optional folder of pre-downloaded models (`SIGHTLINE_MODELS`), for air-gapped machines."""
    value = os.environ.get("SIGHTLINE_MODELS")
    return Path(value).expanduser() if value else None


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclass(frozen=True)
class ImageLimits:
    """What an accepted image may be. Azure allows 6 MB (training) and 4 MB (prediction); ours are larger."""

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 50_000_000
    min_side: int = 16

    @classmethod
    def from_env(cls) -> ImageLimits:
        return cls(
            max_bytes=env_int("SIGHTLINE_MAX_IMAGE_BYTES", cls.max_bytes),
            max_pixels=env_int("SIGHTLINE_MAX_IMAGE_PIXELS", cls.max_pixels),
            min_side=env_int("SIGHTLINE_MIN_IMAGE_SIDE", cls.min_side),
        )
