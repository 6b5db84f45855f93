"""Batch prediction: a published model over folders, globs, `s3://` prefixes and CSV manifests.

    from sightline import batch
    summary = batch.predict(ws, "Shoes", "production", ["photos/", "s3://bucket/new/"], "results.jsonl")

One row per image (path, tags with probabilities and threshold decisions, uncertain, unknown score,
or the error for an unreadable image: the run goes on). Locally, reading and decoding run in threads
ahead of the model; with `ray=True` (or an address) the work runs on Ray Data. `resume=True` skips
the images the output already holds, so a killed run continues where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sightline.batch.output import ResultWriter, read_results
from sightline.batch.pipeline import BatchModel, Row, run_local
from sightline.batch.sources import expand_sources
from sightline.config import ImageLimits

__all__ = ["BatchSummary", "expand_sources", "predict", "read_results"]

#: progress(done, total): called once before the first batch (done = images skipped by resume), then
#: after each batch.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BatchSummary:
    total: int  # images the sources name
    skipped: int  # already in the output (resume)
    predicted: int
    failed: int  # unreadable or not images: rows with an error
    seconds: float

    @property
    def images_per_second(self) -> float:
        done = self.predicted + self.failed
        return done / self.seconds if self.seconds > 0 else 0.0


def predict(
    ws,
    project: str,
    publish_name: str,
    sources: Sequence[str],
    out: str,
    *,
    ray: bool | str = False,
    resume: bool = False,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> BatchSummary:
    """Classify every image `sources` name with the model published as `publish_name`; rows go to `out`
    (.jsonl or .parquet). `ray`: True for the connected (or a new local) Ray cluster, or its address."""
    from sightline.service import predictions

    published = predictions.published_model(ws, project, publish_name)
    paths = expand_sources(sources)
    writer = ResultWriter(out, resume=resume)
    todo = [path for path in paths if path not in writer.done]
    skipped = len(paths) - len(todo)
    started = time.perf_counter()
    predicted = failed = 0
    complete = False
    if progress:
        progress(skipped, len(paths))
    try:
        for rows in _rows(published, todo, ray=ray, batch_size=batch_size, limits=ws.image_limits):
            writer.write(rows)
            bad = sum(1 for row in rows if row["error"] is not None)
            failed += bad
            predicted += len(rows) - bad
            if progress:
                progress(skipped + predicted + failed, len(paths))
        complete = True
    finally:
        writer.close(complete=complete)
    return BatchSummary(len(paths), skipped, predicted, failed, time.perf_counter() - started)


def _rows(published, paths: list[str], *, ray: bool | str, batch_size: int, limits: ImageLimits) -> Iterator[list[Row]]:
    if not paths:
        return
    if ray:
        from sightline.batch.on_ray import run_ray

        model_spec = BatchModel(published).spec
        yield from run_ray(
            published,
            model_spec,
            paths,
            address=ray if isinstance(ray, str) else None,
            batch_size=batch_size,
            limits=limits,
        )
        return
    from sightline.backbones.runtime import shared_pool

    model = BatchModel(published)
    yield from run_local(model, paths, submit=shared_pool().submit, batch_size=batch_size, limits=limits)
