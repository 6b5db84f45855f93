"""Signed, expiring URLs for image bytes and model downloads, like Azure's SAS URIs.

Custom Vision hands out `originalImageUri`, `thumbnailUri`, `downloadUri` ... that a client (a browser,
`urllib`) fetches without a key header. Here such a URL carries its expiry time (`se`, Unix seconds) and
an HMAC-SHA256 signature (`sig`) of the resource it names and that time. The signing secret is derived
from the Training-Key, so rotating the keys (`sightline keys --rotate`) invalidates every URL given out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time
from typing import Annotated

from fastapi import Depends, Query, Request

from sightline.api.errors import ApiError
from sightline.codes import ErrorCode

#: How long a URL stays valid, and the step its expiry is rounded up to: the URLs of an image stay the same
#: for that step, so browsers can cache them.
LIFETIME_S = 8 * 3600
ROUND_S = 3600
_CONTEXT = b"sightline signed URLs v1"

Expires = Annotated[int | None, Query(alias="se", description="Expiry of a signed URL (Unix seconds).")]
Signature = Annotated[str | None, Query(alias="sig", description="Signature of a signed URL.")]


def image_resource(project_id: str, image_id: str, kind: str) -> str:
    return f"image/{project_id}/{image_id}/{kind}"


def prediction_resource(project_id: str, prediction_id: str, kind: str) -> str:
    return f"prediction/{project_id}/{prediction_id}/{kind}"


def export_resource(project_id: str, iteration_id: str, platform: str) -> str:
    return f"export/{project_id}/{iteration_id}/{platform}"


def sign(training_key: str, resource: str, expires: int) -> str:
    secret = hmac.new(training_key.encode(), _CONTEXT, hashlib.sha256).digest()
    mac = hmac.new(secret, f"{resource}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _training_key(request: Request) -> str:
    return request.app.state.key_ring.keys.training_key


def check_signature(request: Request, resource: str, expires: int | None, signature: str | None) -> int:
    """403 unless `signature` signs `resource` until `expires`, still in the future; returns seconds left."""
    if expires is None or not signature:
        raise ApiError(
            403, ErrorCode.Forbidden, "this URL needs its signature (se and sig): ask the API for a fresh one"
        )
    expected = sign(_training_key(request), resource, expires)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise ApiError(403, ErrorCode.Forbidden, "the signature does not match this URL (or the keys were rotated)")
    left = expires - int(time.time())
    if left <= 0:
        raise ApiError(403, ErrorCode.Forbidden, "this signed URL has expired: ask the API for a fresh one")
    return left


class Links:
    """Absolute signed URLs for the request being answered (its scheme, host and root path)."""

    def __init__(self, request: Request):
        self._request = request
        self._key = _training_key(request)
        self._expires = math.ceil((time.time() + LIFETIME_S) / ROUND_S) * ROUND_S

    def _signed(self, route: str, resource: str, **path: str) -> str:
        url = self._request.url_for(route, **path)
        return str(url.include_query_params(se=self._expires, sig=sign(self._key, resource, self._expires)))

    def image(self, project_id: str, image_id: str, kind: str) -> str:
        resource = image_resource(project_id, image_id, kind)
        return self._signed("download_image", resource, projectId=project_id, imageId=image_id, kind=kind)

    def prediction(self, project_id: str, prediction_id: str, kind: str) -> str:
        resource = prediction_resource(project_id, prediction_id, kind)
        return self._signed(
            "download_prediction_image", resource, projectId=project_id, predictionId=prediction_id, kind=kind
        )

    def export(self, project_id: str, iteration_id: str, platform: str) -> str:
        resource = export_resource(project_id, iteration_id, platform)
        return self._signed(
            "download_export", resource, projectId=project_id, iterationId=iteration_id, platform=platform
        )


SignedLinks = Annotated[Links, Depends(Links)]
