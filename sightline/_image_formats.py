"""Which image formats Sightline accepts, how to recognise one from its first bytes, and how any
Pillow mode becomes plain 8-bit RGB. Private: `sightline.imaging` is the public surface.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class ImageFormat:
    """One accepted format: Pillow's name for it, its media type, and the file suffixes it is found under."""

    name: str
    media_type: str
    suffixes: tuple[str, ...]


#: The one list of accepted formats. MPO is how Pillow names the multi-picture JPEGs many cameras and
#: phones write: it is a JPEG (no suffix of its own: such files are named .jpg).
FORMATS = (
    ImageFormat("JPEG", "image/jpeg", (".jpg", ".jpeg")),
    ImageFormat("MPO", "image/jpeg", ()),
    ImageFormat("PNG", "image/png", (".png",)),
    ImageFormat("BMP", "image/bmp", (".bmp",)),
    ImageFormat("GIF", "image/gif", (".gif",)),
    ImageFormat("WEBP", "image/webp", (".webp",)),
    ImageFormat("TIFF", "image/tiff", (".tif", ".tiff")),
)
SUPPORTED_FORMATS = frozenset(f.name for f in FORMATS)
SUPPORTED_LIST = ", ".join(f.name for f in FORMATS if f.suffixes)
#: File suffixes (lower case, with the dot) that folder walks pick up as images.
IMAGE_SUFFIXES = frozenset(suffix for f in FORMATS for suffix in f.suffixes)
_MEDIA_TYPES = {f.name: f.media_type for f in FORMATS}

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


def media_type(data: bytes) -> str:
    """The media type of image bytes from their signature; `application/octet-stream` when unknown."""
    return _MEDIA_TYPES.get(sniff_format(data) or "", "application/octet-stream")


def is_image_name(name: str) -> bool:
    """The one rule for picking images out of a folder (local or remote, `/`- or os-separated): an image
    suffix, any case, and not a hidden file (`._photo.jpg` is macOS metadata, not a photo)."""
    base = os.path.basename(name.rsplit("/", 1)[-1])
    return not base.startswith(".") and os.path.splitext(base)[1].lower() in IMAGE_SUFFIXES


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
