"""Every failure as Custom Vision's error JSON, `{"code": ..., "message": ...}`, with the right HTTP status.

The service raises `SightlineError`s that already carry Custom Vision's code; here they only get a
status. Problems that exist only over HTTP (no key, an unreadable body) are `ApiError`s. Anything else
is a bug: logged with its traceback, answered 500 `ErrorUnknown` without details.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from sightline.codes import ErrorCode
from sightline.errors import (
    ConflictError,
    ImageTooLargeError,
    NotFoundError,
    SightlineError,
    StorageFullError,
    StoreError,
)

log = logging.getLogger(__name__)

#: The most specific class wins (checked in order).
_STATUS_BY_ERROR: list[tuple[type[SightlineError], int]] = [
    (NotFoundError, 404),
    (ConflictError, 409),
    (ImageTooLargeError, 413),
    (StorageFullError, 507),
    (StoreError, 503),
]

#: Custom Vision's codes for the statuses that Starlette itself raises (unknown route, wrong method ...).
_CODE_BY_STATUS = {
    400: ErrorCode.BadRequest,
    401: ErrorCode.Unauthorized,
    403: ErrorCode.Forbidden,
    404: ErrorCode.NotFound,
    405: ErrorCode.BadRequestNotSupported,
    408: ErrorCode.RequestTimeout,
    413: ErrorCode.BadRequestImageSizeBytes,
    415: ErrorCode.UnsupportedMediaType,
    429: ErrorCode.TooManyRequests,
}


class ApiError(StarletteHTTPException):
    """A failure of the HTTP exchange itself: a missing key, a body that is not what the route takes.

    An HTTPException, so that FastAPI passes it through untouched even while it is parsing a body.
    """

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(status_code=status, detail=message, headers=headers)
        self.code, self.message = code, message


def status_for(error: SightlineError) -> int:
    """Custom Vision answers its `BadRequest...` conflicts (training in progress, published iteration) with 400."""
    if isinstance(error, ConflictError) and error.code.startswith(ErrorCode.BadRequest):
        return 400
    return next((status for kind, status in _STATUS_BY_ERROR if isinstance(error, kind)), 400)


#: Routes of Azure AI Vision (Image Analysis), whose errors are shaped `{"error": {"code", "message"}}`.
IMAGE_ANALYSIS_PREFIX = "/computervision/"


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, *, path: str = ""
) -> JSONResponse:
    """Custom Vision's error JSON; Image Analysis' on its routes (Custom Vision's code kept as `innererror`)."""
    body: dict[str, Any]
    if path.startswith(IMAGE_ANALYSIS_PREFIX):
        outer = ErrorCode.InvalidRequest if status in (400, 413, 415) else str(status)
        body = {"error": {"code": outer, "message": message, "innererror": {"code": code, "message": message}}}
    else:
        body = {"code": code, "message": message}
    return JSONResponse(body, status_code=status, headers=headers)


def _describe_validation(error: RequestValidationError) -> str:
    """`query.take: Input should be a valid integer; body.images: Field required`, for a person to read."""
    return describe_errors(error.errors())


def describe_errors(errors) -> str:
    """Pydantic's error list as one line naming each field, without its dump of the input."""
    parts = []
    for item in errors:
        where = ".".join(str(p) for p in item.get("loc", ()))
        parts.append(f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg")))
    return "; ".join(parts) or "invalid request"


#: What a browser gets instead of the error JSON: (request, status, code, message) -> a page.
HtmlErrorPage = Callable[[Request, int, str, str], Response]

#: Paths that always answer errors as JSON; elsewhere a browser asking for HTML gets the web UI's error page.
_API_PREFIXES = ("/customvision/", IMAGE_ANALYSIS_PREFIX, "/openapi.json", "/docs", "/redoc")


def _wants_page(request: Request) -> bool:
    return (
        getattr(request.app.state, "html_error_page", None) is not None
        and not request.url.path.startswith(_API_PREFIXES)
        and "text/html" in request.headers.get("accept", "")
    )


def _respond(
    request: Request, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    if _wants_page(request):
        return request.app.state.html_error_page(request, status, code, message)
    return error_response(status, code, message, headers, path=request.url.path)


async def _on_sightline_error(request: Request, error: SightlineError) -> Response:
    return _respond(request, status_for(error), error.code, str(error))


async def _on_validation_error(request: Request, error: RequestValidationError) -> Response:
    return _respond(request, 400, ErrorCode.BadRequest, _describe_validation(error))


async def _on_http_error(request: Request, error: StarletteHTTPException) -> Response:
    code = getattr(error, "code", None) or _CODE_BY_STATUS.get(
        error.status_code, ErrorCode.BadRequest if error.status_code < 500 else ErrorCode.ErrorUnknown
    )
    return _respond(request, error.status_code, code, str(error.detail), error.headers)


async def _on_unexpected(request: Request, error: Exception) -> Response:
    # Starlette re-raises it after this answer, so the server logs the traceback once. The server then
    # drops the connection: say so, or a keep-alive client sends its next request into a closed socket.
    log.error("unexpected %s on %s %s", type(error).__name__, request.method, request.url.path)
    return _respond(request, 500, ErrorCode.ErrorUnknown, "internal error: see the server log", {"Connection": "close"})


async def _on_disconnect(request: Request, _error: ClientDisconnect) -> Response:
    # The client went away mid-body: nothing to answer and nothing wrong here. One line, no traceback.
    client = request.client.host if request.client else "a client"
    log.info("%s disconnected during %s %s", client, request.method, request.url.path)
    return Response(status_code=400)


def install_error_handlers(app: FastAPI, html_error_page: HtmlErrorPage | None = None) -> None:
    """Errors answer in Azure's JSON shape; with `html_error_page`, a browser asking for HTML outside the
    API's paths gets that page instead (the app factory passes the web UI's)."""
    app.state.html_error_page = html_error_page
    # Starlette types every handler as taking Exception; each of these is registered for its own subclass.
    app.add_exception_handler(SightlineError, _on_sightline_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(ClientDisconnect, _on_disconnect)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)
