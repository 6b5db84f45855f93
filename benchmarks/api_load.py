"""Prediction API under load: throughput and latency with micro-batching, against no batching in the same run.

A real uvicorn server (in a thread of this process) serves a trained Multiclass project; an async
client sends `--requests` distinct images (no embedding-cache hits) to the `/image/nostore` route
at several concurrency levels, to a server with micro-batching (`max_batch=32`) and to one without
(`max_batch=1`: every request in its own worker thread), runs interleaved.

    python benchmarks/api_load.py [--backbone tiny] [--requests 96] [--concurrency 1 8 32]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from _common import markdown_table, write_result

from sightline.api import create_app, load_keys
from sightline.api.server import serve_in_thread
from sightline.backbones import create_backbone
from sightline.service import Worker, Workspace, images, iterations, projects, tags, training
from sightline.service.images import NewImage
from sightline.store import BlobStore, open_store
from sightline.synthetic import make_image, single_label_dataset, to_jpeg

KINDS = ["circle", "square", "triangle"]


def trained_workspace(folder: Path, backbone: str) -> tuple[Workspace, str]:
    """A workspace with a project trained on synthetic shapes and published as "live"."""
    ws = Workspace(open_store(f"sqlite:///{folder / 'load.db'}"), BlobStore(str(folder / "blobs")))
    project = projects.create_project(ws, "Load", domain=backbone)
    for kind in KINDS:
        tags.create_tag(ws, project.id, kind)
    data, labels = single_label_dataset(15, KINDS, seed=1)
    images.add_images(ws, project.id, [NewImage(d, tags=[label]) for d, label in zip(data, labels, strict=True)])
    iteration = training.start_training(ws, project.id)
    Worker(ws).run_once()
    iterations.publish_iteration(ws, project.id, iteration.id, "live")
    return ws, project.id


async def load(url: str, key: str, payloads: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    """Seconds for all requests, and each request's latency; `concurrency` requests in flight at a time."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(headers={"Prediction-Key": key}, timeout=120, limits=limits) as client:

        async def one(payload: bytes) -> None:
            async with gate:
                started = time.perf_counter()
                response = await client.post(url, content=payload)
                response.raise_for_status()
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one(p) for p in payloads))
        return time.perf_counter() - started, latencies


MODES = (("micro-batching (32)", 32), ("no batching", 1))


def backbone_alone(name: str, repeats: int, batch: int = 32) -> float:
    """Images/s of the network by itself at batch 32: the ceiling the API is measured against."""
    backbone = create_backbone(name)
    spec = backbone.preprocess
    pixels = np.zeros((batch, 3, spec.height, spec.width), np.float32)
    backbone.embed_pixels(pixels)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        backbone.embed_pixels(pixels)
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="tiny")
    parser.add_argument("--requests", type=int, default=96)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs: dict[tuple[str, int], list[tuple[float, float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as servers:
        ws, project_id = trained_workspace(Path(folder), args.backbone)
        servers.callback(ws.close)
        key = load_keys(ws).prediction_key
        apps, urls = {}, {}
        for label, max_batch in MODES:  # both up at once, and runs interleaved: the machine's noise hits both
            apps[label] = create_app(ws, start_worker=False, backbones=[args.backbone], max_batch=max_batch)
            base = servers.enter_context(serve_in_thread(apps[label]))
            urls[label] = f"{base}/customvision/v3.0/prediction/{project_id}/classify/iterations/live/image/nostore"
        seed = 1_000_000
        for label in urls:  # warm up: model loaded, threads started
            seed += 100
            asyncio.run(load(urls[label], key, [to_jpeg(make_image(["circle"], seed=seed + i)) for i in range(4)], 2))
        for concurrency in args.concurrency:
            for _ in range(args.repeats):
                for label in urls:
                    seed += 10_000
                    payloads = [
                        to_jpeg(make_image([KINDS[i % 3]], seed=seed + i, size=224)) for i in range(args.requests)
                    ]
                    apps[label].state.batcher.batch_sizes.clear()
                    seconds, latencies = asyncio.run(load(urls[label], key, payloads, concurrency))
                    quantiles = statistics.quantiles(latencies, n=100)
                    batch = statistics.mean(apps[label].state.batcher.batch_sizes)
                    runs.setdefault((label, concurrency), []).append(
                        (len(payloads) / seconds, quantiles[49] * 1000, quantiles[98] * 1000, batch)
                    )
    raw = backbone_alone(args.backbone, args.repeats)
    rows = []
    for (label, concurrency), results in sorted(runs.items(), key=lambda item: (item[0][1], item[0][0])):
        medians = [statistics.median(values) for values in zip(*results, strict=True)]
        rows.append([label, concurrency, *(f"{m:.1f}" for m in medians), f"{medians[0] / raw:.0%}"])
    headers = ["mode", "concurrency", "img/s", "p50 ms", "p99 ms", "mean batch", "of backbone alone"]
    table = markdown_table(headers, rows)
    body = (
        f"Backbone `{args.backbone}`; {args.requests} requests per run, 224x224 JPEGs, each distinct (no "
        "embedding-cache hits); route `/classify/iterations/live/image/nostore`; server and client share this "
        f"machine. Medians of {args.repeats} interleaved runs. Backbone alone (ready pixels, batch 32, same "
        f"process): {raw:.1f} img/s; target at 32 clients: at least 70% of it, no errors.\n\n" + table
    )
    write_result("api_load", "Prediction API under load", body)


if __name__ == "__main__":
    main()
