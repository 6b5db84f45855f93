"""Data sets for the honest-evaluation benchmark: several shots per item, and homogeneous images.

Both are built from what every developer has (clothing photos) or from code, deterministically from
a seed, so the embedding cache makes reruns cheap.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def shot(photo: Image.Image, rng: np.random.Generator) -> bytes:
    """Another shot of the item in `photo`: a different framing (crop 75-95%), a small rotation
    (up to 12 degrees) and other lighting (brightness and contrast 0.75-1.25), as a person taking
    a second picture of the same thing would get."""
    w, h = photo.size
    scale = rng.uniform(0.75, 0.95)
    cw, ch = int(w * scale), int(h * scale)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    image = photo.crop((x, y, x + cw, y + ch)).rotate(
        rng.uniform(-12, 12), resample=Image.BILINEAR, fillcolor=(128, 128, 128)
    )
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.75, 1.25))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.75, 1.25))
    return _jpeg(image)


def several_shots(paths: list[Path], shots: int, seed: int) -> list[bytes]:
    """`shots` images of each photo's item, in photo order (item i = images [i*shots, (i+1)*shots))."""
    rng = np.random.default_rng(seed)
    out = []
    for path in paths:
        with Image.open(path) as img:
            photo = img.convert("RGB")
        out += [shot(photo, rng) for _ in range(shots)]
    return out


SURFACE_DEFECTS = ("clean", "scratch", "spot", "patch")


def surface(defect: str, rng: np.random.Generator, size: int = 224) -> bytes:
    """A grey, fine-grained metal-like surface (every image looks alike), with one kind of defect:
    a thin scratch, a small dark spot, a faint lighter patch, or none."""
    base = rng.normal(128, 10, (size // 4, size // 4))
    noise = np.kron(base, np.ones((4, 4))) + rng.normal(0, 12, (size, size))
    streaks = np.linspace(0, rng.uniform(4, 12) * np.pi, size)
    noise += 6 * np.sin(streaks)[None, :]  # rolling marks, as on steel strip
    image = Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
    draw = ImageDraw.Draw(image)
    cx, cy = rng.integers(40, size - 40, 2)
    if defect == "scratch":
        angle = rng.uniform(0, np.pi)
        length = rng.uniform(40, 120)
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        draw.line(
            [(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=int(rng.uniform(60, 90)), width=int(rng.integers(1, 3))
        )
    elif defect == "spot":
        r = rng.uniform(4, 10)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=int(rng.uniform(40, 80)))
    elif defect == "patch":
        w, h = rng.uniform(30, 70, 2)
        patch = Image.new("L", image.size, 0)
        ImageDraw.Draw(patch).rectangle([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], fill=int(rng.uniform(25, 45)))
        image = Image.fromarray(
            np.clip(
                np.asarray(image, dtype=np.int16) + np.asarray(patch.filter(ImageFilter.GaussianBlur(6))), 0, 255
            ).astype(np.uint8)
        )
    return _jpeg(image.convert("RGB"))


def surfaces(per_defect: int, seed: int) -> tuple[list[bytes], list[str]]:
    """`per_defect` independent surface images of each defect kind (each image its own item)."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for defect in SURFACE_DEFECTS:
        for _ in range(per_defect):
            images.append(surface(defect, rng))
            labels.append(defect)
    return images, labels
