"""Batch prediction speed: Sightline locally and on Ray against the backbone alone and a naive loop.

2,000 clothing photos (../shared/data), a classifier trained on MobileNetV1 (../shared/models), all
in one run so that the ratios compare like with like on a shared, noisy machine:

- backbone alone: the ONNX model on ready pixels (already decoded and resized), batches of 32: the ceiling;
- Sightline local: `sightline.batch.predict` (read + decode in threads ahead of the model; rows written);
- Sightline on Ray: the same with `ray=True` on a 2-CPU local cluster (`ray.init(num_cpus=2)`);
- naive loop: one image at a time, decode then predict, no overlap.

Also the JPEG decoders: Pillow with `draft` (1/2, 1/4, 1/8 scale) against libjpeg-turbo through
simplejpeg (any M/8 scale), decode alone and all the way to model input.

    python benchmarks/batch_predict.py [--images 2000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import CLOTHING, EMBEDDING_MODEL, class_folders, markdown_table, require_shared, write_result

BATCH = 32
CEILING_IMAGES = 512
NODES = (1, 2, 4, 8, 16, 32, 64)


def _images(count: int) -> list[Path]:
    paths = sorted(p for split in ("train", "validation", "test") for p in (CLOTHING / split).rglob("*.jpg"))
    return paths[:count]


def _workspace(folder: Path):
    from sightline.service import Worker, Workspace, images, iterations, projects, tags, training
    from sightline.service.images import NewImage
    from sightline.store import BlobStore, open_store

    ws = Workspace(open_store(f"sqlite:///{folder / 'db.sqlite'}"), BlobStore(str(folder / "blobs")))
    project = projects.create_project(ws, "Clothing", domain=f"onnx:{EMBEDDING_MODEL}")
    folders = class_folders("train")
    for name in list(folders)[:4]:
        tags.create_tag(ws, project.id, name)
        batch = [NewImage(p.read_bytes(), tags=[name]) for p in folders[name][:20]]
        images.add_images(ws, project.id, batch)
    queued = training.start_training(ws, project.id)
    Worker(ws).run_once()
    iterations.publish_iteration(ws, project.id, queued.id, "production")
    return ws


def _rate(count: int, seconds: float) -> float:
    return count / seconds


def _backbone_alone(backbone, pixels: np.ndarray) -> float:
    started = time.perf_counter()
    for start in range(0, len(pixels), BATCH):
        backbone.embed_pixels(pixels[start : start + BATCH])
    return _rate(len(pixels), time.perf_counter() - started)


def _naive(model, paths: list[Path]) -> float:
    from sightline.imaging import decode_for_model

    spec = model.classifier.backbone.preprocess
    started = time.perf_counter()
    for path in paths:
        model.rows([str(path)], decode_for_model(path, spec)[None])
    return _rate(len(paths), time.perf_counter() - started)


def _decoders(paths: list[Path], spec) -> list[tuple[str, float]]:
    """Each decoder on one thread, alternated over three rounds (median), from bytes to what it produces."""
    import io
    import statistics

    from PIL import Image

    from sightline import _turbo_jpeg
    from sightline.imaging import decode_for_model

    data = [p.read_bytes() for p in paths]
    size = (spec.width, spec.height)

    def pillow_decode(item: bytes) -> None:
        image = Image.open(io.BytesIO(item))
        image.draft("RGB", size)
        image.load()

    def pillow_model_input(item: bytes) -> None:
        _turbo_jpeg.AVAILABLE = False
        try:
            decode_for_model(item, spec)
        finally:
            _turbo_jpeg.AVAILABLE = True

    candidates = [
        ("Pillow + draft (1/2, 1/4, 1/8), decode only", pillow_decode),
        ("libjpeg-turbo via simplejpeg (M/8), decode only", lambda item: _turbo_jpeg.decode_scaled(item, size)),
        ("Pillow + draft, to model input (the fallback)", pillow_model_input),
        ("simplejpeg, to model input (Sightline's default)", lambda item: decode_for_model(item, spec)),
    ]
    if not _turbo_jpeg.AVAILABLE:
        return [(name, float("nan")) for name, _ in candidates]
    rates: dict[str, list[float]] = {name: [] for name, _ in candidates}
    for _ in range(3):
        for name, decode in candidates:
            started = time.perf_counter()
            for item in data:
                decode(item)
            rates[name].append(_rate(len(data), time.perf_counter() - started))
    return [(name, statistics.median(rates[name])) for name, _ in candidates]


@dataclass(frozen=True)
class Timed:
    """A `batch.predict` run: images/s over the whole job, seconds to its first batch, and images/s after it."""

    images_per_second: float
    first_batch_seconds: float
    steady: float


def _timed_predict(ws, manifest: Path, out: Path, *, ray: bool) -> Timed:
    from sightline import batch

    marks: list[tuple[float, int]] = []
    started = time.perf_counter()
    summary = batch.predict(
        ws,
        "Clothing",
        "production",
        [str(manifest)],
        str(out),
        ray=ray,
        progress=lambda done, _total: marks.append((time.perf_counter(), done)),
    )
    ended = time.perf_counter()
    (first_time, first_done) = marks[1]  # marks[0] is the call before the first batch
    steady = _rate(summary.total - first_done, ended - first_time)
    return Timed(summary.images_per_second, first_time - started, steady)


def _driver_rows_per_second(rows_file: Path, out: Path) -> float:
    """How fast the driver takes result rows (parse them, write them as `predict` does): Ray sends every
    row back to it, so this bounds a cluster of any size."""
    import json

    from sightline.batch.output import ResultWriter

    rows = [json.loads(line) for line in rows_file.read_text().splitlines()]
    encoded = [json.dumps(row) for row in rows]
    writer = ResultWriter(str(out), resume=False)
    started = time.perf_counter()
    for start in range(0, len(encoded), BATCH):
        writer.write([json.loads(text) for text in encoded[start : start + BATCH]])
    writer.close(complete=True)
    return _rate(len(rows), time.perf_counter() - started)


def _bound(backbone: float, decode: float, share: float) -> str:
    """What 2 cores allow at best when decoding takes CPU from the model: the cores are a zero-sum budget."""
    if not decode > 0:
        return ""
    best = 1 / (1 / backbone + 1 / (2 * decode))
    return (
        f"On 2 cores decoding and the model share the same CPUs: with the backbone alone at {backbone:.1f} img/s "
        f"(both cores) and decoding to model input at {decode:.1f} img/s per core, a perfect pipeline reaches "
        f"1 / (1/{backbone:.1f} + 1/(2 x {decode:.1f})) = {best:.1f} img/s, {best / backbone:.2f}x the backbone "
        f"alone; Sightline local reached {share:.2f}x, {share * backbone / best:.2f} of that bound. The 0.85x target "
        f"needs decoding at >= {0.85 / 0.15 * backbone / 2:.0f} img/s per core, or more cores than the model uses."
    )


def _scaling(per_node: float, share: float, driver: float) -> str:
    """The paragraph and table on N nodes: what is measured here, what is estimated from it, and why."""
    table = [(str(n), f"{min(n * per_node, driver):,.0f}", f"{n * per_node / driver:.2f}") for n in NODES]
    return "\n".join(
        [
            "## How it scales to N nodes",
            "",
            "Measured here, on one 2-CPU node: the Ray pipeline's images/s, its share of the backbone alone "
            f"({share:.2f}), and how fast the driver takes result rows ({driver:,.0f} rows/s: parse and write, "
            "as `predict` does). Estimated, not measured (there is one machine): N nodes of the same kind. "
            "Every image is independent (read, decode and predict run where the block is; no shuffle, no "
            "state shared between images), so throughput grows with the nodes until something shared "
            "saturates: the driver, which receives every row and writes the output file, or the storage the "
            "images are read from (S3 serves thousands of requests per second per prefix; not measured "
            "here). The table multiplies the rate measured here, under today's load, by N and caps it at "
            "the driver's rate; an idle node is faster by the ratio of its own backbone-alone rate to the "
            "one measured here, and the driver load grows with it. Beyond the driver's limit, run one job "
            "per shard of the manifest, each with its own `--out`: then nothing shared remains but storage.",
            "",
            markdown_table(["nodes (2 CPUs each)", "img/s (estimated)", "driver load (1.00 = saturated)"], table),
        ]
    )


def main() -> None:
    require_shared()
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=2000)
    args = parser.parse_args()
    paths = _images(args.images)
    from sightline.batch.pipeline import BatchModel
    from sightline.imaging import decode_for_model
    from sightline.service import predictions

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ws = _workspace(folder)
        published = predictions.published_model(ws, "Clothing", "production")
        model = BatchModel(published)
        spec = model.classifier.backbone.preprocess
        # the ceiling on a subset of ready pixels (2,000 would hold 1.2 GB), measured before, between and after
        pixels = np.stack([decode_for_model(p, spec) for p in paths[:CEILING_IMAGES]])
        manifest = folder / "images.csv"
        manifest.write_text("path\n" + "".join(f"{p}\n" for p in paths))
        load_before = os.getloadavg()[0]

        ceilings = [_backbone_alone(model.classifier.backbone, pixels)]
        local = _timed_predict(ws, manifest, folder / "local.jsonl", ray=False)
        ceilings.append(_backbone_alone(model.classifier.backbone, pixels))
        import ray

        os.environ.setdefault("RAY_DISABLE_PROGRESS_BARS", "1")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        on_ray = _timed_predict(ws, manifest, folder / "ray.jsonl", ray=True)
        ray.shutdown()
        ceilings.append(_backbone_alone(model.classifier.backbone, pixels))
        naive = _naive(model, paths[:300])
        writing = _driver_rows_per_second(folder / "local.jsonl", folder / "rewritten.jsonl")
        decoders = _decoders(paths[:300], spec)
        load_after = os.getloadavg()[0]

    local_ceiling, ray_ceiling = (ceilings[0] + ceilings[1]) / 2, (ceilings[1] + ceilings[2]) / 2
    local_share = local.images_per_second / local_ceiling
    ray_share = on_ray.images_per_second / ray_ceiling
    rows = [
        ("backbone alone, ready pixels (around the local run)", local_ceiling, 1.0),
        ("Sightline local (batch.predict)", local.images_per_second, local_share),
        ("  the same after its first batch", local.steady, local.steady / local_ceiling),
        ("backbone alone, ready pixels (around the Ray run)", ray_ceiling, 1.0),
        ("Sightline on Ray (2-CPU local cluster, job start included)", on_ray.images_per_second, ray_share),
        ("  the same after its first batch", on_ray.steady, on_ray.steady / ray_ceiling),
        ("naive loop (decode, predict, one by one; 300 images)", naive, naive / ceilings[2]),
    ]
    body = [
        f"{len(paths)} clothing photos, MobileNetV1 embedding ({EMBEDDING_MODEL.name}) + a 4-tag head, batch {BATCH}.",
        f"The machine was shared with other jobs (load average {load_before:.1f} at the start, {load_after:.1f} at "
        f"the end, on 2 cores): each run is set against the backbone alone measured right before and after it "
        f"({', '.join(f'{c:.1f}' for c in ceilings)} img/s on {CEILING_IMAGES} ready images, in order).",
        "",
        markdown_table(["what", "img/s", "x backbone alone"], [(a, f"{b:.1f}", f"{c:.2f}") for a, b, c in rows]),
        "",
        f"Local / backbone: {local_share:.2f} (target >= 0.85). "
        f"Ray / local, each against its own ceiling: {ray_share / local_share:.2f} (target >= 0.8); "
        f"raw: {on_ray.images_per_second / local.images_per_second:.2f}. First batch after "
        f"{local.first_batch_seconds:.1f} s locally, {on_ray.first_batch_seconds:.1f} s on Ray "
        "(actor start, model load).",
        "",
        "Under load the CPUs are shared out by process: Ray's several worker processes get a larger share of "
        "the 2 cores than the single local process does, which flatters Ray against its in-process ceiling; "
        "read the Ray ratios as noisy when the load average above is high.",
        "",
        _bound(local_ceiling, decoders[-1][1], local_share),
        "",
        "JPEG decoders (one thread, 300 photos, median of 3 alternated rounds; model input is 224x224):",
        "",
        markdown_table(["decoder", "img/s"], [(a, f"{b:.1f}") for a, b in decoders]),
        "",
        _scaling(on_ray.images_per_second, ray_share, writing),
    ]
    write_result("batch_predict", "Batch prediction", "\n".join(body))


if __name__ == "__main__":
    main()
