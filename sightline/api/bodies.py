"""Image bytes out of a request body, as Custom Vision takes them: raw bytes, or multipart files.

Also the cap on how large any request body may be, so that nobody can make the server hold an
unbounded upload in memory (`SIGHTLINE_MAX_REQUEST_BYTES`).
"""

from __future__ import annotations

import asyncio

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sightline.api.errors import ApiError, error_response
from sightline.codes import ErrorCode
from sightline.config import default_of, env_float, env_int
from sightline.service.images import MAX_IMAGES_PER_BATCH, NewImage

#: The largest request body by default (64 images of up to 4 MB each fit, as base64 JSON too).
DEFAULT_MAX_REQUEST_BYTES: int = default_of("SIGHTLINE_MAX_REQUEST_BYTES")
#: Longest wait for the next part of a request body.
DEFAULT_BODY_TIMEOUT_SECONDS: float = default_of("SIGHTLINE_BODY_TIMEOUT_SECONDS")


#: How the routes that read the body themselves document it in the OpenAPI schema.
IMAGE_BODY_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"imageData": {"type": "string", "format": "binary"}}}
            },
        },
    }
}


def max_request_bytes() -> int:
    return env_int("SIGHTLINE_MAX_REQUEST_BYTES")


def _too_large(limit: int) -> ApiError:
    return ApiError(413, ErrorCode.BadRequestImageSizeBytes, f"the request body is over the limit of {limit} bytes")


def body_timeout_seconds() -> float:
    return env_float("SIGHTLINE_BODY_TIMEOUT_SECONDS")


class BodyLimitMiddleware:
    """Refuses bodies over `limit` bytes (by Content-Length up front, or while a chunked body streams in),
    and bodies that stall: no byte for `timeout` seconds is a 408, so a slow client cannot hold a request
    open for ever."""

    def __init__(self, app: ASGIApp, limit: int | None = None, timeout: float | None = None):
        self.app, self.limit = app, limit or max_request_bytes()
        self.timeout = timeout or body_timeout_seconds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            error = _too_large(self.limit)
            response = error_response(error.status_code, error.code, error.message, path=scope.get("path", ""))
            await response(scope, receive, send)
            return
        seen, complete = 0, False
        refusal: ApiError | None = None

        async def limited_receive() -> Message:
            nonlocal seen, complete, refusal
            if complete:  # after the body, receive() waits for a disconnect: no timeout there
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:
                refusal = ApiError(
                    408, ErrorCode.RequestTimeout, f"no part of the request body came for {self.timeout:g} s"
                )
                raise refusal from None
            seen += len(message.get("body", b""))
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            if seen > self.limit:
                refusal = _too_large(self.limit)
                raise refusal
            return message

        async def send_refusal(message: Message) -> None:
            """A route's own body parser (forms, JSON) turns any read failure into a 400; say 413 or 408 instead."""
            if refusal is None:
                await send(message)
            elif message["type"] == "http.response.start":
                response = error_response(
                    refusal.status_code,
                    refusal.code,
                    refusal.message,
                    {"Connection": "close"},
                    path=scope.get("path", ""),
                )
                await response(scope, receive, send)

        await self.app(scope, limited_receive, send_refusal)


def check_batch_size(count: int) -> None:
    if count == 0:
        raise ApiError(400, ErrorCode.BadRequestImageBatch, "the request holds no image")
    if count > MAX_IMAGES_PER_BATCH:
        raise ApiError(
            400, ErrorCode.BadRequestImageBatch, f"{count} images in one request; the limit is {MAX_IMAGES_PER_BATCH}"
        )


class _Part:
    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.data = bytearray()

    @property
    def filename(self) -> str | None:
        for name, value in self.headers:
            if name == b"content-disposition":
                filename = parse_options_header(value)[1].get(b"filename")
                return filename.decode("utf-8", "replace") if filename else None
        return None


class _PartCollector:
    """python-multipart callbacks that keep every part's headers and raw bytes."""

    def __init__(self, max_parts: int):
        self.max_parts = max_parts
        self.parts: list[_Part] = []
        self._name, self._value = b"", b""

    def on_part_begin(self) -> None:
        if len(self.parts) >= self.max_parts:
            raise ApiError(400, ErrorCode.BadRequestImageBatch, f"this route takes at most {self.max_parts} image(s)")
        self.parts.append(_Part())

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.parts[-1].data += data[start:end]

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self.parts[-1].headers.append((self._name.lower(), self._value))
        self._name, self._value = b"", b""

    def callbacks(self) -> dict:
        names = ("on_part_begin", "on_part_data", "on_header_field", "on_header_value", "on_header_end")
        return {name: getattr(self, name) for name in names}


async def _multipart(request: Request, content_type: str, max_parts: int) -> list[_Part]:
    """Every part's raw bytes. Starlette's form parser turns parts sent without a filename (as the Azure
    SDKs send image bytes) into text; images must stay bytes, so the parts are collected here."""
    boundary = parse_options_header(content_type)[1].get(b"boundary")
    if not boundary:
        raise ApiError(400, ErrorCode.BadRequestImageStream, "a multipart/form-data body needs a boundary")
    collector = _PartCollector(max_parts)
    parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]  # the callbacks' TypedDict, as a dict
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError as error:
        raise ApiError(400, ErrorCode.BadRequestImageStream, f"malformed multipart/form-data body: {error}") from None
    return collector.parts


async def images_from_body(request: Request, *, max_images: int = MAX_IMAGES_PER_BATCH) -> list[NewImage]:
    """multipart/form-data: every part is an image; anything else: the body is one image."""
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        parts = await _multipart(request, content_type, max_images)
        check_batch_size(len(parts))
        return [NewImage(bytes(part.data), name=part.filename) for part in parts]
    data = await request.body()
    if not data:
        raise ApiError(400, ErrorCode.BadRequestImageStream, "the request body is empty: send the image bytes")
    return [NewImage(data)]


async def one_image_from_body(request: Request) -> bytes:
    (image,) = await images_from_body(request, max_images=1)
    return image.data
