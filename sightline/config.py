"""Every setting Sightline reads from the environment, declared once in `SETTINGS`.

Each entry has its type, its default and what it does; `env_int`, `env_float`, `env_flag`, `env_text`
and `env_path` read them through one parser, so a bad value is the same one-line `ConfigError`
wherever it is read. `check_environment()` parses them all at the entry points (the CLI, the app
factory, the worker): a bad value stops the start, naming the variable and what it accepts, instead
of failing on first use. The README's settings table is generated from `SETTINGS` (`settings_markdown`,
`python scripts/settings_table.py`), and a test keeps the two equal. Every setting has an embedded
default, so nothing needs configuring on a laptop.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sightline.errors import ConfigError

DEFAULT_BACKBONE = "hf:google/siglip2-base-patch32-256"

Value = int | float | bool | str | Path


@dataclass(frozen=True)
class Setting:
    """One environment variable: its type (int, float, bool, str or Path), its smallest accepted value
    (numbers), what it does, and its default (`default_text` when the default is worked out at run time)."""

    kind: type
    minimum: float | None
    help: str
    default: Value | None = None
    default_text: str = ""
    #: For text: a rule the value must keep, and how `accepts()` words it.
    check: Callable[[str], bool] | None = None
    rule: str = ""

    def accepts(self) -> str:
        """What a person may write, for the one-line error: "a whole number of at least 1", "yes or no"."""
        if self.kind is bool:
            return "1/true/yes or 0/false/no"
        if self.kind in (str, Path):
            return self.rule or ("a folder" if self.kind is Path else "text")
        what = "a whole number" if self.kind is int else "a number"
        return what if self.minimum is None else f"{what} of at least {self.minimum:g}"

    def describe_default(self) -> str:
        if self.default_text:
            return self.default_text
        if self.default is None:
            return "unset"
        if self.kind is bool:
            return "yes" if self.default else "no"
        if self.kind is float:
            return f"{self.default:g}"
        return f"{self.default:_}" if self.kind is int else str(self.default)

    def parse(self, name: str, raw: str) -> Value:
        text = raw.strip()
        if self.kind in (str, Path):
            if self.check is not None and not self.check(text):
                raise ConfigError(f"{name}={raw!r} is not valid: use {self.accepts()}")
            return Path(text).expanduser() if self.kind is Path else text
        text = text.lower()
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
_MB = 1024 * 1024


def _pairs(text: str) -> bool:
    """`General=onnx:models/a.onnx;Food=hf:...`: every non-empty part is `name=backbone`."""
    return all("=" in part and part.split("=", 1)[0].strip() for part in text.split(";") if part.strip())


#: Every setting, in one place: the README's table is generated from it.
SETTINGS: dict[str, Setting] = {
    # Where things are kept
    "SIGHTLINE_HOME": Setting(Path, None, "where everything is stored", default_text="`~/.sightline`"),
    "SIGHTLINE_CACHE": Setting(
        Path, None, "embeddings, ONNX exports, built test models (re-creatable)", default_text="`$SIGHTLINE_HOME/cache`"
    ),
    "SIGHTLINE_DATABASE_URL": Setting(
        str, None, "`postgresql+psycopg://user@host/db` to scale out", default_text="SQLite in `SIGHTLINE_HOME`"
    ),
    "SIGHTLINE_BLOB_URL": Setting(
        str,
        None,
        "any fsspec URL, e.g. `s3://bucket/prefix` (`pip install sightline[s3]`)",
        default_text="`$SIGHTLINE_HOME/blobs`",
    ),
    "SIGHTLINE_S3_ENDPOINT_URL": Setting(
        str, None, "an S3-compatible server (SeaweedFS, MinIO, Ceph)", default_text="AWS"
    ),
    "SIGHTLINE_S3_REGION": Setting(str, None, "the S3 region"),
    "SIGHTLINE_S3_ACCESS_KEY_ID": Setting(
        str, None, "S3 key id (else `AWS_ACCESS_KEY_ID`..., `~/.aws`, instance roles)"
    ),
    "SIGHTLINE_S3_SECRET_ACCESS_KEY": Setting(str, None, "S3 secret key (with SIGHTLINE_S3_ACCESS_KEY_ID)"),
    "SIGHTLINE_S3_MAX_ATTEMPTS": Setting(int, 1, "tries per S3 request (throttling and connection errors)", 5),
    # Models
    "SIGHTLINE_BACKBONE": Setting(
        str, None, "what `default` means", default_text=f"`{DEFAULT_BACKBONE}`, offline `efficientnet-lite0`"
    ),
    "SIGHTLINE_MODELS": Setting(Path, None, "folder of pre-downloaded models (`<folder>/<model id>/`)"),
    "SIGHTLINE_DEVICE": Setting(
        str,
        None,
        "torch device for Hugging Face models (`cpu`, `cuda`, `cuda:1`)",
        default_text="auto (cuda when available)",
    ),
    "SIGHTLINE_THREADS": Setting(int, 1, "ONNX Runtime and decode threads", default_text="all cores"),
    "SIGHTLINE_TAGGER_BACKBONE": Setting(
        str, None, "the backbone of `analyze` and the Tagging page", default_text="first domain that can tag"
    ),
    "HF_HUB_OFFLINE": Setting(bool, None, "Hugging Face: never ask the hub; use the local cache only", False),
    "HF_ENDPOINT": Setting(str, None, "Hugging Face: the hub's address", "https://huggingface.co"),
    "HF_HOME": Setting(Path, None, "Hugging Face: its cache folder", default_text="~/.cache/huggingface"),
    # Images and projects
    "SIGHTLINE_MAX_IMAGE_BYTES": Setting(int, 1, "largest image file accepted, in bytes", 20 * _MB, "20 MB"),
    "SIGHTLINE_MAX_IMAGE_PIXELS": Setting(
        int, 1, "decompression-bomb limit (width x height), checked before decoding", 50_000_000, "50 MP"
    ),
    "SIGHTLINE_MIN_IMAGE_SIDE": Setting(int, 1, "shortest image side accepted, in pixels", 16),
    "SIGHTLINE_DECODE_BUDGET_PIXELS": Setting(
        int, 1, "most pixels decoding at once per process (bounds upload memory)", 64_000_000
    ),
    "SIGHTLINE_MAX_TAGS_PER_PROJECT": Setting(
        int, 1, "most tags in one project (Custom Vision's S0 limits by default)", 500
    ),
    "SIGHTLINE_MAX_IMAGES_PER_PROJECT": Setting(int, 1, "most images in one project", 100_000),
    "SIGHTLINE_MAX_TAGS_PER_IMAGE": Setting(int, 1, "most tags on one image", 100),
    "SIGHTLINE_PREDICTION_RETENTION_DAYS": Setting(int, 0, "days stored predictions are kept", 30),
    "SIGHTLINE_GC_INTERVAL_HOURS": Setting(
        float, 0, "hours between a worker's sweeps of unreferenced blobs (0: never)", 24.0
    ),
    # The HTTP server
    "SIGHTLINE_MAX_REQUEST_BYTES": Setting(int, 1, "largest HTTP request body, in bytes", 256 * _MB, "256 MB"),
    "SIGHTLINE_BODY_TIMEOUT_SECONDS": Setting(
        float, 0.001, "a request body that sends nothing for this long gets 408", 60.0
    ),
    "SIGHTLINE_HEADER_TIMEOUT_SECONDS": Setting(
        float,
        0.001,
        "a connection whose request headers are not complete within this time is closed (slow-headers clients)",
        30.0,
    ),
    "SIGHTLINE_RATE_LIMIT": Setting(float, 0, "requests per second per API key (0: no limit)", 0.0),
    "SIGHTLINE_AUTH_FAILURES_PER_MINUTE": Setting(
        float, 0, "wrong keys or sign-ins per client address after a burst of 10 (then 429; 0: any)", 10.0
    ),
    "SIGHTLINE_URL_TIMEOUT_SECONDS": Setting(float, 0.001, "time allowed to fetch an image URL", 15.0),
    "SIGHTLINE_ALLOW_PRIVATE_URLS": Setting(bool, None, "image URLs may reach loopback and private addresses", False),
    "SIGHTLINE_CORS_ORIGINS": Setting(
        str,
        None,
        "origins allowed to call the API from a browser, comma-separated (`*`: any)",
        default_text="unset (no CORS)",
    ),
    "SIGHTLINE_LOG_JSON": Setting(
        bool, None, "one JSON object per log line (time, level, logger, message, request id)", False
    ),
    "SIGHTLINE_BATCH_ROOTS": Setting(
        str,
        None,
        "folders and URL prefixes, comma-separated, that batch predictions started over HTTP may read and write",
        default_text="unset (HTTP batch jobs off)",
    ),
    "SIGHTLINE_AZURE_DOMAINS": Setting(
        str,
        None,
        "Azure domain names (or ids) to backbones: `General=onnx:models/a.onnx;Food=hf:...`",
        default_text="the first backbone",
        check=_pairs,
        rule="`name=backbone` pairs separated by `;`",
    ),
}


def _setting(name: str) -> Setting:
    try:
        return SETTINGS[name]
    except KeyError:
        raise KeyError(f"{name} is not declared in sightline.config.SETTINGS") from None


def _read(name: str, environ: Mapping[str, str] | None = None) -> Value | None:
    """The parsed value of `name` when set (blank counts as unset), else None."""
    setting = _setting(name)
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None or not raw.strip():
        return None
    return setting.parse(name, raw)


def _value(name: str, default: Value | None) -> Any:
    value = _read(name)
    if value is not None:
        return value
    return _setting(name).default if default is None else default


def default_of(name: str) -> Any:
    """The declared default of setting `name` (for dataclass fields that mirror a setting)."""
    return _setting(name).default


def env_int(name: str, default: int | None = None) -> int:
    """The declared whole-number setting `name`; when unset, `default`, else the declared default.
    ConfigError (one line) when malformed."""
    return int(_value(name, default))


def env_float(name: str, default: float | None = None) -> float:
    return float(_value(name, default))


def env_flag(name: str, default: bool | None = None) -> bool:
    return bool(_value(name, default))


def env_text(name: str) -> str | None:
    """The declared text setting `name` (stripped), else its declared default; None when neither."""
    value = _value(name, None)
    return None if value is None else str(value)


def env_path(name: str) -> Path | None:
    value = _value(name, None)
    return None if value is None else Path(value)


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Parse every declared setting that is set; the first malformed one raises ConfigError (one line)."""
    for name in SETTINGS:
        _read(name, environ)


def home() -> Path:
    """Root folder of everything Sightline stores (`SIGHTLINE_HOME`, default `~/.sightline`)."""
    return env_path("SIGHTLINE_HOME") or Path.home() / ".sightline"


def cache_dir() -> Path:
    """Derived, re-creatable data: embeddings, exported ONNX graphs, built test models."""
    return env_path("SIGHTLINE_CACHE") or home() / "cache"


def models_dir() -> Path | None:
    """Optional folder of pre-downloaded models (`SIGHTLINE_MODELS`), for air-gapped machines."""
    return env_path("SIGHTLINE_MODELS")


def settings_markdown() -> str:
    """The README's settings table: every declared variable, its default, what it accepts and does."""
    lines = ["| Variable | Default | Accepts | What it does |", "|---|---|---|---|"]
    for name, setting in SETTINGS.items():
        cells = (f"`{name}`", setting.describe_default(), setting.accepts(), setting.help)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ImageLimits:
    """What an accepted image may be. Azure allows 6 MB (training) and 4 MB (prediction); ours are larger."""

    max_bytes: int = default_of("SIGHTLINE_MAX_IMAGE_BYTES")
    max_pixels: int = default_of("SIGHTLINE_MAX_IMAGE_PIXELS")
    min_side: int = default_of("SIGHTLINE_MIN_IMAGE_SIDE")

    @classmethod
    def from_env(cls) -> ImageLimits:
        return cls(
            max_bytes=env_int("SIGHTLINE_MAX_IMAGE_BYTES"),
            max_pixels=env_int("SIGHTLINE_MAX_IMAGE_PIXELS"),
            min_side=env_int("SIGHTLINE_MIN_IMAGE_SIDE"),
        )
