"""A request id for every HTTP request: the client's `X-Request-Id` when it is sane, else a new one.

It is echoed in the response's `X-Request-Id` header and set in `sightline.logs.REQUEST_ID` while the
request is answered, so JSON log lines (`SIGHTLINE_LOG_JSON=1`) written meanwhile, in this task or in
the threads it hands work to, carry it: one id ties a client's report to the server's log lines.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sightline.logs import REQUEST_ID

HEADER = "x-request-id"
#: What a client's id may be: short, and nothing that could forge a log line or a header.
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == HEADER.encode()), "")
        request_id = given if _SANE.fullmatch(given) else uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
