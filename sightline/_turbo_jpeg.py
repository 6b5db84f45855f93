"""JPEG decoding through libjpeg-turbo's scaled IDCT (`simplejpeg`), for images bound for a model.

libjpeg-turbo scales by any M/8 while it decodes, where Pillow's `draft()` only halves: a 400x533
photo for a 224x224 model decodes at 250x334 instead of 400x533, and the resize that follows reads
2.5 times fewer pixels. benchmarks/batch_predict.py measures both decoders side by side.

Optional: without simplejpeg, and for whatever it refuses (CMYK, damaged or truncated data, which
Pillow then reports with its usual message), `decode_scaled` returns None and callers use Pillow.
"""

from __future__ import annotations

import numpy as np

try:
    import simplejpeg
except ImportError:  # pragma: no cover - a dependency, but the Pillow path works without it
    simplejpeg = None

AVAILABLE = simplejpeg is not None


def decode_scaled(data: bytes, min_size: tuple[int, int]) -> np.ndarray | None:
    """(H, W, 3) uint8 RGB, each side at least `min_size` (width, height) where the JPEG was that large,
    or None when simplejpeg is missing or refuses the data (strict: libjpeg warnings count as errors)."""
    if simplejpeg is None:
        return None
    try:
        return simplejpeg.decode_jpeg(data, colorspace="RGB", min_width=min_size[0], min_height=min_size[1])
    except ValueError:
        return None
