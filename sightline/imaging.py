"""Decode, validate and preprocess images: the first layer of Sightline.

Every unusable input becomes an `ImageError` subclass whose message says what is wrong and, for a
path, which file. Everything that can be refused from the header (format, pixel count, size) is
refused before any pixel is decoded. Decoding is a real share of inference time, so JPEGs are
decoded at reduced scale when the target size is known (libjpeg-turbo's M/8 scaling through
`simplejpeg` when installed, else Pillow's `draft()`), and `decode_batches`
decodes in threads while the caller runs the model on the previous batch.

Over 400 lines, knowingly: validation and decoding share one guarded open (`_load`: limits, draft,
decompression-bomb checks), which must not exist in two copies.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import io
import itertools
import os
import re
import struct
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, Literal

import numpy as np
from PIL import ExifTags, Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from sightline import _turbo_jpeg
from sightline._image_formats import (  # noqa: F401  (IMAGE_SUFFIXES, is_image_name, media_type: re-exported)
    IMAGE_SUFFIXES,
    SUPPORTED_FORMATS,
    SUPPORTED_LIST,
    is_image_name,
    media_type,
    sniff_format,
    to_rgb,
)
from sightline.config import ImageLimits, default_of, env_int
from sightline.errors import (
    CorruptImageError,
    DecompressionBombError,
    EmptyImageError,
    ImageError,
    ImageNotFoundError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAnImageError,
    UnsupportedImageFormatError,
)

ImageSource = str | os.PathLike | bytes | Image.Image

# What Pillow raises when the bytes of a recognised format do not decode.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)
_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}
# reduce() by an integer factor first, then resample: much faster, visually the same at >= 3.
_REDUCING_GAP = 3.0
_ROTATED_ORIENTATIONS = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height
_EXIF_TRANSPOSE = {  # as ImageOps.exif_transpose turns each EXIF orientation upright
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_MB = 1024 * 1024
_THUMBNAIL_JPEG_QUALITY = 85


@dataclass(frozen=True)
class PreprocessSpec:
    """How a backbone wants its input tensor. Mirrors the ONNX sidecar's `input` block.

    `mean` and `std` apply to 0..1 pixel values, in the output channel order (after `color`).
    """

    height: int
    width: int
    resize: Literal["stretch", "center-crop"] = "stretch"  # center-crop: cover the target, crop the centre
    resample: Literal["bilinear", "bicubic"] = "bilinear"
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    color: Literal["RGB", "BGR"] = "RGB"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    #: center-crop only: the crop keeps this fraction of the short side (CLIP/DINOv2 style
    #: "resize to 256, crop 224" is 0.875); 1.0 crops the largest centred region.
    crop_fraction: float = 1.0


@dataclass(frozen=True)
class ImageInfo:
    """Size as displayed (EXIF orientation applied, full resolution) and format as Pillow names it
    ("unknown" for a PIL image made in memory)."""

    width: int
    height: int
    format: str


@dataclass
class DecodeFailure:
    index: int
    error: ImageError


@dataclass
class DecodedBatch:
    indices: list[int]  # positions in the input sequence, in order
    pixels: np.ndarray  # stacked (len(indices), ...) float32


def read_bytes(source: ImageSource, limits: ImageLimits | None = None) -> bytes:
    """The bytes of a path or bytes source; a file over `limits.max_bytes` is refused unread."""
    limits = limits or ImageLimits.from_env()
    if isinstance(source, Image.Image):
        raise TypeError("read_bytes takes a path or bytes, not a decoded PIL image")
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        _check_byte_size(len(data), limits, _subject(source))
        return data
    with _open_file(source) as file:
        data = file.read(limits.max_bytes + 1)
        if len(data) > limits.max_bytes:
            _check_byte_size(os.fstat(file.fileno()).st_size, limits, _subject(source))
    return data


def image_sha256(source: ImageSource) -> str:
    """sha256 hex of the file bytes; for a PIL image, of its mode, size and pixel bytes."""
    if isinstance(source, Image.Image):
        digest = hashlib.sha256(f"{source.mode}:{source.width}x{source.height}:".encode())
        digest.update(source.tobytes())
        return digest.hexdigest()
    if isinstance(source, bytes | bytearray | memoryview):
        return hashlib.sha256(source).hexdigest()
    with _open_file(source) as file:
        return hashlib.file_digest(file, "sha256").hexdigest()  # type: ignore[arg-type]  # a real file: has readinto


def load_image(
    source: ImageSource, limits: ImageLimits | None = None, *, min_size: tuple[int, int] | None = None
) -> Image.Image:
    """A validated RGB image, upright as its EXIF orientation says.

    `min_size` (width, height) lets a JPEG decode at 1/2, 1/4 or 1/8 scale (`Image.draft`), which is
    several times faster; each side stays >= min_size where the original was that large.
    """
    image, _ = _load(source, limits or ImageLimits.from_env(), min_size, turbo=min_size is not None)
    return to_rgb(image)


def inspect_image(source: ImageSource, limits: ImageLimits | None = None) -> ImageInfo:
    """Validate an image fully (same errors as `load_image`) and return its size and format."""
    # Decoding a JPEG at 1/8 scale still reads every byte of it, so damage is found as surely.
    _, info = _load(source, limits or ImageLimits.from_env(), min_size=(1, 1))
    return info


def preprocess(image: Image.Image, spec: PreprocessSpec) -> np.ndarray:
    """float32 (3, H, W) for NCHW or (H, W, 3) for NHWC, normalized as `spec` says."""
    target = (spec.width, spec.height)
    box = _center_crop_box(image.size, target, spec.crop_fraction) if spec.resize == "center-crop" else None
    resized = to_rgb(image).resize(target, _RESAMPLE[spec.resample], box=box, reducing_gap=_REDUCING_GAP)
    pixels = np.asarray(resized)  # (H, W, 3) uint8, no copy
    if spec.color == "BGR":
        pixels = pixels[..., ::-1]
    # (x / 255 - mean) / std, as one multiply and one subtract over the whole array.
    scale = 1.0 / (255.0 * np.asarray(spec.std, dtype=np.float32))
    offset = np.asarray(spec.mean, dtype=np.float32) / np.asarray(spec.std, dtype=np.float32)
    if spec.layout == "NCHW":
        pixels = pixels.transpose(2, 0, 1)
        scale, offset = scale[:, None, None], offset[:, None, None]
    out = np.empty(pixels.shape, dtype=np.float32)  # C-contiguous whatever the layout of `pixels`
    np.multiply(pixels, scale, out=out)
    out -= offset  # type: ignore[arg-type]  # numpy's stubs type float32 / float32 as complex here
    return out


def decode_for_model(source: ImageSource, spec: PreprocessSpec, limits: ImageLimits | None = None) -> np.ndarray:
    """Load (JPEGs at the smallest scale that still covers the target) and preprocess one image."""
    fraction = spec.crop_fraction if spec.resize == "center-crop" else 1.0
    min_size = (round(spec.width / fraction), round(spec.height / fraction))
    return preprocess(load_image(source, limits, min_size=min_size), spec)


def make_thumbnail(data: bytes, max_side: int = 256) -> bytes:
    """JPEG bytes of the image, upright, its longer side at most `max_side` pixels (never enlarged).

    It decodes as training does (EXIF rotation, transparency on white, limits), and a large JPEG at
    reduced scale (draft). Thumbnails show in the browser UI and as Custom Vision's thumbnailUri.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    image = load_image(data, min_size=(max_side, max_side))
    image.thumbnail((max_side, max_side))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=_THUMBNAIL_JPEG_QUALITY, optimize=True)
    return out.getvalue()


def decode_batches(
    sources: Sequence[ImageSource],
    spec: PreprocessSpec,
    *,
    batch_size: int = 32,
    limits: ImageLimits | None = None,
    workers: int | None = None,
    failures: list[DecodeFailure] | None = None,
    executor: Executor | None = None,
) -> Iterator[DecodedBatch]:
    """Batches of model-ready pixels, in input order, decoded in threads one batch ahead of the caller.

    Pillow releases the GIL while decoding, so threads scale; while the caller runs inference on
    one batch the next one is already decoding. An image that fails with an `ImageError` is
    appended to `failures` (if given) and left out of its batch; any other exception is a bug and
    propagates. A batch whose images all failed is not yielded. `executor`: a long-lived pool to
    decode in (starting threads per call costs milliseconds a request on a server); without one a
    pool of `workers` threads is made for the call.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    limits = limits or ImageLimits.from_env()
    numbered = enumerate(sources)  # an iterator, so a lazy iterable of sources works too
    pool = executor or ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1))
    pending: list[tuple[int, Future[np.ndarray]]] = []

    def submit_next_batch() -> list[tuple[int, Future[np.ndarray]]]:
        chunk = itertools.islice(numbered, batch_size)
        return [(index, pool.submit(decode_for_model, source, spec, limits)) for index, source in chunk]

    try:
        pending = submit_next_batch()
        while pending:
            current, pending = pending, submit_next_batch()
            batch = _collect(current, failures)
            if batch is not None:
                yield batch
    finally:
        if executor is None:
            pool.shutdown(wait=True, cancel_futures=True)
        else:  # a shared pool stays up: only withdraw this call's work that has not started
            for _, future in pending:
                future.cancel()


# --- private ------------------------------------------------------------------------------------


def _load(
    source: ImageSource, limits: ImageLimits, min_size: tuple[int, int] | None, *, turbo: bool = False
) -> tuple[Image.Image, ImageInfo]:
    """Open, check the header, decode (with draft when allowed) and rotate upright.

    `turbo`: decode a JPEG with libjpeg-turbo's finer scaling (`_turbo_jpeg`) when it accepts the data;
    validation (`inspect_image`) keeps Pillow's decoder and its messages."""
    subject = _subject(source)
    owned = not isinstance(source, Image.Image)  # never draft or rotate a caller's image in place
    image = source if isinstance(source, Image.Image) else _open(source, limits)
    width, height = image.size
    _check_dimensions(width, height, limits, subject)
    try:
        if owned and min_size is not None and isinstance(image, JpegImagePlugin.JpegImageFile):
            wanted = min_size[::-1] if _orientation(image) in _ROTATED_ORIENTATIONS else min_size
            wanted = (max(1, wanted[0]), max(1, wanted[1]))
            if turbo and (fast := _turbo_load(image, wanted)) is not None:
                upright = (height, width) if _orientation(image) in _ROTATED_ORIENTATIONS else (width, height)
                return fast, ImageInfo(width=upright[0], height=upright[1], format="JPEG")
            image.draft("RGB", wanted)  # decodes at 1/2 .. 1/8 scale
        with decode_budget().hold(image.size[0] * image.size[1] if owned else 0):
            image.load()
            orientation = _orientation(image)
            if orientation != 1:
                if owned:
                    ImageOps.exif_transpose(image, in_place=True)
                else:
                    image = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError as exc:
        raise _bomb(subject, exc, limits) from None
    except _DECODE_ERRORS as exc:
        kind = f"{image.format} image" if image.format else "image"
        raise CorruptImageError(f"{subject} is a damaged {kind}: {exc}") from None
    if orientation in _ROTATED_ORIENTATIONS:
        width, height = height, width
    return image, ImageInfo(width=width, height=height, format=image.format or "unknown")


def _turbo_load(image: JpegImagePlugin.JpegImageFile, wanted: tuple[int, int]) -> Image.Image | None:
    """The JPEG `image` (opened, not decoded) decoded by libjpeg-turbo at scale and turned upright, or None."""
    data = image.fp.getvalue() if isinstance(image.fp, io.BytesIO) else None
    if data is None or image.mode not in ("RGB", "L") or not _turbo_jpeg.AVAILABLE:  # CMYK: Pillow's inversion
        return None
    with decode_budget().hold(image.size[0] * image.size[1]):
        pixels = _turbo_jpeg.decode_scaled(data, wanted)
    if pixels is None:
        return None
    upright = Image.fromarray(pixels)
    method = _EXIF_TRANSPOSE.get(_orientation(image))
    return upright.transpose(method) if method is not None else upright


class PixelBudget:
    """How many pixels may be decoding at once in this process; a decode waits until its pixels fit.

    Decoding holds about 4 bytes per pixel (more for formats that decode to RGBA first), and a small
    file can declare a large image (a 2 kB lossless WEBP of 16383x3000 is 49 M pixels): without a bound,
    16 such uploads at once took a server to 12 GB. An image larger than the whole budget waits until it
    can decode alone.
    """

    def __init__(self, pixels: int):
        self.pixels = pixels
        self._used = 0
        self._peak = 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        pixels = min(pixels, self.pixels)
        with self._changed:
            self._changed.wait_for(lambda: self._used + pixels <= self.pixels)
            self._used += pixels
            self._peak = max(self._peak, self._used)
        try:
            yield
        finally:
            with self._changed:
                self._used -= pixels
                self._changed.notify_all()
            if pixels >= _TRIM_FROM_PIXELS:
                _give_back_memory()

    @property
    def peak(self) -> int:
        """The most pixels held at once so far (for tests and benchmarks)."""
        return self._peak


#: After a decode this large, free heap pages go back to the system (see `_give_back_memory`).
_TRIM_FROM_PIXELS = 4_000_000


def _give_back_memory() -> None:
    """glibc keeps freed memory in per-thread arenas: after large decodes in many threads, a server held
    2.3 GB it no longer used. `malloc_trim` returns it (a no-op where there is no glibc)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


#: Default decode budget: one maximum-size image (50 M pixels) plus room for ordinary photos beside it.
DEFAULT_DECODE_BUDGET_PIXELS: int = default_of("SIGHTLINE_DECODE_BUDGET_PIXELS")
_budget: PixelBudget | None = None
_budget_lock = threading.Lock()


def decode_budget() -> PixelBudget:
    """The process-wide budget (`SIGHTLINE_DECODE_BUDGET_PIXELS`), made on first use."""
    global _budget
    with _budget_lock:
        if _budget is None:
            _budget = PixelBudget(env_int("SIGHTLINE_DECODE_BUDGET_PIXELS"))
        return _budget


def _open(source: ImageSource, limits: ImageLimits) -> Image.Image:
    """Identify the format from the header without decoding pixels."""
    subject = _subject(source)
    data = read_bytes(source, limits)
    if not data:
        raise EmptyImageError(f"{subject} is empty (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise _bomb(subject, exc, limits) from None
    except _DECODE_ERRORS as exc:  # UnidentifiedImageError is an OSError too
        raise _unopenable(subject, data, exc) from None
    if image.format not in SUPPORTED_FORMATS:
        raise UnsupportedImageFormatError(
            f"{subject} is in {image.format} format, which is not supported (supported formats: {SUPPORTED_LIST})"
        )
    return image


def _bomb(subject: str, exc: Image.DecompressionBombError, limits: ImageLimits) -> DecompressionBombError:
    """Pillow refuses images over twice its own limit before ours is checked: say ours, with the configured figure."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f" is {int(found.group(1)):,} pixels," if found else ""
    return DecompressionBombError(
        f"{subject}{size} over the limit of {limits.max_pixels:,} pixels; refusing to decode it"
    )


def _unopenable(subject: str, data: bytes, exc: Exception) -> ImageError:
    """Not an image, or a damaged one? Pillow cannot tell ("cannot identify"); the file signature can."""
    looks_like = sniff_format(data)
    unidentified = isinstance(exc, UnidentifiedImageError)
    if looks_like is None and unidentified:
        return NotAnImageError(f"{subject} is not a recognisable image (supported formats: {SUPPORTED_LIST})")
    kind = f"{looks_like} image" if looks_like else "image"
    return CorruptImageError(f"{subject} has a damaged {kind} header" + ("" if unidentified else f": {exc}"))


def _check_byte_size(size: int, limits: ImageLimits, subject: str) -> None:
    if size > limits.max_bytes:
        raise ImageTooLargeError(
            f"{subject} is {size / _MB:.1f} MB ({size:,} bytes), over the {limits.max_bytes / _MB:.1f} MB limit"
        )


def _check_dimensions(width: int, height: int, limits: ImageLimits, subject: str) -> None:
    """Refuse from the header alone, so a decompression bomb never allocates its pixels."""
    if width * height > limits.max_pixels:
        raise DecompressionBombError(
            f"{subject} is {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{limits.max_pixels:,} pixels; refusing to decode it"
        )
    if min(width, height) < limits.min_side:
        raise ImageTooSmallError(
            f"{subject} is {width}x{height} pixels; each side must be at least {limits.min_side} pixels"
        )


def _orientation(image: Image.Image) -> int:
    return image.getexif().get(ExifTags.Base.Orientation, 1)


def _center_crop_box(
    size: tuple[int, int], target: tuple[int, int], fraction: float = 1.0
) -> tuple[float, float, float, float]:
    """The centred region of `size` with the target's aspect ratio: scaled to cover, then cropped."""
    (width, height), (target_width, target_height) = size, target
    scale = max(target_width / width, target_height / height) / fraction
    crop_width, crop_height = target_width / scale, target_height / scale
    left, top = (width - crop_width) / 2, (height - crop_height) / 2
    return (left, top, left + crop_width, top + crop_height)


def _collect(jobs: list[tuple[int, Future[np.ndarray]]], failures: list[DecodeFailure] | None) -> DecodedBatch | None:
    indices, arrays = [], []
    for index, job in jobs:
        try:
            arrays.append(job.result())
        except ImageError as error:
            if failures is not None:
                failures.append(DecodeFailure(index=index, error=error))
            continue
        indices.append(index)
    return DecodedBatch(indices=indices, pixels=np.stack(arrays)) if indices else None


def _open_file(source: str | os.PathLike) -> BinaryIO:
    if not isinstance(source, str | os.PathLike):  # an int would silently open a file descriptor
        raise TypeError(f"an image source is a path, bytes or a PIL image, not {type(source).__name__}")
    try:
        return open(source, "rb")  # the callers close it with `with`
    except FileNotFoundError:
        raise ImageNotFoundError(f"{_subject(source)} does not exist") from None
    except OSError as exc:
        raise ImageNotFoundError(f"{_subject(source)} cannot be read: {exc.strerror or exc}") from None


def _subject(source: ImageSource) -> str:
    """How a message names the input: the path when there is one."""
    if isinstance(source, str | os.PathLike):
        return f"'{os.fspath(source)}'"
    return "image" if isinstance(source, Image.Image) else "image data"
