"""Where Sightline keeps things and which limits it enforces, read from the environment.

Every setting has an embedded default so that nothing needs configuring on a laptop. Every numeric or
yes/no `SIGHTLINE_*` variable is declared once in `SETTINGS` and parsed by `env_int`, `env_float` or
`env_flag`, so a bad value is the same one-line `ConfigError` wherever it is read; `check_environment()`
reads them all at start-up (the CLI exits 2 on the first bad one) instead of failing on first use.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sightline.errors import ConfigError

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


@dataclass(frozen=True)
class Setting:
    """A numeric or yes/no environment variable: its type, its smallest accepted value, and what it does."""

    kind: type  # int, float or bool
    minimum: float | None
    help: str

    def accepts(self) -> str:
        """What a person may write, for the one-line error: "a whole number of at least 1", "yes or no"."""
        if self.kind is bool:
            return "1/true/yes or 0/false/no"
        what = "a whole number" if self.kind is int else "a number"
        return what if self.minimum is None else f"{what} of at least {self.minimum:g}"

    def parse(self, name: str, raw: str) -> int | float | bool:
        text = raw.strip().lower()
        if self.kind is bool:
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise ConfigError(f"{name}={raw!r} is not valid: use {self.accepts()}")
        try:
            value = int(text, 10) if self.kind is int else float(text)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not valid: use {self.accepts()}") from None
        if not math.isfinite(value) or (self.minimum is not None and value < self.minimum):
            raise ConfigError(f"{name}={raw!r} is not valid: use {self.accepts()}")
        return value


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

#: Every numeric and yes/no setting, in one place (paths and URLs are read where they are used).
SETTINGS: dict[str, Setting] = {
    "SIGHTLINE_MAX_IMAGE_BYTES": Setting(int, 1, "largest image file accepted, in bytes"),
    "SIGHTLINE_MAX_IMAGE_PIXELS": Setting(int, 1, "most pixels (width x height) an image may have"),
    "SIGHTLINE_MIN_IMAGE_SIDE": Setting(int, 1, "shortest image side accepted, in pixels"),
    "SIGHTLINE_MAX_TAGS_PER_PROJECT": Setting(int, 1, "most tags in one project"),
    "SIGHTLINE_MAX_IMAGES_PER_PROJECT": Setting(int, 1, "most images in one project"),
    "SIGHTLINE_MAX_TAGS_PER_IMAGE": Setting(int, 1, "most tags on one image"),
    "SIGHTLINE_MAX_REQUEST_BYTES": Setting(int, 1, "largest HTTP request body, in bytes"),
    "SIGHTLINE_RATE_LIMIT": Setting(float, 0, "requests per second per API key (0: no limit)"),
    "SIGHTLINE_URL_TIMEOUT_SECONDS": Setting(float, 0.001, "time allowed to fetch an image URL"),
    "SIGHTLINE_ALLOW_PRIVATE_URLS": Setting(bool, None, "image URLs may reach loopback and private addresses"),
    "SIGHTLINE_THREADS": Setting(int, 1, "threads for decoding and inference (default: the CPU count)"),
    "SIGHTLINE_AUTH_FAILURES_PER_MINUTE": Setting(float, 0, "wrong keys or sign-ins per client address (0: any)"),
    "SIGHTLINE_BODY_TIMEOUT_SECONDS": Setting(float, 0.001, "longest wait for the next part of a request body"),
    "SIGHTLINE_HEADER_TIMEOUT_SECONDS": Setting(float, 0.001, "time allowed to send a request's headers"),
    "SIGHTLINE_DECODE_BUDGET_PIXELS": Setting(int, 1, "most pixels decoding at once in one process"),
    "SIGHTLINE_S3_MAX_ATTEMPTS": Setting(int, 1, "tries per S3 request (throttling and connection errors)"),
    "SIGHTLINE_PREDICTION_RETENTION_DAYS": Setting(int, 0, "days stored predictions are kept"),
    "SIGHTLINE_GC_INTERVAL_HOURS": Setting(float, 0, "hours between a worker's sweeps of orphan blobs (0: never)"),
}


def _read(name: str, environ: Mapping[str, str] | None = None) -> int | float | bool | None:
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None or not raw.strip():
        return None
    return SETTINGS[name].parse(name, raw)


def env_int(name: str, default: int) -> int:
    """The declared whole-number setting `name`, or `default` when unset; ConfigError when malformed."""
    value = _read(name)
    return default if value is None else int(value)


def env_float(name: str, default: float) -> float:
    value = _read(name)
    return default if value is None else float(value)


def env_flag(name: str, default: bool = False) -> bool:
    value = _read(name)
    return default if value is None else bool(value)


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Parse every declared setting that is set; the first malformed one raises ConfigError (one line)."""
    for name in SETTINGS:
        _read(name, environ)


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
