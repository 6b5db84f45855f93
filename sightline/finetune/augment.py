"""Pixel augmentation for fine-tuning, in plain torch (no torchvision): crops, flips, colour.

Images are decoded once into uint8 arrays a little larger than the network's input; every epoch
draws new views from them. The views are for fine-tuning only: the head, its calibration and
every embedding a user sees come from the plain, unaugmented preprocessing of `imaging`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from sightline.config import ImageLimits
from sightline.errors import ImageError
from sightline.imaging import ImageSource, PreprocessSpec, load_image

#: Decoded images keep this much more than the input size, so crops resample from real detail.
DECODE_MARGIN = 1.15


@dataclass(frozen=True)
class Augmentation:
    """What a training view may change. `flips=False` where orientation carries meaning."""

    scale: tuple[float, float] = (0.35, 1.0)  # area of the random crop, as a fraction of the image
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flips: bool = True
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2


def decode_images(
    images: Sequence[ImageSource], size: int, limits: ImageLimits | None = None
) -> tuple[np.ndarray, list[int], list[tuple[int, ImageError]]]:
    """(n_ok, size', size', 3) uint8 images stretched to `size * DECODE_MARGIN`, their indices, failures."""
    side = math.ceil(size * DECODE_MARGIN)
    kept: list[np.ndarray] = []
    ok: list[int] = []
    failures: list[tuple[int, ImageError]] = []
    for index, source in enumerate(images):
        try:
            image = load_image(source, limits, min_size=(side, side))
        except ImageError as error:
            failures.append((index, error))
            continue
        kept.append(np.asarray(image.resize((side, side), resample=2)))  # 2: bilinear
        ok.append(index)
    pixels = np.stack(kept) if kept else np.zeros((0, side, side, 3), dtype=np.uint8)
    return pixels, ok, failures


def normalise(batch: torch.Tensor, spec: PreprocessSpec) -> torch.Tensor:
    """(n, 3, h, w) float 0..255 -> the network's input, as `imaging.preprocess` computes it."""
    mean = torch.tensor(spec.mean, dtype=batch.dtype, device=batch.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, dtype=batch.dtype, device=batch.device).view(1, 3, 1, 1)
    return (batch / 255.0 - mean) / std


def plain_views(pixels: np.ndarray, spec: PreprocessSpec, device: str = "cpu") -> torch.Tensor:
    """The whole images at the input size, unaugmented: what validation and the frozen probe see."""
    batch = torch.from_numpy(pixels).to(device).permute(0, 3, 1, 2).float()
    resized = F.interpolate(batch, size=(spec.height, spec.width), mode="bilinear", antialias=True,
                            align_corners=False)  # fmt: skip
    return normalise(resized.clamp(0, 255), spec)


def augmented_views(
    pixels: np.ndarray, spec: PreprocessSpec, augmentation: Augmentation, generator: np.random.Generator,
    device: str = "cpu",
) -> torch.Tensor:  # fmt: skip
    """One random view per image: a resized crop, maybe mirrored, with brightness/contrast/saturation jitter."""
    views = []
    _, height, width, _ = pixels.shape
    for image in pixels:
        top, left, h, w = _crop_box(height, width, augmentation, generator)
        crop = torch.from_numpy(np.ascontiguousarray(image[top : top + h, left : left + w])).to(device)
        crop = crop.permute(2, 0, 1).unsqueeze(0).float()
        view = F.interpolate(crop, size=(spec.height, spec.width), mode="bilinear", antialias=True,
                             align_corners=False)[0]  # fmt: skip
        if augmentation.flips and generator.random() < 0.5:
            view = view.flip(-1)
        views.append(_jitter(view, augmentation, generator))
    return normalise(torch.stack(views).clamp(0, 255), spec)


def _crop_box(height: int, width: int, augmentation: Augmentation, generator: np.random.Generator):
    """A random crop of the given area and aspect ranges (the Inception-style crop), else the whole image."""
    area = height * width
    for _ in range(10):
        target = area * generator.uniform(*augmentation.scale)
        ratio = math.exp(generator.uniform(math.log(augmentation.ratio[0]), math.log(augmentation.ratio[1])))
        w = round(math.sqrt(target * ratio))
        h = round(math.sqrt(target / ratio))
        if 0 < w <= width and 0 < h <= height:
            return int(generator.integers(0, height - h + 1)), int(generator.integers(0, width - w + 1)), h, w
    return 0, 0, height, width


def _jitter(view: torch.Tensor, augmentation: Augmentation, generator: np.random.Generator) -> torch.Tensor:
    """Brightness, contrast and saturation factors drawn in [1 - s, 1 + s], applied in that order."""
    view = view * generator.uniform(1 - augmentation.brightness, 1 + augmentation.brightness)
    grey = (0.299 * view[0] + 0.587 * view[1] + 0.114 * view[2]).unsqueeze(0)
    contrast = generator.uniform(1 - augmentation.contrast, 1 + augmentation.contrast)
    view = (view - grey.mean()) * contrast + grey.mean()
    grey = (0.299 * view[0] + 0.587 * view[1] + 0.114 * view[2]).unsqueeze(0)
    saturation = generator.uniform(1 - augmentation.saturation, 1 + augmentation.saturation)
    return (view - grey) * saturation + grey
