"""Running backbones fast: ONNX Runtime sessions, and the batched, cached embedding pipeline.

`embed_images` is the one way images become vectors: read bytes once, hash them, take what the
embedding cache already has, decode the rest in a thread pool while the model runs on the previous
batch, and report bad images instead of failing the whole call.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sightline.backbones.cache import EmbeddingCache
from sightline.config import ImageLimits
from sightline.errors import ImageError
from sightline.imaging import DecodeFailure, ImageSource, decode_batches, image_sha256, read_bytes

if TYPE_CHECKING:
    import onnxruntime

    from sightline.backbones.base import Backbone

Progress = Callable[[int, int], None]

#: How many images are read and hashed at once: bounds memory for very long inputs.
_CHUNK = 512


def cpu_threads() -> int:
    return int(os.environ.get("SIGHTLINE_THREADS") or os.cpu_count() or 1)


def create_onnx_session(path: str | Path) -> onnxruntime.InferenceSession:
    """A CPU inference session using every core, with all graph optimisations on."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = cpu_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


@dataclass
class EmbeddedImages:
    """Vectors for the images that could be used; `failures` says which could not, and why."""

    vectors: np.ndarray  # (len(ok_indices), dim), raw backbone output (not normalised)
    ok_indices: list[int]
    keys: list[str | None]  # sha256 per input position, None where the input was unreadable
    failures: list[DecodeFailure] = field(default_factory=list)
    cache_hits: int = 0


def _read_and_hash(source: ImageSource, limits: ImageLimits | None) -> tuple[ImageSource, str]:
    if isinstance(source, (str, os.PathLike)):
        source = read_bytes(source, limits)
    return source, image_sha256(source)


def embed_images(
    backbone: Backbone,
    sources: Sequence[ImageSource],
    *,
    cache: EmbeddingCache | None = None,
    batch_size: int = 32,
    limits: ImageLimits | None = None,
    progress: Progress | None = None,
) -> EmbeddedImages:
    """Embed images (paths, bytes or PIL images) with `backbone`, using and filling `cache`."""
    total = len(sources)
    vectors: dict[int, np.ndarray] = {}
    keys: list[str | None] = [None] * total
    failures: list[DecodeFailure] = []
    hits = 0
    done = 0
    with ThreadPoolExecutor(max_workers=max(2, cpu_threads())) as pool:
        for start in range(0, total, _CHUNK):
            chunk = range(start, min(start + _CHUNK, total))
            loaded: dict[int, ImageSource] = {}
            futures = {i: pool.submit(_read_and_hash, sources[i], limits) for i in chunk}
            for i, future in futures.items():
                try:
                    loaded[i], keys[i] = future.result()
                except ImageError as error:
                    failures.append(DecodeFailure(index=i, error=error))
            cached = cache.get_many(backbone.fingerprint, [keys[i] for i in loaded]) if cache else {}
            todo = []
            for i in loaded:
                if keys[i] in cached:
                    vectors[i] = cached[keys[i]]
                    hits += 1
                else:
                    todo.append(i)
            done += len(chunk) - len(todo)
            if progress:
                progress(done, total)
            chunk_failures: list[DecodeFailure] = []
            batches = decode_batches(
                [loaded[i] for i in todo],
                backbone.preprocess,
                batch_size=batch_size,
                limits=limits,
                failures=chunk_failures,
            )
            for batch in batches:
                out = backbone.embed_pixels(batch.pixels)
                fresh = {}
                for row, local in enumerate(batch.indices):
                    i = todo[local]
                    vectors[i] = out[row]
                    fresh[keys[i]] = out[row]
                if cache:
                    cache.put_many(backbone.fingerprint, fresh)
                done += len(batch.indices)
                if progress:
                    progress(done, total)
            for failure in chunk_failures:
                i = todo[failure.index]
                failures.append(DecodeFailure(index=i, error=failure.error))
                done += 1
    failures.sort(key=lambda f: f.index)
    ok = sorted(vectors)
    matrix = np.stack([vectors[i] for i in ok]).astype(np.float32) if ok else np.zeros((0, backbone.dim), np.float32)
    if progress:
        progress(total, total)
    return EmbeddedImages(vectors=matrix, ok_indices=ok, keys=keys, failures=failures, cache_hits=hits)
