"""Batch prediction speed: Sightline locally and on Ray against the backbone alone and a naive loop.

2,000 clothing photos (../shared/data), a classifier trained on MobileNetV1 (../shared/models), all
in one run so that the ratios compare like with like on a shared, noisy machine:

- backbone alone: the ONNX model on ready pixels (already decoded and resized), batches of 32: the ceiling;
- Sightline local: `sightline.batch.predict` (read + decode in threads ahead of the model; rows written);
- Sightline on Ray: the same with `ray=True` on a 2-CPU local cluster (`ray.init(num_cpus=2)`);
- naive loop: one image at a time, decode then predict, no overlap.

Also the JPEG decoders: Pillow with `draft` (what Sightline uses) against libjpeg-turbo through
PyTurboJPEG/simplejpeg when installed (neither is installed by default; the row says so).

    python benchmarks/batch_predict.py [--images 2000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import CLOTHING, EMBEDDING_MODEL, class_folders, markdown_table, require_shared, write_result

BATCH = 32


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
    from sightline.imaging import decode_for_model

    data = [p.read_bytes() for p in paths]
    rows = []
    started = time.perf_counter()
    for item in data:
        decode_for_model(item, spec)
    rows.append(("Pillow + draft (Sightline)", _rate(len(data), time.perf_counter() - started)))
    try:
        import simplejpeg  # libjpeg-turbo

        started = time.perf_counter()
        for item in data:
            simplejpeg.decode_jpeg(item, colorspace="RGB", min_height=spec.height, min_width=spec.width)
        rows.append(("simplejpeg (libjpeg-turbo), decode only", _rate(len(data), time.perf_counter() - started)))
    except ImportError:
        rows.append(("simplejpeg (libjpeg-turbo)", float("nan")))
    return rows


def main() -> None:
    require_shared()
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=2000)
    args = parser.parse_args()
    paths = _images(args.images)
    from sightline import batch
    from sightline.batch.pipeline import BatchModel
    from sightline.imaging import decode_for_model
    from sightline.service import predictions

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ws = _workspace(folder)
        published = predictions.published_model(ws, "Clothing", "production")
        model = BatchModel(published.artifact, published.domain, published.threshold)
        spec = model.classifier.backbone.preprocess
        pixels = np.stack([decode_for_model(p, spec) for p in paths])
        manifest = folder / "images.csv"
        manifest.write_text("path\n" + "".join(f"{p}\n" for p in paths))

        alone = _backbone_alone(model.classifier.backbone, pixels)
        local = batch.predict(ws, "Clothing", "production", [str(manifest)], str(folder / "local.jsonl"))
        alone_after = _backbone_alone(model.classifier.backbone, pixels)
        ceiling = (alone + alone_after) / 2
        import ray

        os.environ.setdefault("RAY_DISABLE_PROGRESS_BARS", "1")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        on_ray = batch.predict(ws, "Clothing", "production", [str(manifest)], str(folder / "ray.jsonl"), ray=True)
        ray.shutdown()
        naive = _naive(model, paths[:300])
        decoders = _decoders(paths[:300], spec)

    rows = [
        ("backbone alone, ready pixels (ceiling: mean of before/after)", ceiling, 1.0),
        ("Sightline local (batch.predict)", local.images_per_second, local.images_per_second / ceiling),
        ("Sightline on Ray (2-CPU local cluster)", on_ray.images_per_second, on_ray.images_per_second / ceiling),
        ("naive loop (decode, predict, one by one; 300 images)", naive, naive / ceiling),
    ]
    body = [
        f"{len(paths)} clothing photos, MobileNetV1 embedding ({EMBEDDING_MODEL.name}) + a 4-tag head, batch {BATCH}.",
        f"Backbone alone measured {alone:.1f} img/s before and {alone_after:.1f} after the local run.",
        "",
        markdown_table(["what", "img/s", "x backbone alone"], [(a, f"{b:.1f}", f"{c:.2f}") for a, b, c in rows]),
        "",
        f"Ray / local: {on_ray.images_per_second / local.images_per_second:.2f} (target >= 0.8). "
        f"Local / backbone: {local.images_per_second / ceiling:.2f} (target >= 0.85).",
        "",
        "JPEG decoders (to 224x224 model input, one thread, 300 photos):",
        "",
        markdown_table(["decoder", "img/s"], [(a, f"{b:.1f}") for a, b in decoders]),
    ]
    write_result("batch_predict", "Batch prediction", "\n".join(body))


if __name__ == "__main__":
    main()
