"""sightline.imaging: every image is generated here with Pillow and numpy; no files are committed."""

from __future__ import annotations

import hashlib
import io
import struct
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from sightline import _turbo_jpeg, imaging
from sightline.config import ImageLimits
from sightline.errors import (
    CorruptImageError,
    DecompressionBombError,
    EmptyImageError,
    ImageNotFoundError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAnImageError,
    UnsupportedImageFormatError,
)
from sightline.imaging import (
    DecodeFailure,
    ImageInfo,
    PreprocessSpec,
    decode_batches,
    decode_for_model,
    image_sha256,
    inspect_image,
    load_image,
    make_thumbnail,
    preprocess,
    read_bytes,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
LIMITS = ImageLimits()  # the built-in defaults, independent of the environment the tests run in


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """Smooth gradients plus mild noise: compresses like a photo, not like a flat test card."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([255 * x / width, 255 * y / height, 128 + 100 * np.sin((x + y) / 25)], axis=-1)
    rgb += np.random.default_rng(seed).normal(0, 6, rgb.shape)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def noise(width: int, height: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8))


def solid(color: tuple[int, int, int], size: tuple[int, int] = (32, 32)) -> Image.Image:
    return Image.new("RGB", size, color)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny valid PNG whose IHDR claims another size (CRC fixed), as a decompression bomb does."""
    data = encode(Image.new("L", (16, 16)), "PNG")
    chunk = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
    return data[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:]


# --- formats and modes --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "GIF", "WEBP", "TIFF"])
def test_every_supported_format_decodes_to_rgb_of_the_right_size(fmt):
    data = encode(photo(40, 30), fmt)
    image = load_image(data, LIMITS)
    assert (image.mode, image.size) == ("RGB", (40, 30))
    assert inspect_image(data, LIMITS) == ImageInfo(width=40, height=30, format=fmt)


def test_paths_decode_like_bytes(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(encode(photo(40, 30), "PNG"))
    assert np.array_equal(np.asarray(load_image(path, LIMITS)), np.asarray(load_image(str(path), LIMITS)))
    assert np.array_equal(np.asarray(load_image(path, LIMITS)), np.asarray(photo(40, 30)))


def test_exif_orientation_6_rotates_clockwise():
    stored = Image.new("RGB", (40, 20), (255, 0, 0))
    stored.paste((0, 0, 255), (20, 0, 40, 20))  # left half red, right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    data = encode(stored, "JPEG", exif=exif, quality=95)

    image = load_image(data, LIMITS)
    assert image.size == (20, 40)
    top, bottom = np.asarray(image)[5, 10], np.asarray(image)[35, 10]
    assert top[0] > 200 and top[2] < 60  # the stored left (red) is now on top
    assert bottom[2] > 200 and bottom[0] < 60
    assert inspect_image(data, LIMITS) == ImageInfo(width=20, height=40, format="JPEG")


def test_draft_respects_exif_rotation():
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(photo(400, 200), "JPEG", exif=exif)  # displayed as 200x400
    # Asked for 50x100 upright = 100x50 as stored, 1/4 scale fits exactly; without the swap it would be 1/2.
    assert load_image(data, LIMITS, min_size=(50, 100)).size == (50, 100)


def test_transparency_is_composited_on_white():
    rgba = Image.new("RGBA", (20, 20), (255, 0, 0, 0))  # fully transparent red
    rgba.paste((0, 0, 0, 255), (0, 0, 10, 20))  # opaque black left half
    pixels = np.asarray(load_image(encode(rgba, "PNG"), LIMITS))
    assert pixels[5, 15].tolist() == [255, 255, 255]
    assert pixels[5, 5].tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    ("image", "fmt", "expected"),
    [
        (Image.new("RGBA", (20, 20), (0, 0, 0, 128)), "PNG", 127),  # half-transparent black over white
        (Image.new("LA", (20, 20), (0, 0)), "PNG", 255),
        (Image.new("L", (20, 20), 77), "PNG", 77),
        (Image.new("P", (20, 20), 0), "GIF", 0),  # default palette entry 0 is black
        (Image.new("CMYK", (20, 20), (0, 0, 0, 0)), "TIFF", 255),  # no ink = white
        (Image.new("CMYK", (20, 20), (0, 0, 0, 255)), "JPEG", 0),
        (Image.new("1", (20, 20), 1), "PNG", 255),
    ],
    ids=["RGBA", "LA", "L", "P", "CMYK-tiff", "CMYK-jpeg", "1-bit"],
)
def test_modes_convert_to_rgb(image, fmt, expected):
    converted = load_image(encode(image, fmt), LIMITS)
    assert converted.mode == "RGB"
    assert np.abs(np.asarray(converted, dtype=int) - expected).max() <= 2


def test_palette_with_transparency_becomes_white():
    image = Image.new("P", (20, 20), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    data = encode(image, "PNG", transparency=1)
    assert np.asarray(load_image(data, LIMITS))[0, 0].tolist() == [255, 255, 255]


def test_sixteen_bit_grayscale_is_scaled_not_clipped():
    values = np.full((20, 20), 128 * 257, dtype=np.uint16)  # 16-bit mid grey
    values[:, 10:] = 65535
    data = encode(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    pixels = np.asarray(load_image(data, LIMITS))
    assert pixels[0, 0].tolist() == [128, 128, 128]
    assert pixels[0, 15].tolist() == [255, 255, 255]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animated_images_use_the_first_frame(fmt):
    frames = [solid((255, 0, 0)), solid((0, 255, 0)), solid((0, 0, 255))]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, lossless=True)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    assert np.asarray(load_image(data, LIMITS))[0, 0].tolist() == [255, 0, 0]


def test_a_pil_image_is_accepted_and_left_untouched():
    original = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    assert np.asarray(load_image(original, LIMITS))[0, 0].tolist() == [255, 255, 255]
    assert original.mode == "RGBA"
    assert inspect_image(original, LIMITS) == ImageInfo(width=20, height=20, format="unknown")


# --- errors -------------------------------------------------------------------------------------


def test_zero_bytes():
    with pytest.raises(EmptyImageError, match="empty") as caught:
        load_image(b"", LIMITS)
    assert caught.value.reason == "empty"


def test_not_an_image():
    with pytest.raises(NotAnImageError, match=r"not a recognisable image.*JPEG, PNG") as caught:
        load_image(b"name,price\nshirt,12.50\n" * 20, LIMITS)
    assert caught.value.reason == "not_an_image"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_rejected(fmt):
    data = encode(noise(64, 64), fmt)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    for cut in (len(data) // 2, len(data) - 200):
        with pytest.raises(CorruptImageError, match=f"damaged {fmt}.*truncated") as caught:
            load_image(data[:cut], LIMITS)
        assert caught.value.reason == "corrupt"
    with pytest.raises(CorruptImageError):
        inspect_image(data[: len(data) // 2], LIMITS)


@pytest.mark.parametrize(("fmt", "keep"), [("PNG", 33), ("PNG", 60), ("JPEG", 20), ("GIF", 13)])
def test_garbage_after_a_valid_header_is_corrupt(fmt, keep):
    data = encode(noise(64, 64), fmt)
    garbage = np.random.default_rng(2).integers(0, 256, len(data) - keep, dtype=np.uint8).tobytes()
    with pytest.raises(CorruptImageError, match=fmt):
        load_image(data[:keep] + garbage, LIMITS)


@pytest.mark.parametrize("fmt", ["ICO", "PCX", "TGA"])
def test_formats_pillow_reads_but_sightline_does_not_support(fmt):
    with pytest.raises(UnsupportedImageFormatError, match=f"{fmt} format.*JPEG, PNG, BMP, GIF, WEBP, TIFF"):
        load_image(encode(solid((1, 2, 3)), fmt), LIMITS)


def test_decompression_bomb_beyond_pillows_own_limit():
    data = png_declaring(30000, 30000)
    assert len(data) < 200
    with pytest.raises(DecompressionBombError) as caught:
        load_image(data, LIMITS)
    assert caught.value.reason == "too_many_pixels"
    # Sightline's words and configured limit, not Pillow's ("could be decompression bomb DOS attack")
    assert (
        str(caught.value)
        == "image data is 900,000,000 pixels, over the limit of 50,000,000 pixels; refusing to decode it"
    )
    with pytest.raises(DecompressionBombError, match="over the limit of 1,234 pixels"):
        inspect_image(data, ImageLimits(max_pixels=1234))


def test_decompression_bomb_is_refused_from_the_header_without_decoding(monkeypatch):
    def refuse_to_decode(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse_to_decode)
    data = png_declaring(9000, 9000)  # 81 M pixels: under Pillow's own limit, over Sightline's 50 M
    with pytest.raises(DecompressionBombError, match=r"9000x9000 = 81,000,000 pixels.*50,000,000"):
        load_image(data, LIMITS)
    with pytest.raises(DecompressionBombError):
        inspect_image(data, LIMITS)


def test_max_pixels_comes_from_the_limits():
    data = encode(photo(40, 30), "PNG")
    with pytest.raises(DecompressionBombError, match="1,200 pixels"):
        load_image(data, ImageLimits(max_pixels=1000))
    assert load_image(data, ImageLimits(max_pixels=1200)).size == (40, 30)


def test_limits_default_to_the_environment(monkeypatch):
    monkeypatch.setenv("SIGHTLINE_MIN_IMAGE_SIDE", "50")
    with pytest.raises(ImageTooSmallError, match="at least 50"):
        load_image(encode(photo(40, 60), "PNG"))


def test_too_many_bytes_gives_both_sizes_in_mb(tmp_path):
    data = encode(noise(200, 200), "PNG")
    limits = ImageLimits(max_bytes=50_000)
    message = rf"{len(data) / 2**20:.1f} MB \({len(data):,} bytes\), over the 0.0 MB limit"
    with pytest.raises(ImageTooLargeError, match=message) as caught:
        load_image(data, limits)
    assert caught.value.reason == "too_large"
    path = tmp_path / "big.png"
    path.write_bytes(data)
    with pytest.raises(ImageTooLargeError, match=r"big\.png"):
        read_bytes(path, limits)
    with pytest.raises(ImageTooLargeError, match=r"1\.5 MB \(1,572,864 bytes\), over the 1\.0 MB limit"):
        read_bytes(b"\0" * (3 * 2**19), ImageLimits(max_bytes=2**20))


def test_too_small():
    with pytest.raises(ImageTooSmallError, match=r"10x200 pixels; each side must be at least 16") as caught:
        load_image(encode(photo(10, 200), "PNG"), LIMITS)
    assert caught.value.reason == "too_small"


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nowhere.jpg"
    with pytest.raises(ImageNotFoundError, match=r"nowhere\.jpg.*does not exist"):
        load_image(missing, LIMITS)
    with pytest.raises(ImageNotFoundError, match=r"nowhere\.jpg"):
        image_sha256(missing)
    with pytest.raises(ImageNotFoundError, match="cannot be read"):
        read_bytes(tmp_path, LIMITS)  # a folder


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "broken.jpg"
    data = encode(noise(64, 64), "JPEG")
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptImageError, match=r"broken\.jpg"):
        load_image(path, LIMITS)


def test_a_source_that_is_not_an_image_source_is_a_bug_not_an_image_error():
    with pytest.raises(TypeError):
        load_image(3, LIMITS)  # an int must not be opened as a file descriptor
    with pytest.raises(TypeError):
        read_bytes(solid((0, 0, 0)), LIMITS)


# --- preprocess ---------------------------------------------------------------------------------


def test_preprocess_layouts_shape_and_dtype():
    image = photo(50, 40)
    nchw = preprocess(image, PreprocessSpec(height=24, width=32))
    nhwc = preprocess(image, PreprocessSpec(height=24, width=32, layout="NHWC"))
    assert (nchw.shape, nchw.dtype) == ((3, 24, 32), np.float32)
    assert (nhwc.shape, nhwc.dtype) == ((24, 32, 3), np.float32)
    assert np.array_equal(nchw, nhwc.transpose(2, 0, 1))
    assert nchw.flags.c_contiguous


def test_preprocess_normalises_exactly():
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)
    pixels = preprocess(solid((200, 100, 50)), PreprocessSpec(8, 8, mean=mean, std=std))
    expected = [(200 / 255 - 0.5) / 0.2, (100 / 255 - 0.4) / 0.25, (50 / 255 - 0.3) / 0.5]
    for channel in range(3):
        np.testing.assert_allclose(pixels[channel], expected[channel], atol=1e-6)
    plain = preprocess(solid((255, 0, 51)), PreprocessSpec(8, 8, layout="NHWC"))
    np.testing.assert_allclose(plain[0, 0], [1.0, 0.0, 0.2], atol=1e-6)


def test_bgr_swaps_channels():
    rgb = preprocess(solid((200, 100, 50)), PreprocessSpec(8, 8, layout="NHWC"))
    bgr = preprocess(solid((200, 100, 50)), PreprocessSpec(8, 8, layout="NHWC", color="BGR"))
    np.testing.assert_allclose(bgr[0, 0], [50 / 255, 100 / 255, 200 / 255], atol=1e-6)
    assert np.array_equal(bgr, rgb[..., ::-1])


def test_center_crop_keeps_the_centre_and_stretch_keeps_everything():
    image = solid((255, 0, 0), (300, 100))
    image.paste((0, 255, 0), (100, 0, 200, 100))  # green square in the middle, red sides
    spec = PreprocessSpec(10, 10, layout="NHWC")
    cropped = preprocess(image, PreprocessSpec(10, 10, layout="NHWC", resize="center-crop"))
    stretched = preprocess(image, spec)
    # Only the green centre is kept (the filter reaches a little past the crop at the edges, as it should).
    np.testing.assert_allclose(cropped[:, 1:-1, 1], 1.0, atol=1e-6)
    assert cropped[..., 0].max() < 0.2
    assert stretched[5, 0, 0] > 0.99 and stretched[5, 5, 1] > 0.99  # red edge, green centre
    wide = preprocess(image, PreprocessSpec(10, 30, layout="NHWC", resize="center-crop"))
    assert wide.shape == (10, 30, 3) and wide[5, 0, 0] > 0.99  # same aspect ratio: nothing cropped


def test_preprocess_accepts_any_mode():
    pixels = preprocess(Image.new("RGBA", (8, 8), (0, 0, 0, 0)), PreprocessSpec(4, 4))
    np.testing.assert_allclose(pixels, 1.0, atol=1e-6)


def test_draft_decode_is_close_to_the_full_decode():
    data = encode(photo(1024, 768), "JPEG", quality=90)
    drafted = load_image(data, LIMITS, min_size=(224, 224))
    # the smallest scale that still covers 224: libjpeg-turbo's 3/8 (simplejpeg), else Pillow's 1/2
    assert drafted.size == ((384, 288) if _turbo_jpeg.AVAILABLE else (512, 384))
    assert load_image(data, LIMITS, min_size=(2000, 100)).size == (1024, 768)  # too small to reduce
    spec = PreprocessSpec(224, 224)
    fast = decode_for_model(data, spec, LIMITS)
    full = preprocess(load_image(data, LIMITS), spec)
    assert np.abs(fast - full).mean() < 0.01
    assert np.abs(fast - full).max() < 0.2


# --- batches ------------------------------------------------------------------------------------


def colour_of(index: int) -> tuple[int, int, int]:
    return (index * 20, 255 - index * 20, 100)


def test_decode_batches_keeps_order_and_reports_failures():
    sources = [encode(solid(colour_of(i)), "PNG") for i in range(8)]
    sources[2] = b""
    sources[5] = b"not an image at all"
    sources[6] = b""
    sources[7] = b"\x89PNG\r\n\x1a\n broken"
    failures: list[DecodeFailure] = []
    spec = PreprocessSpec(4, 4, layout="NHWC")

    batches = list(decode_batches(sources, spec, batch_size=3, limits=LIMITS, workers=2, failures=failures))

    assert [b.indices for b in batches] == [[0, 1], [3, 4]]  # the batch [6, 7] failed entirely
    for batch in batches:
        assert batch.pixels.shape == (len(batch.indices), 4, 4, 3) and batch.pixels.dtype == np.float32
        for row, index in enumerate(batch.indices):
            np.testing.assert_allclose(batch.pixels[row, 0, 0] * 255, colour_of(index), atol=1e-3)
    assert [(f.index, f.error.reason) for f in failures] == [
        (2, "empty"),
        (5, "not_an_image"),
        (6, "empty"),
        (7, "corrupt"),
    ]


def test_decode_batches_without_failure_list_still_skips_bad_images():
    sources = [b"", encode(solid((1, 2, 3)), "PNG"), 3]  # 3 is not an image source: a bug
    batches = decode_batches(sources[:2], PreprocessSpec(4, 4), batch_size=8, limits=LIMITS)
    assert [b.indices for b in batches] == [[1]]
    with pytest.raises(TypeError):
        list(decode_batches(sources, PreprocessSpec(4, 4), batch_size=8, limits=LIMITS))


def test_decode_batches_accepts_a_lazy_iterable_and_empty_input():
    generator = (encode(solid(colour_of(i)), "PNG") for i in range(5))
    batches = list(decode_batches(generator, PreprocessSpec(4, 4), batch_size=2, limits=LIMITS))
    assert [b.indices for b in batches] == [[0, 1], [2, 3], [4]]
    assert list(decode_batches([], PreprocessSpec(4, 4), limits=LIMITS)) == []


def test_decode_batches_prefetches_the_next_batch(monkeypatch):
    started: list[int] = []
    lock = threading.Lock()
    real = imaging.decode_for_model

    def recording(source, spec, limits=None):
        with lock:
            started.append(source[0])
        return real(encode(solid((0, 0, 0)), "PNG"), spec, limits)

    monkeypatch.setattr(imaging, "decode_for_model", recording)
    sources = [bytes([i]) for i in range(9)]
    batches = decode_batches(sources, PreprocessSpec(4, 4), batch_size=3, limits=LIMITS, workers=2)

    assert next(batches).indices == [0, 1, 2]
    deadline = time.monotonic() + 5
    while len(started) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(started) == [0, 1, 2, 3, 4, 5]  # batch 2 decodes while the caller holds batch 1
    batches.close()


# --- hashing ------------------------------------------------------------------------------------


def test_image_sha256(tmp_path):
    data = encode(photo(20, 20), "PNG")
    path = tmp_path / "a.png"
    path.write_bytes(data)
    assert image_sha256(data) == image_sha256(path) == image_sha256(str(path)) == hashlib.sha256(data).hexdigest()

    first, again = solid((1, 2, 3)), solid((1, 2, 3))
    assert image_sha256(first) == image_sha256(again) == image_sha256(first)
    assert image_sha256(first) != image_sha256(solid((1, 2, 4)))
    assert image_sha256(first) != image_sha256(solid((1, 2, 3), (16, 64)))  # same bytes, other shape
    assert image_sha256(first.convert("RGBA")) != image_sha256(first)


# --- real photos --------------------------------------------------------------------------------


@pytest.mark.shared
def test_real_jpegs_from_the_shared_dataset():
    folder = SHARED / "data" / "clothing-dataset-small" / "data" / "test"
    if not folder.is_dir():
        pytest.skip(f"{folder} is not on this machine")
    paths = sorted(folder.glob("*/*.jpg"))[:4]
    assert paths, f"no JPEGs under {folder}"
    spec = PreprocessSpec(224, 224, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    failures: list[DecodeFailure] = []
    batches = list(decode_batches(paths, spec, batch_size=4, limits=LIMITS, failures=failures))
    assert failures == []
    assert batches[0].indices == [0, 1, 2, 3]
    assert batches[0].pixels.shape == (4, 3, 224, 224)
    assert np.isfinite(batches[0].pixels).all()
    assert -1.0 - 1e-5 <= batches[0].pixels.min() < batches[0].pixels.max() <= 1.0 + 1e-5
    for path in paths:
        info = inspect_image(path, LIMITS)
        assert info.format == "JPEG" and min(info.width, info.height) >= 16
        assert load_image(path, LIMITS).size == (info.width, info.height)


def test_center_crop_fraction_keeps_the_centre_only():
    """CLIP/DINOv2-style "resize to 256, crop 224": a fraction below 1 crops tighter than the short side."""
    from PIL import Image as PILImage

    from sightline.imaging import PreprocessSpec, preprocess

    image = PILImage.new("RGB", (200, 100), (0, 0, 255))
    image.paste((255, 0, 0), (60, 10, 140, 90))  # red 80x80 in the middle; the crop takes its 50x50 centre
    spec = PreprocessSpec(height=8, width=8, resize="center-crop", crop_fraction=0.5)
    pixels = preprocess(image, spec)
    assert pixels.shape == (3, 8, 8)
    assert pixels[0].min() > 0.95 and pixels[2].max() < 0.05  # only the red centre is left
    whole = preprocess(image, PreprocessSpec(height=8, width=8, resize="center-crop"))
    assert whole[2].max() > 0.5  # without the fraction, blue background remains at the edges


# --- thumbnails ---------------------------------------------------------------------------------


def test_thumbnails_are_jpegs_with_the_longer_side_capped_and_upright():
    sideways = Image.new("RGB", (800, 400), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # camera held sideways: displayed as 400 wide, 800 tall
    thumb = Image.open(io.BytesIO(make_thumbnail(encode(sideways, "JPEG", exif=exif), max_side=128)))
    assert thumb.format == "JPEG"
    assert thumb.size == (64, 128)


def test_thumbnails_of_transparent_and_small_images():
    logo = Image.new("RGBA", (40, 30), (0, 0, 255, 0))
    thumb = Image.open(io.BytesIO(make_thumbnail(encode(logo, "PNG"))))
    assert thumb.size == (40, 30)  # never enlarged
    assert thumb.mode == "RGB"
    assert thumb.getpixel((20, 15)) >= (250, 250, 250)  # transparent shows as white, as in a viewer


def test_the_decode_budget_bounds_the_pixels_decoding_at_once():
    import threading

    from sightline.imaging import PixelBudget

    budget = PixelBudget(100)
    inside, most, lock = [0], [0], threading.Lock()

    def decode(pixels: int) -> None:
        with budget.hold(pixels):
            with lock:
                inside[0] += pixels
                most[0] = max(most[0], inside[0])
            threading.Event().wait(0.01)
            with lock:
                inside[0] -= pixels

    threads = [threading.Thread(target=decode, args=(p,)) for p in (60, 60, 30, 500, 10, 60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # The 500-pixel image counts as the whole budget (it decodes alone); the rest never exceed 100 together.
    assert budget.peak <= 100
    assert most[0] <= 100 or most[0] == 500


def test_one_list_of_formats_and_one_rule_for_image_file_names():
    """Folder walks (CLI `tag`, `import`, batch sources) and served media types share one format list."""
    from sightline.imaging import IMAGE_SUFFIXES, SUPPORTED_FORMATS, is_image_name, media_type

    assert {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"} == IMAGE_SUFFIXES
    assert {"JPEG", "MPO", "PNG", "BMP", "GIF", "WEBP", "TIFF"} == SUPPORTED_FORMATS
    assert is_image_name("a/b/Photo.JPG") and is_image_name("s3://bucket/x/y.webp")
    assert not is_image_name("a/._photo.jpg") and not is_image_name("notes.txt") and not is_image_name(".jpg")
    assert media_type(b"\x89PNG\r\n\x1a\n" + b"\0" * 8) == "image/png"
    assert media_type(b"not an image") == "application/octet-stream"


def test_folder_import_skips_hidden_files_as_the_cli_does(tmp_path):
    """`sightline import` used to pick up `._photo.jpg` (macOS metadata) and then fail on it."""
    from sightline.service.importing import folder_items

    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "a.jpg").write_bytes(b"x")
    (tmp_path / "cat" / "._a.jpg").write_bytes(b"x")
    (tmp_path / "cat" / "notes.txt").write_bytes(b"x")
    assert [item.path.name for item in folder_items(tmp_path)] == ["a.jpg"]
