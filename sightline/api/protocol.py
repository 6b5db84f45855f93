"""uvicorn's HTTP/1.1 protocol (h11) with a deadline for the request head: a slow-headers client is cut off.

uvicorn times out idle keep-alive connections, but once a byte of a request has arrived it waits for the
rest of the head forever, so a few clients trickling header bytes (slowloris) hold connections and memory
for as long as they like. Here the head must be complete within SIGHTLINE_HEADER_TIMEOUT_SECONDS of the
connection opening, or of its first byte on a kept-alive connection; otherwise the connection is closed.
Slow bodies are bounded separately (`bodies.py`, SIGHTLINE_BODY_TIMEOUT_SECONDS: a 408).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from sightline.config import env_float

log = logging.getLogger(__name__)

DEFAULT_HEADER_TIMEOUT_SECONDS = 30.0


def header_timeout_seconds() -> float:
    return env_float("SIGHTLINE_HEADER_TIMEOUT_SECONDS", DEFAULT_HEADER_TIMEOUT_SECONDS)


class HeaderTimeoutProtocol(H11Protocol):
    """H11Protocol that closes a connection whose request head is not complete in time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout_seconds()
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a complete head is closed too

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # uvicorn's keep-alive timer watches an idle connection from here
        self._watch_head()  # a next head already begun (pipelined) is held to the deadline

    def _watch_head(self) -> None:
        """Armed while part of a request head has arrived and the rest has not; off otherwise."""
        if not (self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]):
            self._disarm()
        elif self._head_deadline is None:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_deadline = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        log.info("closed the connection of %s: no complete request head within %gs", client, self.header_timeout)
        self.transport.close()
