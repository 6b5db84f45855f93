"""Synthetic labelled photos (coloured shapes on textured backgrounds) for the demo and the tests.

Each kind of object has its own shape and hue range, so even a random-weight backbone separates
them; positions, sizes, hues, backgrounds and noise vary so that the task is not trivial.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

#: object kind -> (shape, hue range in degrees)
KINDS: dict[str, tuple[str, tuple[int, int]]] = {
    "circle": ("ellipse", (350, 370)),  # reds
    "square": ("rectangle", (200, 240)),  # blues
    "triangle": ("triangle", (90, 140)),  # greens
    "star": ("star", (40, 60)),  # yellows
}


def _rgb(hue: float, rng: np.random.Generator) -> tuple[int, int, int]:
    import colorsys

    r, g, b = colorsys.hsv_to_rgb((hue % 360) / 360, rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0))
    return int(r * 255), int(g * 255), int(b * 255)


def _background(size: int, rng: np.random.Generator) -> Image.Image:
    """Grey, textured and shaded: varied, but leaving colour to the objects, as in product photos."""
    base = np.full(3, rng.uniform(90, 200))
    noise = rng.normal(0, 18, size=(size, size, 1))
    gradient = np.linspace(-25, 25, size)[None, :, None] * rng.choice([-1, 1])
    pixels = np.clip(base[None, None, :] + noise + gradient, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def _draw(draw: ImageDraw.ImageDraw, shape: str, box: tuple[float, float, float, float], fill: tuple) -> None:
    x0, y0, x1, y1 = box
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
    if shape == "ellipse":
        draw.ellipse(box, fill=fill)
    elif shape == "rectangle":
        draw.rectangle(box, fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, y0), (x1, y1), (x0, y1)], fill=fill)
    else:  # five-pointed star
        angles = np.linspace(-np.pi / 2, 1.5 * np.pi, 11)[:-1]
        radii = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        draw.polygon([(cx + q * np.cos(a), cy + q * np.sin(a)) for a, q in zip(angles, radii, strict=True)], fill=fill)


def make_image(kinds: list[str], seed: int, size: int = 128) -> Image.Image:
    """One image showing each of `kinds` once (empty list: background only, a 'negative' image)."""
    rng = np.random.default_rng(seed)
    image = _background(size, rng)
    draw = ImageDraw.Draw(image)
    cells = rng.permutation(4)[: len(kinds)] if len(kinds) > 1 else [None]
    for kind, cell in zip(kinds, cells, strict=False):
        shape, (lo, hi) = KINDS[kind]
        if cell is None:
            extent = rng.uniform(0.5, 0.8) * size
            x0, y0 = rng.uniform(0, size - extent, size=2)
        else:
            extent = rng.uniform(0.3, 0.45) * size
            half = size / 2
            x0 = (cell % 2) * half + rng.uniform(0, half - extent)
            y0 = (cell // 2) * half + rng.uniform(0, half - extent)
        _draw(draw, shape, (x0, y0, x0 + extent, y0 + extent), _rgb(rng.uniform(lo, hi), rng))
    return image


def make_unrelated_image(seed: int, size: int = 128) -> Image.Image:
    """Something unlike any training image: black-and-white stripes at a random angle and pitch.

    With the random-weight `tiny` backbone, novelty can only be judged by colour and texture, so the
    unrelated image differs in both; real backbones also flag unrelated content (see the tests).
    """
    rng = np.random.default_rng(seed)
    angle, pitch = rng.uniform(0, np.pi), rng.uniform(6, 12)
    y, x = np.indices((size, size))
    stripes = (np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / pitch) > 0).astype(np.uint8) * 255
    return Image.fromarray(np.repeat(stripes[..., None], 3, axis=2), "RGB")


def make_lens_cap_image(seed: int, size: int = 128) -> Image.Image:
    """A photo taken with the lens cap on: near-black with sensor noise, unlike any product photo."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(rng.normal(12, 6, size=(size, size, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def to_jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def single_label_dataset(
    per_class: int, kinds: list[str] | None = None, seed: int = 0
) -> tuple[list[bytes], list[str]]:
    """JPEG bytes and one tag each: `per_class` images of every kind."""
    kinds = kinds or list(KINDS)
    images, labels = [], []
    for k, kind in enumerate(kinds):
        for i in range(per_class):
            images.append(to_jpeg(make_image([kind], seed=seed * 100_000 + k * 1000 + i)))
            labels.append(kind)
    return images, labels


def multi_label_dataset(n: int, kinds: list[str] | None = None, seed: int = 0) -> tuple[list[bytes], list[list[str]]]:
    """JPEG bytes and their tag lists: 1 to 3 objects per image, each kind present in about half."""
    kinds = kinds or list(KINDS)
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(n):
        present = [k for k in kinds if rng.random() < 0.5] or [kinds[i % len(kinds)]]
        present = present[:3]
        images.append(to_jpeg(make_image(present, seed=seed * 100_000 + 50_000 + i)))
        labels.append(present)
    return images, labels
