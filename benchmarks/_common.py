"""What every benchmark shares: where the data is, the machine it ran on, and how results are written."""

from __future__ import annotations

import io
import os
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SIGHTLINE_SHARED", ROOT.parent / "shared"))
MODELS = SHARED / "models"
CLOTHING = SHARED / "data" / "clothing-dataset-small" / "data"
RESULTS = ROOT / "benchmarks" / "results"
EMBEDDING_MODEL = MODELS / "mobilenet_v1_embedding.onnx"
IMAGENET_MODEL = MODELS / "mobilenet_v2_imagenet.onnx"


def require_shared() -> None:
    if not CLOTHING.is_dir() or not MODELS.is_dir():
        sys.exit(f"this benchmark needs {SHARED} (models and clothing-dataset-small); set SIGHTLINE_SHARED")


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, title: str, body: str) -> Path:
    """Print the result and keep it under benchmarks/results/<name>.md."""
    text = f"# {title}\n\nMachine: {machine()}\n\n{body.strip()}\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    return path


def class_folders(split: str) -> dict[str, list[Path]]:
    """clothing-dataset-small: class name -> sorted image paths of one split."""
    return {d.name: sorted(d.glob("*.jpg")) for d in sorted((CLOTHING / split).iterdir()) if d.is_dir()}


def make_mosaics(split: str, n: int, seed: int, cell: int = 200) -> tuple[list[bytes], list[list[str]]]:
    """`n` labelled multi-label photos: 2x2 mosaics (JPEG bytes) of clothing photos from `split`,
    four classes drawn with replacement; the tags of a mosaic are the classes it shows."""
    folders = class_folders(split)
    classes = sorted(folders)
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for _ in range(n):
        chosen = rng.choice(classes, size=4, replace=True)
        canvas = Image.new("RGB", (2 * cell, 2 * cell))
        for k, c in enumerate(chosen):
            with Image.open(rng.choice(folders[c])) as img:
                canvas.paste(img.convert("RGB").resize((cell, cell)), ((k % 2) * cell, (k // 2) * cell))
        buffer = io.BytesIO()
        canvas.save(buffer, "JPEG", quality=90)
        images.append(buffer.getvalue())
        labels.append(sorted(set(chosen)))
    return images, labels


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
