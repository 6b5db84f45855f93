"""Pre-built image analysis, as Azure AI Vision's `analyze` with the `tags` feature: no project, no training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sightline.config import ImageLimits
from sightline.errors import InvalidRequestError
from sightline.imaging import inspect_image

if TYPE_CHECKING:
    from sightline.tagging import Tagger, TagScore
    from sightline.tagging.common import Mode

#: The most tags a caller's own list may hold: each one is a text prompt embedded for the request.
MAX_CUSTOM_TAGS = 100


@dataclass(frozen=True)
class ImageAnalysis:
    width: int
    height: int
    tags: list[TagScore]


@dataclass(frozen=True)
class TagOptions:
    """What the CLI's `sightline tag` lets a person choose: threshold, top, own tags, single."""

    threshold: float = 0.5
    top: int | None = 10
    tags: tuple[str, ...] = ()
    single: bool = False


def analyze_image(tagger: Tagger, data: bytes, limits: ImageLimits | None = None) -> ImageAnalysis:
    """The image's size and its tags, best first. A bad image raises its ImageError."""
    info = inspect_image(data, limits)
    (result,) = tagger.tag([data])
    if result.error is not None:
        raise result.error
    return ImageAnalysis(width=info.width, height=info.height, tags=result.tags)


def tagger_with(base: Tagger, options: TagOptions) -> Tagger:
    """The shared tagger adjusted to `options`; with the caller's own tags, a tagger of those on its backbone.

    Own tags need an image-text backbone, or labels of a classification backbone (its error says which
    tag is not one).
    """
    from sightline.tagging import Tagger

    if not 0.0 <= options.threshold <= 1.0:
        raise InvalidRequestError(f"threshold must be between 0 and 1, not {options.threshold:g}")
    if options.top is not None and options.top < 1:
        raise InvalidRequestError(f"top must be at least 1 (or empty for no limit), not {options.top}")
    mode: Mode = "single" if options.single else "multilabel"
    if not options.tags:
        return base.adjusted(threshold=options.threshold, top=options.top, mode=mode)
    if len(options.tags) > MAX_CUSTOM_TAGS:
        raise InvalidRequestError(f"at most {MAX_CUSTOM_TAGS} tags of your own, not {len(options.tags)}")
    return Tagger(
        base.backbone, vocabulary=list(options.tags), mode=mode, threshold=options.threshold, top=options.top,
        add_parents=base.add_parents, cache=base.cache, batch_size=base.batch_size, limits=base.limits,
    )  # fmt: skip


def tag_names(text: str) -> tuple[str, ...]:
    """A typed list of tags, comma- or line-separated, as the CLI's `--tags ripe,unripe`."""
    return tuple(name.strip() for line in text.splitlines() for name in line.split(",") if name.strip())
