"""Pre-built image analysis, as Azure AI Vision's `analyze` with the `tags` feature: no project, no training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sightline.config import ImageLimits
from sightline.imaging import inspect_image

if TYPE_CHECKING:
    from sightline.tagging import Tagger, TagScore


@dataclass(frozen=True)
class ImageAnalysis:
    width: int
    height: int
    tags: list[TagScore]


def analyze_image(tagger: Tagger, data: bytes, limits: ImageLimits | None = None) -> ImageAnalysis:
    """The image's size and its tags, best first. A bad image raises its ImageError."""
    info = inspect_image(data, limits)
    (result,) = tagger.tag([data])
    if result.error is not None:
        raise result.error
    return ImageAnalysis(width=info.width, height=info.height, tags=result.tags)
