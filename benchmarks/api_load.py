"""Prediction API under load: throughput and latency with micro-batching, against no batching in the same run.

Two real `sightline serve` processes (one with `--max-batch 32`, one without batching) serve a
trained, published Multiclass project from the same workspace. A lean keep-alive HTTP/1.1 client
(raw asyncio sockets, requests prepared up front, so the load generator costs next to nothing)
sends `--requests` distinct images (no embedding-cache hits) to `/image/nostore` at several
concurrency levels; runs alternate between the two servers so the machine's noise hits both.

The `training` scenario asks what a training job costs the API: one `sightline serve` with its embedded
worker and micro-batching takes 32 clients while idle, then while it trains another project (distinct
images, so the job really embeds them; queued with force), alternating; every non-200 is counted.

    python benchmarks/api_load.py [--backbone tiny] [--requests 96] [--concurrency 1 8 32]
                                  [--scenarios batching training] [--train-images 200]
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
from sightline.service.views import IterationView
from sightline.store import IterationStatus
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


def untrained_project(name: str, backbone: str, per_class: int, seed: int) -> str:
    """Under the current SIGHTLINE_HOME: a project with `per_class` distinct images of each shape, never
    trained (so its training embeds every image); its id."""
    ws = Workspace.open()
    try:
        project = projects.create_project(ws, name, domain=backbone)
        for kind in KINDS:
            tags.create_tag(ws, project.id, kind)
        data, labels = single_label_dataset(per_class, KINDS, seed=seed)
        images.add_images(ws, project.id, [NewImage(d, tags=[label]) for d, label in zip(data, labels, strict=True)])
        return project.id
    finally:
        ws.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def sightline_serve(backbone: str, max_batch: int, worker: bool = False) -> Iterator[int]:
    """`sightline serve` in its own process (own interpreter, own GIL); yields its port once it answers.
    `worker`: it trains queued iterations in a thread of that process, as `sightline serve` does by default."""
    port = _free_port()
    command = [sys.executable, "-m", "sightline.cli", "serve", "--port", str(port), "--backbone", backbone,
               "--worker" if worker else "--no-worker", "--max-batch", str(max_batch),
               "--log-level", "warning"]  # fmt: skip
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


async def load(
    port: int, requests: list[bytes], concurrency: int, *, count_errors: bool = False
) -> tuple[float, list[float], list[str]]:
    """Seconds for all requests over `concurrency` keep-alive connections, each request's latency, and the
    non-200 answers (status line and the start of the body). Without `count_errors` the first one raises."""
    pending = list(reversed(requests))
    latencies: list[float] = []
    errors: list[str] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while pending:
                request = pending.pop()
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                body = await reader.readexactly(int(_LENGTH.search(head).group(1)))
                latencies.append(time.perf_counter() - started)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors.append(f"{head.splitlines()[0].decode()}: {body[:300].decode(errors='replace')}")
                    if not count_errors:
                        raise RuntimeError(errors[-1])
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, errors


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


def distinct_requests(path: str, key: str, seed: int, count: int) -> list[bytes]:
    """`count` requests, each a different 224x224 JPEG (no embedding-cache hits)."""
    return [
        request_bytes(path, key, to_jpeg(make_image([KINDS[i % 3]], seed=seed + i, size=224))) for i in range(count)
    ]


def warm_up(port: int, path: str, key: str, seed: int) -> None:
    """Model loaded, threads started."""
    asyncio.run(
        load(port, [request_bytes(path, key, to_jpeg(make_image(["circle"], seed=seed + i))) for i in range(4)], 2)
    )


def batching_scenario(args: argparse.Namespace, path: str, key: str) -> str:
    """Micro-batching against no batching at each concurrency, set against the backbone alone."""
    runs: dict[tuple[str, int], list[tuple[float, float, float, float]]] = {}
    ceilings: list[float] = []
    with contextlib.ExitStack() as servers:
        ports = {label: servers.enter_context(sightline_serve(args.backbone, batch)) for label, batch in MODES}
        seed = 1_000_000
        for port in ports.values():
            seed += 100
            warm_up(port, path, key, seed)
        measure_ceiling = backbone_alone(args.backbone, args.repeats)
        ceilings.append(measure_ceiling())
        for concurrency in args.concurrency:
            for _ in range(args.repeats):
                round_runs = []
                for label, port in ports.items():
                    seed += 10_000
                    requests = distinct_requests(path, key, seed, args.requests)
                    seconds, latencies, _ = asyncio.run(load(port, requests, concurrency))
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
    return (
        "## Micro-batching\n\n"
        f"Two `sightline serve` processes (`--no-worker`) and a raw-socket keep-alive client share this machine. "
        f"Medians of {args.repeats} alternating runs; no errors (any non-200 aborts the run). Backbone alone: "
        "ready pixels, batch 32, the better of Sightline's ONNX Runtime session and ONNX Runtime's defaults, "
        "measured between runs (the last column sets each run against the two measures around it): "
        f"{min(ceilings):.1f} to {max(ceilings):.1f} img/s, median {statistics.median(ceilings):.1f}. "
        f"Target at 32 clients: at least 70% of it.\n\n{markdown_table(headers, rows)}"
    )


def _wait_status(
    project_id: str, iteration_id: str, done: Callable[[str], bool], timeout: float = 300
) -> IterationView:
    ws = Workspace.open()
    try:
        deadline = time.monotonic() + timeout
        while not done((view := iterations.get_iteration(ws, project_id, iteration_id)).status):
            if time.monotonic() > deadline:
                raise RuntimeError(f"iteration {iteration_id} still {view.status} after {timeout:.0f} s")
            time.sleep(0.05)
        return view
    finally:
        ws.close()


@contextlib.contextmanager
def training_in_background(project_id: str) -> Iterator[dict[str, int | bool]]:
    """Queue a (forced) training of `project_id`, wait until the server's worker has taken it, and yield;
    then note whether it was still training and how far it got, cancel it and wait until it has stopped."""
    ws = Workspace.open()
    try:
        queued = training.start_training(ws, project_id, force=True)
    finally:
        ws.close()
    started = _wait_status(project_id, queued.id, lambda status: status != IterationStatus.QUEUED)
    if started.status != IterationStatus.TRAINING:
        raise RuntimeError(f"the background training ended before the load started: {started.status} {started.error}")
    seen: dict[str, int | bool] = {"done_before": started.progress_done}
    yield seen
    ws = Workspace.open()
    try:
        view = iterations.get_iteration(ws, project_id, queued.id)
        seen.update(still_training=view.status == IterationStatus.TRAINING, done_after=view.progress_done)
        seen["total"] = view.progress_total
        if not IterationStatus(view.status).is_terminal:
            iterations.cancel_training(ws, project_id, queued.id)
    finally:
        ws.close()
    _wait_status(project_id, queued.id, lambda status: IterationStatus(status).is_terminal)


def training_scenario(args: argparse.Namespace, path: str, key: str) -> str:
    """32 clients against one server (worker on, micro-batching), idle and while it trains another project."""
    background = [
        untrained_project(f"Background {r}", args.backbone, args.train_images, seed=2_000_000 + 10_000 * r)
        for r in range(args.repeats)
    ]
    concurrency, labels = 32, ("without training", "with training")
    runs: dict[str, list[tuple[float, int, float, float]]] = {label: [] for label in labels}
    ratios: list[float] = []
    seen: list[dict[str, int | bool]] = []
    with sightline_serve(args.backbone, 32, worker=True) as port:
        seed = 3_000_000
        warm_up(port, path, key, seed)
        for project_id in background:
            rates = {}
            for label in labels:
                seed += 10_000
                requests = distinct_requests(path, key, seed, args.requests)
                with (
                    training_in_background(project_id)
                    if label == "with training"
                    else contextlib.nullcontext({}) as job
                ):
                    seconds, latencies, errors = asyncio.run(load(port, requests, concurrency, count_errors=True))
                if job:
                    seen.append(job)
                quantiles = statistics.quantiles(latencies, n=100)
                rates[label] = len(requests) / seconds
                runs[label].append((rates[label], len(errors), quantiles[49] * 1000, quantiles[98] * 1000))
                for error in errors[:3]:
                    print(f"{label}: {error}", file=sys.stderr)
            ratios.append(rates["with training"] / rates["without training"])
    rows = []
    for label in labels:
        rate, _, p50, p99 = (statistics.median(values) for values in zip(*runs[label], strict=True))
        errors = sum(run[1] for run in runs[label])
        ratio = statistics.median(ratios) if label == "with training" else 1.0
        rows.append([label, concurrency, f"{rate:.1f}", errors, f"{p50:.1f}", f"{p99:.1f}", f"{ratio:.2f}"])
    headers = ["server", "concurrency", "img/s", "errors", "p50 ms", "p99 ms", "img/s vs without"]
    still = sum(bool(job["still_training"]) for job in seen)
    progress = ", ".join(f"{job['done_before']}->{job['done_after']} of {job['total']}" for job in seen)
    return (
        "## With training in the background\n\n"
        "One `sightline serve` (embedded worker on, `--max-batch 32`) takes 32 clients, alternately idle and "
        f"while its worker trains another project of {args.train_images * len(KINDS)} never-embedded images "
        "(queued with force; the load starts once the worker has taken the job, and the job is cancelled "
        f"after it). Medians of {args.repeats} pairs of runs; errors are all non-200 answers of all runs; the "
        f"last column is the median of each pair's ratio. The job was still training at the end of {still} of "
        f"{len(seen)} loaded runs (its progress over each run: {progress}).\n\n{markdown_table(headers, rows)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="tiny")
    parser.add_argument("--requests", type=int, default=96)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scenarios", nargs="+", choices=["batching", "training"], default=["batching", "training"])
    parser.add_argument(
        "--train-images", type=int, default=200, help="images per tag of the project trained in the background"
    )
    args = parser.parse_args()
    sections: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as folder:
        os.environ["SIGHTLINE_HOME"] = folder  # the servers open this workspace too
        os.environ.pop("SIGHTLINE_DATABASE_URL", None)
        os.environ.pop("SIGHTLINE_BLOB_URL", None)
        project_id, key = trained_workspace(args.backbone)
        path = f"/customvision/v3.0/prediction/{project_id}/classify/iterations/live/image/nostore"
        if "batching" in args.scenarios:
            sections["api_load"] = batching_scenario(args, path, key)
        if "training" in args.scenarios:
            sections["api_load_training"] = training_scenario(args, path, key)
    setting = (
        f"Backbone `{args.backbone}`; {args.requests} requests per run, 224x224 JPEGs, each distinct (no "
        "embedding-cache hits); route `/classify/iterations/live/image/nostore` of a published Multiclass "
        "project.\n\n"
    )
    titles = {"api_load": "Prediction API under load", "api_load_training": "Prediction API under load, training"}
    for name, section in sections.items():  # one result file per scenario: each keeps its latest run
        write_result(name, titles[name], setting + section)


if __name__ == "__main__":
    main()
