"""JPEGs bound for a model decode through libjpeg-turbo (simplejpeg) when it accepts them, else Pillow:
the same pixels up to resampling, the same rotation, the same errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sightline import _turbo_jpeg, imaging
from sightline.config import ImageLimits
from sightline.errors import CorruptImageError
from sightline.imaging import PreprocessSpec, decode_for_model, load_image, preprocess

pytestmark = pytest.mark.skipif(not _turbo_jpeg.AVAILABLE, reason="simplejpeg is not installed")
LIMITS = ImageLimits()
SPEC = PreprocessSpec(224, 224)


def _jpeg(image: Image.Image, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, **options)
    return out.getvalue()


def _photo(width: int, height: int) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([255 * x / width, 255 * y / height, 128 + 100 * np.sin((x + y) / 25)], axis=-1)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def _pillow_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_turbo_jpeg, "AVAILABLE", False)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_turbo_and_pillow_give_the_same_model_input(orientation: int, monkeypatch: pytest.MonkeyPatch):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _jpeg(_photo(800, 600), exif=exif)
    turbo = decode_for_model(data, SPEC, LIMITS)
    with monkeypatch.context() as patched:
        _pillow_only(patched)
        pillow = decode_for_model(data, SPEC, LIMITS)
    full = preprocess(imaging.load_image(data, LIMITS), SPEC)  # no reduced scale at all
    assert np.abs(turbo - full).mean() < 0.01 and np.abs(pillow - full).mean() < 0.01
    assert np.abs(turbo - pillow).max() < 0.1  # both upright the same way: a turned image would differ by ~1


def test_cmyk_and_what_turbo_refuses_go_to_pillow_and_its_messages(monkeypatch: pytest.MonkeyPatch):
    cmyk = _jpeg(_photo(256, 256).convert("CMYK"))  # Adobe's inverted CMYK: Pillow's conversion is the reference
    scaled = np.asarray(load_image(cmyk, LIMITS, min_size=(64, 64)))
    _pillow_only(monkeypatch)
    assert np.array_equal(scaled, np.asarray(load_image(cmyk, LIMITS, min_size=(64, 64))))
    truncated = _jpeg(_photo(256, 256))[:-400]
    assert _turbo_jpeg.decode_scaled(truncated, (32, 32)) is None  # strict: a libjpeg warning is an error
    with pytest.raises(CorruptImageError, match=r"damaged JPEG.*truncated"):
        decode_for_model(truncated, SPEC, LIMITS)
