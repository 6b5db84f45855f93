"""Small JPEG previews of stored images, for the browser UI and Custom Vision's thumbnailUri."""

from __future__ import annotations

import io

from sightline.imaging import load_image

THUMBNAIL_SUFFIX = "thumb"  # the BlobStore.put_derived suffix a thumbnail is stored under
_JPEG_QUALITY = 85


def make_thumbnail(data: bytes, max_side: int = 256) -> bytes:
    """JPEG bytes of the image, upright, its longer side at most `max_side` pixels.

    Decoding goes through `sightline.imaging`, so EXIF rotation, transparency and limits behave
    exactly as in training, and a JPEG is decoded at reduced scale (draft) when it is large.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    image = load_image(data, min_size=(max_side, max_side))
    image.thumbnail((max_side, max_side))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
    return out.getvalue()
