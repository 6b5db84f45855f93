"""API keys: a Training-Key (everything) and a Prediction-Key (prediction only), as in Custom Vision.

Both are generated on first start and kept in the database, so every server sharing it accepts the
same keys and `sightline keys --rotate` reaches them all (servers re-read the keys every few seconds).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from sightline.api.errors import ApiError
from sightline.codes import ErrorCode
from sightline.service import Workspace
from sightline.service.settings import get_or_create_setting, set_setting

TRAINING_KEY_SETTING = "api.training_key"
PREDICTION_KEY_SETTING = "api.prediction_key"
#: The headers Custom Vision clients send (HTTP header names are case-insensitive).
TRAINING_HEADER = "Training-Key"
PREDICTION_HEADER = "Prediction-Key"
#: Image Analysis clients send this one; either key is accepted there.
SUBSCRIPTION_HEADER = "Ocp-Apim-Subscription-Key"


def _new_key() -> str:
    return secrets.token_hex(16)  # 32 hex characters, the length of an Azure key


@dataclass(frozen=True)
class ApiKeys:
    training_key: str
    prediction_key: str

    def to_dict(self) -> dict[str, str]:
        return {"trainingKey": self.training_key, "predictionKey": self.prediction_key}


def load_keys(ws: Workspace) -> ApiKeys:
    """The installation's keys, generated and stored on first use."""
    return ApiKeys(
        training_key=get_or_create_setting(ws, TRAINING_KEY_SETTING, _new_key),
        prediction_key=get_or_create_setting(ws, PREDICTION_KEY_SETTING, _new_key),
    )


def rotate_keys(ws: Workspace) -> ApiKeys:
    """Replace both keys; the old ones stop working within `KeyRing.refresh_seconds` on running servers."""
    keys = ApiKeys(training_key=_new_key(), prediction_key=_new_key())
    set_setting(ws, TRAINING_KEY_SETTING, keys.training_key)
    set_setting(ws, PREDICTION_KEY_SETTING, keys.prediction_key)
    return keys


_KEY_HEADERS = {TRAINING_HEADER.lower(), PREDICTION_HEADER.lower(), SUBSCRIPTION_HEADER.lower()}


def _matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class KeyRing:
    """The current keys, re-read from the database at most every `refresh_seconds`."""

    def __init__(self, ws: Workspace, refresh_seconds: float = 5.0):
        self._ws, self._refresh_seconds = ws, refresh_seconds
        self._lock = threading.Lock()
        self._keys = load_keys(ws)
        self._loaded_at = time.monotonic()

    @property
    def keys(self) -> ApiKeys:
        with self._lock:
            if self._stale():
                self._keys, self._loaded_at = load_keys(self._ws), time.monotonic()
            return self._keys

    async def refresh_if_stale(self) -> None:
        """Re-read stale keys in a worker thread: checking keys in the event loop never waits on the database."""
        if self._stale():
            await run_in_threadpool(lambda: self.keys)

    def _stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self._refresh_seconds

    def check_training(self, request: Request) -> str:
        """Training routes: only the Training-Key (a Prediction-Key is refused, as in Custom Vision)."""
        given = request.headers.get(TRAINING_HEADER)
        if not _matches(given, self.keys.training_key):
            raise _unauthorized(TRAINING_HEADER, given, prediction_key_given=request.headers.get(PREDICTION_HEADER))
        return "training"

    def check_prediction(self, request: Request) -> str:
        """Prediction routes: the Prediction-Key, or the Training-Key (which can do everything)."""
        return self._either(request.headers.get(PREDICTION_HEADER) or request.headers.get(TRAINING_HEADER))

    def check_subscription(self, request: Request) -> str:
        """Image Analysis routes: either key, in Ocp-Apim-Subscription-Key."""
        return self._either(request.headers.get(SUBSCRIPTION_HEADER), SUBSCRIPTION_HEADER)

    def _either(self, given: str | None, header: str = PREDICTION_HEADER) -> str:
        """Which key `given` is ("prediction" or "training"); 401 when neither."""
        keys = self.keys
        if _matches(given, keys.prediction_key):
            return "prediction"
        if _matches(given, keys.training_key):
            return "training"
        raise _unauthorized(header, given)


def _unauthorized(header: str, given: str | None, *, prediction_key_given: str | None = None) -> ApiError:
    if given is None and prediction_key_given is not None:
        message = f"this route needs the training key in the {header} header; a prediction key cannot train"
    elif given is None:
        message = f"missing the {header} header: run `sightline keys` on the server to see the keys"
    else:
        message = f"the {header} header does not hold a valid key for this route"
    return ApiError(401, ErrorCode.Unauthorized, message)


async def require_training_key(request: Request) -> None:
    ring = await _fresh_key_ring(request)
    _admit(request, _checked(request, ring.check_training))


async def require_prediction_key(request: Request) -> None:
    ring = await _fresh_key_ring(request)
    _admit(request, _checked(request, ring.check_prediction))


async def require_subscription_key(request: Request) -> None:
    ring = await _fresh_key_ring(request)
    _admit(request, _checked(request, ring.check_subscription))


def _checked(request: Request, check) -> str:
    """The key check, behind the failure throttle of the client's address (wrong keys count against it)."""
    throttle = getattr(request.app.state, "auth_failures", None)
    address = request.client.host if request.client else "unknown"
    if throttle is not None:
        throttle.check(address)
    try:
        return check(request)
    except ApiError:
        if throttle is not None and _KEY_HEADERS.intersection(request.headers.keys()):
            throttle.failed(address)  # a wrong key, not a missing one (a client not configured yet)
        raise


async def _fresh_key_ring(request: Request) -> KeyRing:
    """The app's keys, checked in the event loop (async: no worker-thread hop per request)."""
    ring: KeyRing = request.app.state.key_ring
    await ring.refresh_if_stale()
    return ring


def _admit(request: Request, key_kind: str) -> None:
    """A valid key: now its rate limit (per key, whatever header carried it)."""
    request.app.state.rate_limiter.check(key_kind)
