"""Running backbones fast: ONNX Runtime sessions, and the batched, cached embedding pipeline.

`embed_images` is the one way images become vectors: read bytes once, hash them, take what the
embedding cache already has, decode the rest in a thread pool while the model runs on the previous
batch, and report bad images instead of failing the whole call.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sightline.backbones.cache import EmbeddingCache
from sightline.config import ImageLimits, env_int
from sightline.errors import ImageError
from sightline.imaging import DecodeFailure, ImageSource, decode_batches, image_sha256, read_bytes

if TYPE_CHECKING:
    import onnxruntime

    from sightline.backbones.base import Backbone

Progress = Callable[[int, int], None]

#: How many images are read and hashed at once: bounds memory for very long inputs.
_CHUNK = 512


def cpu_threads() -> int:
    return env_int("SIGHTLINE_THREADS", os.cpu_count() or 1)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def shared_pool() -> ThreadPoolExecutor:
    """One process-wide pool for reading and decoding images: a server answering one image per
    request would otherwise spend milliseconds per request starting threads."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(2, cpu_threads()), thread_name_prefix="sightline-io")
        return _pool


def create_onnx_session(path: str | Path) -> onnxruntime.InferenceSession:
    """A CPU inference session using every core, with all graph optimisations on.

    Its threads sleep when idle instead of spinning: the model never has the cores to itself (images
    decode on other threads, a server parses requests), and spinning threads take the CPU that work
    needs. Measured on 2 cores (`benchmarks/api_load.py`): the API at 32 clients went from about 60% to
    72-78% of the model's own batched rate, which itself changed by under 3%; the embedding pipeline
    did not change; a lone prediction waits about 2.5 ms longer (p50 13 ms against 10.5) while threads wake.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = cpu_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
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


def _read_and_hash(source: ImageSource, key: str | None, limits: ImageLimits | None) -> tuple[ImageSource, str]:
    if isinstance(source, (str, os.PathLike)):
        source = read_bytes(source, limits)
    return source, key or image_sha256(source)


def embed_images(
    backbone: Backbone,
    sources: Sequence[ImageSource],
    *,
    cache: EmbeddingCache | None = None,
    keys: Sequence[str | None] | None = None,
    batch_size: int = 32,
    limits: ImageLimits | None = None,
    progress: Progress | None = None,
) -> EmbeddedImages:
    """Embed images (paths, bytes or PIL images) with `backbone`, using and filling `cache`.

    `keys`: the images' sha256 when the caller already knows them (the project store does); then a
    cached image is not even read, so `sources` may be a lazy sequence that fetches on indexing.
    """
    total = len(sources)
    vectors: dict[int, np.ndarray] = {}
    found_keys: list[str | None] = [None] * total
    failures: list[DecodeFailure] = []
    hits = 0
    done = 0

    def take_cached(indices: list[int]) -> list[int]:
        """Fill `vectors` from the cache; return the indices still to embed."""
        nonlocal hits, done
        if not cache or not indices:
            return indices
        cached = cache.get_many(backbone.fingerprint, [found_keys[i] for i in indices])
        rest = []
        for i in indices:
            if found_keys[i] in cached:
                vectors[i] = cached[found_keys[i]]
                hits += 1
                done += 1
            else:
                rest.append(i)
        return rest

    pool = shared_pool()
    for start in range(0, total, _CHUNK):
        chunk = list(range(start, min(start + _CHUNK, total)))
        known = [i for i in chunk if keys is not None and keys[i]]
        for i in known:
            found_keys[i] = keys[i]
        unread = sorted(set(chunk) - set(known) | set(take_cached(known)))
        loaded: dict[int, ImageSource] = {}
        futures = {i: pool.submit(_read_and_hash, sources[i], found_keys[i], limits) for i in unread}
        for i, future in futures.items():
            try:
                loaded[i], found_keys[i] = future.result()
            except ImageError as error:
                failures.append(DecodeFailure(index=i, error=error))
                done += 1
        todo = take_cached([i for i in loaded if i not in known])
        todo = sorted(set(todo) | {i for i in loaded if i in known})
        if progress:
            progress(done, total)
        chunk_failures: list[DecodeFailure] = []
        batches = decode_batches(
            [loaded[i] for i in todo],
            backbone.preprocess,
            batch_size=batch_size,
            limits=limits,
            failures=chunk_failures,
            executor=pool,
        )
        for batch in batches:
            out = backbone.embed_pixels(batch.pixels)
            fresh = {}
            for row, local in enumerate(batch.indices):
                i = todo[local]
                vectors[i] = out[row]
                fresh[found_keys[i]] = out[row]
            if cache:
                cache.put_many(backbone.fingerprint, fresh)
            done += len(batch.indices)
            if progress:
                progress(done, total)
        for failure in chunk_failures:
            failures.append(DecodeFailure(index=todo[failure.index], error=failure.error))
            done += 1
    failures.sort(key=lambda f: f.index)
    ok = sorted(vectors)
    matrix = np.stack([vectors[i] for i in ok]).astype(np.float32) if ok else np.zeros((0, backbone.dim), np.float32)
    if progress:
        progress(total, total)
    return EmbeddedImages(vectors=matrix, ok_indices=ok, keys=found_keys, failures=failures, cache_hits=hits)
