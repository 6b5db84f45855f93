"""Which image formats Sightline accepts, how to recognise one from its first bytes, and how any
Pillow mode becomes plain 8-bit RGB. Private: `sightline.imaging` is the public surface.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# MPO is how Pillow names the multi-picture JPEGs many cameras and phones write: it is a JPEG.
SUPPORTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "BMP", "GIF", "WEBP", "TIFF"})
SUPPORTED_LIST = "JPEG, PNG, BMP, GIF, WEBP, TIFF"

_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)

_WHITE = (255, 255, 255)


def sniff_format(data: bytes) -> str | None:
    """The supported format whose signature `data` starts with, if any."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((name for signature, name in _SIGNATURES if data.startswith(signature)), None)


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB of any decoded image; transparent pixels become white, as a viewer shows them."""
    if image.mode == "RGB":
        return image
    if image.mode == "I" or image.mode.startswith("I;16"):
        image = _sixteen_bit_to_l(image)
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", image.size, _WHITE)
        background.paste(rgba, mask=rgba)
        return background
    return image.convert("RGB")


def _sixteen_bit_to_l(image: Image.Image) -> Image.Image:
    """Pillow clips 16-bit values at 255 when converting, which turns most photos white: scale instead."""
    values = np.asarray(image).astype(np.int64)
    return Image.fromarray((np.clip(values, 0, 65535) >> 8).astype(np.uint8))
