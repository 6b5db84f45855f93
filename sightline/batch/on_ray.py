"""Batch prediction on Ray Data: read and decode on CPU tasks, predict in actors that hold the model.

    read_binary_files(paths) -> map_batches(decode: bytes -> fixed-size pixels) -> map_batches(Predictor actors)

Decoding produces the backbone's fixed input size (errors as a zero image plus a message), so blocks
from any reader concatenate. Each actor reserves `actor_cpus`; the rest of the cluster's CPUs stay free
for the readers and decoders, so a small cluster never fills every CPU with actors that then starve
waiting for input. The decode step reserves `decode_cpus`, a different amount on purpose: Ray Data fuses
a task step into the actor step after it when their resources match, and then every image was decoded
inside the single actor, one after the other, while the other CPU idled (0.19x the backbone alone on
2 CPUs). Rows come back to the driver, which writes them (and so can resume).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sightline.batch.pipeline import BatchModel, Row, decode, error_row
from sightline.config import ImageLimits
from sightline.errors import ImageError, SightlineError
from sightline.imaging import PreprocessSpec

if TYPE_CHECKING:
    from sightline.service.predictions import PublishedModel


def _decode_block(batch: dict[str, np.ndarray], spec: PreprocessSpec, limits: ImageLimits) -> dict[str, np.ndarray]:
    shape = (3, spec.height, spec.width) if spec.layout == "NCHW" else (spec.height, spec.width, 3)
    pixels = np.zeros((len(batch["path"]), *shape), dtype=np.float32)
    errors: list[str] = []
    reasons: list[str] = []
    for i, (path, data) in enumerate(zip(batch["path"], batch["bytes"], strict=True)):
        prepared = decode(str(path), bytes(data), spec, limits)
        if prepared.error is None:
            pixels[i] = prepared.pixels
        errors.append("" if prepared.error is None else str(prepared.error))
        reasons.append("" if prepared.error is None else prepared.error.reason)
    return {"path": batch["path"], "pixels": pixels, "error": np.array(errors), "reason": np.array(reasons)}


class _Failed(ImageError):
    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Predictor:
    """A Ray actor: loads the model once, then turns decoded blocks into rows (JSON-ready dicts)."""

    def __init__(self, published: PublishedModel) -> None:
        self.model = BatchModel(published)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        paths = [str(p) for p in batch["path"]]
        ok = [i for i, error in enumerate(batch["error"]) if not error]
        rows: dict[int, Row] = {
            i: error_row(paths[i], _Failed(str(batch["error"][i]), str(batch["reason"][i])))
            for i in range(len(paths))
            if batch["error"][i]
        }
        if ok:
            for i, row in zip(ok, self.model.rows([paths[i] for i in ok], batch["pixels"][ok]), strict=True):
                rows[i] = row
        import json

        return {"row": np.array([json.dumps(rows[i]) for i in range(len(paths))], dtype=object)}


def run_ray(
    published: PublishedModel,
    spec: PreprocessSpec,
    paths: Sequence[str],
    *,
    address: str | None = None,
    batch_size: int = 32,
    actors: int = 1,
    actor_cpus: float = 1.0,
    decode_cpus: float = 0.5,
    limits: ImageLimits | None = None,
) -> Iterator[list[Row]]:
    """Rows for `paths`, a block at a time, computed on the Ray cluster at `address` (default: the one
    this process is connected to, else a new local one)."""
    import json

    try:
        import ray
    except ImportError:
        raise SightlineError("--ray needs Ray: install sightline[ray]") from None
    if not ray.is_initialized():
        ray.init(address=address or None, log_to_driver=False, include_dashboard=False)
    limits = limits or ImageLimits.from_env()
    # reading reserves what decoding does, so the two fuse into one task (no bytes between them)
    ds = ray.data.read_binary_files(
        list(paths), include_paths=True, filesystem=_filesystem(paths), num_cpus=decode_cpus
    )
    if decode_cpus == actor_cpus:
        raise ValueError("decode_cpus must differ from actor_cpus, or Ray Data fuses decoding into the actors")
    ds = ds.map_batches(
        _decode_block,  # type: ignore[arg-type]  # Ray types batch functions loosely
        fn_kwargs={"spec": spec, "limits": limits},
        batch_size=batch_size,
        num_cpus=decode_cpus,
    )
    ds = ds.map_batches(
        Predictor,
        fn_constructor_kwargs={"published": published},
        batch_size=batch_size,
        concurrency=actors,
        num_cpus=actor_cpus,
    )
    # a pyarrow filesystem names objects without their scheme: rows keep the paths as given
    scheme = paths[0].split("://", 1)[0] + "://" if "://" in paths[0] else ""
    for batch in ds.iter_batches(batch_size=batch_size, batch_format="numpy"):
        rows = [json.loads(row) for row in batch["row"]]
        for row in rows:
            if scheme and not row["path"].startswith(scheme):
                row["path"] = scheme + row["path"]
        yield rows


def _filesystem(paths: Sequence[str]):
    """A pyarrow filesystem over fsspec for remote paths (so S3 settings are Sightline's), else None."""
    remote = {p.split("://", 1)[0] for p in paths if "://" in p}
    if not remote:
        return None
    if len(remote) > 1 or any("://" not in p for p in paths):
        raise SightlineError("--ray reads one kind of source per run: local paths or one URL scheme, not both")
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    from sightline.store import open_filesystem

    return PyFileSystem(FSSpecHandler(open_filesystem(f"{remote.pop()}://")[0]))
