"""Requests per second per API key (`SIGHTLINE_RATE_LIMIT`; 0, the default, means no limit).

A token bucket per key: `rate` requests per second on average, bursts of up to `burst`. Over the
limit the answer is 429 with `Retry-After`, which the Azure SDKs' retry policies honour.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from sightline.api.errors import ApiError
from sightline.codes import ErrorCode
from sightline.config import env_float


class RateLimiter:
    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, 2 * rate)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> RateLimiter:
        return cls(env_float("SIGHTLINE_RATE_LIMIT"))

    def wait_seconds(self, key: str) -> float:
        """0 when `key` may go ahead now (and one token is spent), else how long until it may."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            tokens, when = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - when) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def peek_seconds(self, key: str) -> float:
        """How long until `key` could go ahead (0: now), spending nothing."""
        with self._lock:
            now = self._clock()
            tokens, when = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - when) * self.rate)
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def check(self, key: str) -> None:
        wait = self.wait_seconds(key)
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            raise ApiError(
                429,
                ErrorCode.TooManyRequests,
                f"over the limit of {self.rate:g} requests per second for this key; retry in {retry_after} s",
                headers={"Retry-After": retry_after},
            )


class FailureThrottle:
    """Wrong keys and failed sign-ins, counted per client address: after `burst` failures, that address
    gets 429 for every keyed request, before its key is even checked, until failures have drained at
    `per_minute`. Guessing keys becomes slow; a client with the right key is never counted."""

    def __init__(self, per_minute: float = 10.0, burst: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self._bucket = RateLimiter(per_minute / 60.0, burst, clock)

    @classmethod
    def from_env(cls) -> FailureThrottle:
        return cls(env_float("SIGHTLINE_AUTH_FAILURES_PER_MINUTE"))

    def check(self, address: str) -> None:
        """429 when `address` has used up its failures (spends nothing)."""
        if self._bucket.rate <= 0:
            return
        wait = self._bucket.peek_seconds(address)
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            raise ApiError(
                429,
                ErrorCode.TooManyRequests,
                f"too many wrong keys from this address; retry in {retry_after} s",
                headers={"Retry-After": retry_after},
            )

    def failed(self, address: str) -> None:
        if self._bucket.rate > 0:
            self._bucket.wait_seconds(address)
