"""Azure's paths as clients really write them: `/customvision/v3.0/Prediction/...`, `//customvision/...`.

Azure's routing ignores the case of the fixed part of its URLs, and the portal, Microsoft's curl
examples and the SDKs' samples capitalise it (`Prediction`, `Training`); an endpoint configured with a
trailing slash doubles the first one. One ASGI middleware rewrites such paths to the routes' spelling
before routing, so each route is declared once. Only the service prefix is touched: ids, publish names
and the rest of the path keep their case.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

#: `/customvision/<version>/<training|prediction>` and `/computervision/<operation>`, any case.
_PREFIX = re.compile(
    r"^/+(?P<prefix>customvision/[^/]+/(?:training|prediction)|computervision)(?=/|$)",
    re.IGNORECASE,
)


def normalize_path(path: str) -> str:
    """The path with leading slashes collapsed and the service prefix in lower case; others unchanged."""
    match = _PREFIX.match(path)
    if match is None:
        return path
    return "/" + match["prefix"].lower() + path[match.end() :]


class AzurePathMiddleware:
    """Rewrites `scope["path"]` (and `raw_path`) to the routes' spelling; see `normalize_path`."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope.get("path", "")
            normalized = normalize_path(path)
            if normalized != path:
                raw = scope.get("raw_path")
                raw_path = normalize_path(raw.decode("latin-1")).encode("latin-1") if raw else normalized.encode()
                scope = dict(scope, path=normalized, raw_path=raw_path)
        await self.app(scope, receive, send)
