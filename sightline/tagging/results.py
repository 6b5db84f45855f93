"""What tagging returns (`TagResult`, `TagScore`) and a saved calibration (`TagCalibration`)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sightline.errors import ImageError, ModelFileError
from sightline.tagging.common import CALIBRATION_FORMAT, Mode

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
