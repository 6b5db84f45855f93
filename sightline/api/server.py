"""Serving the app from a background thread, for tests, benchmarks and notebooks (`sightline serve` runs uvicorn)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from sightline.api.protocol import HeaderTimeoutProtocol


@contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0) -> Iterator[str]:
    """Serve `app` with uvicorn (lifespan included) until the block ends; yields the base URL.

    Port 0 picks a free port. The socket is bound before the server starts, so the URL is right at once.
    """
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on such sockets, and without it every
    # keep-alive response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", http=HeaderTimeoutProtocol))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sightline-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        bound_host, bound_port = sock.getsockname()[:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
