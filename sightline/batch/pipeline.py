"""The per-image work of a batch job, shared by the local runner and the Ray actors.

`prepare` reads and decodes one image to the backbone's fixed-size pixels (or says why it cannot);
`BatchModel` turns a stack of pixels into result rows. Both run wherever the job runs: threads of
this process locally, Ray tasks and actors on a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sightline.config import ImageLimits
from sightline.errors import ImageError
from sightline.imaging import PreprocessSpec, decode_for_model, read_bytes

if TYPE_CHECKING:
    from sightline.service.predictions import PublishedModel

Row = dict[str, Any]


@dataclass(frozen=True)
class Prepared:
    path: str
    pixels: np.ndarray | None
    error: ImageError | None = None


def error_row(path: str, error: ImageError) -> Row:
    return {
        "path": path,
        "tags": None,
        "uncertain": None,
        "reasons": None,
        "unknown_score": None,
        "unknown": None,
        "error": {"reason": error.reason, "message": str(error)},
    }


def decode(path: str, data: bytes, spec: PreprocessSpec, limits: ImageLimits) -> Prepared:
    """Bytes to model-ready pixels; an unusable image becomes a `Prepared` with its error."""
    try:
        return Prepared(path, decode_for_model(read_bytes(data, limits), spec, limits))
    except ImageError as error:
        return Prepared(path, None, error)


def prepare(path: str, spec: PreprocessSpec, limits: ImageLimits) -> Prepared:
    from sightline.batch.sources import read_path

    try:
        data = read_path(path, limits.max_bytes)
    except ImageError as error:
        return Prepared(path, None, error)
    return decode(path, data, spec, limits)


class BatchModel:
    """A published model, loaded once: pixels in, result rows out (each tag held to its threshold, as
    the prediction API holds it: the iteration's per-tag threshold, else the project's)."""

    def __init__(self, published: PublishedModel) -> None:
        from sightline.classifier import Classifier

        self.classifier = Classifier.from_bytes(published.artifact, backbone=published.domain, cache=None)
        self.thresholds = published.thresholds_for(self.classifier.reported_classes_)

    @property
    def spec(self) -> PreprocessSpec:
        return self.classifier.backbone.preprocess

    def rows(self, paths: Sequence[str], pixels: np.ndarray) -> list[Row]:
        results = self.classifier.predict_pixels(pixels, thresholds=self.thresholds)
        return [
            {
                "path": path,
                "tags": [
                    {
                        "tag": t.tag,
                        "probability": float(t.probability),
                        "above_threshold": bool(t.above_threshold),
                        "threshold": float(t.threshold),
                    }
                    for t in result.tags
                ],
                "uncertain": result.uncertain,
                "reasons": [r.to_dict() for r in result.reasons],
                "unknown_score": result.unknown_score,
                "unknown": result.unknown,
                "error": None,
            }
            for path, result in zip(paths, results, strict=True)
        ]


def run_local(
    model: BatchModel,
    paths: Iterable[str],
    *,
    submit: Callable[..., Future],
    batch_size: int = 32,
    ahead: int = 2,
    limits: ImageLimits | None = None,
) -> Iterator[list[Row]]:
    """Rows batch by batch, in input order. Reading and decoding run `ahead` batches in front of the
    model on `submit` (a thread pool's): Pillow and the file reads release the GIL, so they overlap
    inference, as in training's `decode_batches`."""
    limits = limits or ImageLimits.from_env()
    spec = model.spec
    source = iter(paths)
    queue: list[list[Future]] = []

    def fill() -> None:
        while len(queue) < ahead + 1:
            chunk = [submit(prepare, path, spec, limits) for _, path in zip(range(batch_size), source, strict=False)]
            if not chunk:
                return
            queue.append(chunk)

    fill()
    while queue:
        current = [future.result() for future in queue.pop(0)]
        fill()
        good = [item for item in current if item.error is None]
        rows = {item.path: error_row(item.path, item.error) for item in current if item.error is not None}
        if good:
            pixels = np.stack([item.pixels for item in good])
            rows.update({row["path"]: row for row in model.rows([item.path for item in good], pixels)})
        yield [rows[item.path] for item in current]
