"""Prediction API under load: throughput and latency with micro-batching, against no batching in the same run.

Two real `sightline serve` processes (one with `--max-batch 32`, one without batching) serve a
trained, published Multiclass project from the same workspace. A lean keep-alive HTTP/1.1 client
(raw asyncio sockets, requests prepared up front, so the load generator costs next to nothing)
sends `--requests` distinct images (no embedding-cache hits) to `/image/nostore` at several
concurrency levels; runs alternate between the two servers so the machine's noise hits both.

    python benchmarks/api_load.py [--backbone tiny] [--requests 96] [--concurrency 1 8 32]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator

import numpy as np
from _common import markdown_table, write_result

from sightline.api import load_keys
from sightline.backbones import create_backbone
from sightline.service import Worker, Workspace, images, iterations, projects, tags, training
from sightline.service.images import NewImage
from sightline.synthetic import make_image, single_label_dataset, to_jpeg

KINDS = ["circle", "square", "triangle"]
MODES = (("micro-batching (32)", 32), ("no batching", 1))
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


def trained_workspace(backbone: str) -> tuple[str, str]:
    """Under the current SIGHTLINE_HOME: a project trained on synthetic shapes, published as "live"; its id and key."""
    ws = Workspace.open()
    try:
        project = projects.create_project(ws, "Load", domain=backbone)
        for kind in KINDS:
            tags.create_tag(ws, project.id, kind)
        data, labels = single_label_dataset(15, KINDS, seed=1)
        images.add_images(ws, project.id, [NewImage(d, tags=[label]) for d, label in zip(data, labels, strict=True)])
        iteration = training.start_training(ws, project.id)
        Worker(ws).run_once()
        iterations.publish_iteration(ws, project.id, iteration.id, "live")
        return project.id, load_keys(ws).prediction_key
    finally:
        ws.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def sightline_serve(backbone: str, max_batch: int) -> Iterator[int]:
    """`sightline serve` in its own process (own interpreter, own GIL); yields its port once it answers."""
    port = _free_port()
    command = [sys.executable, "-m", "sightline.cli", "serve", "--port", str(port), "--backbone", backbone,
               "--no-worker", "--max-batch", str(max_batch), "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sightline serve did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(30)


def request_bytes(path: str, key: str, payload: bytes) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nPrediction-Key: {key}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(payload)}\r\n\r\n")  # fmt: skip
    return head.encode() + payload


async def load(port: int, requests: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    """Seconds for all requests over `concurrency` keep-alive connections, and each request's latency."""
    pending = list(reversed(requests))
    latencies: list[float] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while pending:
                request = pending.pop()
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                body = await reader.readexactly(int(_LENGTH.search(head).group(1)))
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"{head.splitlines()[0].decode()}: {body[:300].decode(errors='replace')}")
                latencies.append(time.perf_counter() - started)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def _rate(run, batch: int, repeats: int) -> float:
    run()  # warm
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def backbone_alone(name: str, repeats: int, batch: int = 32) -> Callable[[], float]:
    """A measure of the network by itself at batch 32 from ready pixels (images/s): the ceiling the API
    is held to. For an `onnx:` file, the better of Sightline's session and ONNX Runtime's defaults, so
    that no setting of ours can lower the ceiling."""
    backbone = create_backbone(name)
    spec = backbone.preprocess
    pixels = np.random.default_rng(0).random((batch, 3, spec.height, spec.width), np.float32)
    runs = [lambda: backbone.embed_pixels(pixels)]
    if name.startswith("onnx:"):
        import onnxruntime

        session = onnxruntime.InferenceSession(name.removeprefix("onnx:"), providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: pixels}
        runs.append(lambda: session.run(None, feed))
    return lambda: max(_rate(run, batch, repeats) for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="tiny")
    parser.add_argument("--requests", type=int, default=96)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs: dict[tuple[str, int], list[tuple[float, float, float, float]]] = {}
    ceilings: list[float] = []
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as servers:
        os.environ["SIGHTLINE_HOME"] = folder  # the servers open this workspace too
        os.environ.pop("SIGHTLINE_DATABASE_URL", None)
        os.environ.pop("SIGHTLINE_BLOB_URL", None)
        project_id, key = trained_workspace(args.backbone)
        path = f"/customvision/v3.0/prediction/{project_id}/classify/iterations/live/image/nostore"
        ports = {label: servers.enter_context(sightline_serve(args.backbone, batch)) for label, batch in MODES}
        seed = 1_000_000
        for port in ports.values():  # warm up: model loaded, threads started
            seed += 100
            warm = [request_bytes(path, key, to_jpeg(make_image(["circle"], seed=seed + i))) for i in range(4)]
            asyncio.run(load(port, warm, 2))
        measure_ceiling = backbone_alone(args.backbone, args.repeats)
        ceilings.append(measure_ceiling())
        for concurrency in args.concurrency:
            for _ in range(args.repeats):
                round_runs = []
                for label, port in ports.items():
                    seed += 10_000
                    requests = [
                        request_bytes(path, key, to_jpeg(make_image([KINDS[i % 3]], seed=seed + i, size=224)))
                        for i in range(args.requests)
                    ]
                    seconds, latencies = asyncio.run(load(port, requests, concurrency))
                    quantiles = statistics.quantiles(latencies, n=100)
                    round_runs.append((label, len(requests) / seconds, quantiles[49] * 1000, quantiles[98] * 1000))
                # The machine's speed drifts (shared cores): each run is set against the ceiling measured
                # just before and just after it.
                ceilings.append(measure_ceiling())
                ceiling = (ceilings[-2] + ceilings[-1]) / 2
                for label, rate, p50, p99 in round_runs:
                    runs.setdefault((label, concurrency), []).append((rate, p50, p99, rate / ceiling))
    rows = []
    for (label, concurrency), results in sorted(runs.items(), key=lambda item: (item[0][1], item[0][0])):
        rate, p50, p99, share = (statistics.median(values) for values in zip(*results, strict=True))
        rows.append([label, concurrency, f"{rate:.1f}", f"{p50:.1f}", f"{p99:.1f}", f"{share:.0%}"])
    headers = ["mode", "concurrency", "img/s", "p50 ms", "p99 ms", "of backbone alone"]
    table = markdown_table(headers, rows)
    body = (
        f"Backbone `{args.backbone}`; {args.requests} requests per run, 224x224 JPEGs, each distinct (no "
        "embedding-cache hits); route `/classify/iterations/live/image/nostore`; two `sightline serve` processes "
        f"and a raw-socket keep-alive client share this machine. Medians of {args.repeats} alternating runs; no "
        "errors (any non-200 aborts the run). Backbone alone: ready pixels, batch 32, the better of Sightline's "
        "ONNX Runtime session and ONNX Runtime's defaults, measured between runs (the last column sets each run "
        f"against the two measures around it): {min(ceilings):.1f} to {max(ceilings):.1f} img/s, median "
        f"{statistics.median(ceilings):.1f}. Target at 32 clients: at least 70% of it.\n\n{table}"
    )
    write_result("api_load", "Prediction API under load", body)


if __name__ == "__main__":
    main()
