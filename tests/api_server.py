"""A Sightline server on a free 127.0.0.1 port, in a thread, for the API tests (one per test module).

Also a plain http.server that serves given bytes, standing in for "an image somewhere on the web".
"""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

from fastapi import FastAPI

from sightline.api import load_keys
from sightline.api.server import serve_in_thread
from sightline.app import create_app
from sightline.backbones import create_backbone
from sightline.service import Workspace
from sightline.store import BlobStore, open_store

T = TypeVar("T")


def run_async(coroutine: Coroutine[object, object, T]) -> T:
    """`asyncio.run` in a thread of its own: a session's sync Playwright keeps an event loop running in
    the main thread, where `asyncio.run` refuses to start (whichever test module ran first)."""
    result: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:  # handed to the caller's thread
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    return result[0]


@dataclass(frozen=True)
class RunningServer:
    url: str
    ws: Workspace
    training_key: str
    prediction_key: str
    app: FastAPI

    def training_url(self, version: str = "v3.3") -> str:
        return f"{self.url}/customvision/{version}/training"

    def prediction_url(self, version: str = "v3.0") -> str:
        return f"{self.url}/customvision/{version}/prediction"


@contextmanager
def sightline_server(folder: Path, database_url: str | None = None, **app_options) -> Iterator[RunningServer]:
    """A Sightline server over a fresh workspace in `folder` (SQLite unless `database_url`), with the `tiny` domain."""
    url = database_url or f"sqlite:///{folder / 'sightline.db'}"
    ws = Workspace(open_store(url), BlobStore(str(folder / "blobs")))
    app_options.setdefault("backbones", ["tiny"])
    for name in app_options["backbones"]:  # built once per session here, so that no page waits on it
        if name.startswith("tiny"):
            create_backbone(name)
    # Every test client is 127.0.0.1: tests of refusals would share one failure budget. Tested on its own.
    app_options.setdefault("auth_failures_per_minute", 0)
    try:
        app = create_app(ws, **app_options)
        with serve_in_thread(app) as url:
            keys = load_keys(ws)
            yield RunningServer(url, ws, keys.training_key, keys.prediction_key, app)
    finally:
        ws.close()


class _StaticFiles(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.files.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@contextmanager
def static_http_server(files: dict[str, tuple[int, dict[str, str], bytes]]) -> Iterator[str]:
    """Serve {path: (status, headers, body)} on 127.0.0.1; yields the base URL."""
    handler = type("Files", (_StaticFiles,), {"files": files})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
