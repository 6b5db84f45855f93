"""Azure AI Vision Image Analysis 4.0, `tags` feature: `POST /computervision/imageanalysis:analyze`.

    POST /computervision/imageanalysis:analyze?api-version=2023-10-01&features=tags
    Ocp-Apim-Subscription-Key: <either Sightline key>
    body: the image bytes, or {"url": "https://..."} as JSON

answers `{modelVersion, metadata: {width, height}, tagsResult: {values: [{name, confidence}]}}` from
Sightline's pre-built tagger. Other features (caption, objects, read ...) are refused with a 400
that says so. Errors here have Image Analysis' shape, `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from sightline.api.bodies import one_image_from_body
from sightline.api.context import WS, Fetching
from sightline.api.errors import ApiError, describe_errors
from sightline.api.keys import require_subscription_key
from sightline.api.schemas import CamelModel, ImageUrl
from sightline.codes import ErrorCode
from sightline.http.fetch import FetchPolicy, fetch_image
from sightline.service.analysis import analyze_image

if TYPE_CHECKING:
    from sightline.service.engine import Tagger

PREFIX = "/computervision"
API_VERSIONS = ("2023-10-01", "2024-02-01")
SUPPORTED_FEATURES = ("tags",)
KNOWN_FEATURES = ("tags", "caption", "denseCaptions", "objects", "read", "smartCrops", "people")

router = APIRouter(prefix=PREFIX, dependencies=[Depends(require_subscription_key)], tags=["Image Analysis"])


class TaggerSlot:
    """The tagger, built on the first analyze request (embedding a vocabulary takes a while), then shared."""

    def __init__(self, make: Callable[[], Tagger]):
        self._make, self._lock = make, threading.Lock()
        self._tagger: Tagger | None = None

    def get(self) -> Tagger:
        with self._lock:
            if self._tagger is None:
                self._tagger = self._make()
            return self._tagger


class ImageMetadata(CamelModel):
    width: int
    height: int


class DetectedTag(CamelModel):
    name: str
    confidence: float


class TagsResult(CamelModel):
    values: list[DetectedTag]


class ImageAnalysisResult(CamelModel):
    model_version: str
    metadata: ImageMetadata
    tags_result: TagsResult


def _check_options(api_version: str, features: str, language: str) -> None:
    if api_version not in API_VERSIONS:
        raise ApiError(
            400, ErrorCode.InvalidApiVersion, f"api-version {api_version!r} is not served; use {API_VERSIONS}"
        )
    asked = [f.strip() for f in features.split(",") if f.strip()]
    unknown = [f for f in asked if f not in KNOWN_FEATURES]
    if unknown or not asked:
        raise ApiError(
            400, ErrorCode.InvalidParameter, f"unknown feature(s) {unknown or asked}: supported is only 'tags'"
        )
    unsupported = [f for f in asked if f not in SUPPORTED_FEATURES]
    if unsupported:
        raise ApiError(
            400, "NotSupportedFeature", f"Sightline supports only the 'tags' feature, not {', '.join(unsupported)}"
        )
    if language.lower() != "en":
        raise ApiError(400, "NotSupportedLanguage", f"tags are in English only ('en'), not {language!r}")


async def _image(request: Request, policy: FetchPolicy) -> bytes:
    if request.headers.get("content-type", "").lower().startswith("application/json"):
        try:
            url = ImageUrl.model_validate_json(await request.body()).url
        except ValidationError as error:
            raise ApiError(
                400,
                ErrorCode.InvalidRequest,
                f'the JSON body must be {{"url": "..."}}: {describe_errors(error.errors())}',
            ) from None
        return await fetch_image(url, policy)
    return await one_image_from_body(request)


_ANALYZE_BODY_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": ImageUrl.model_json_schema()},
        },
    }
}


@router.post("/imageanalysis:analyze", openapi_extra=_ANALYZE_BODY_OPENAPI)
async def analyze(
    request: Request,
    ws: WS,
    policy: Fetching,
    api_version: Annotated[str, Query(alias="api-version")],
    features: str,
    language: str = "en",
    model_version: Annotated[str | None, Query(alias="model-version")] = None,
    gender_neutral_caption: Annotated[bool | None, Query(alias="gender-neutral-caption")] = None,
    smartcrops_aspect_ratios: Annotated[str | None, Query(alias="smartcrops-aspect-ratios")] = None,
) -> ImageAnalysisResult:
    """Tags of an image (bytes, or a URL in JSON), from Sightline's pre-built tagger."""
    _check_options(api_version, features, language)
    data = await _image(request, policy)
    slot: TaggerSlot = request.app.state.tagger
    tagger = await run_in_threadpool(slot.get)
    analysis = await run_in_threadpool(analyze_image, tagger, data, ws.image_limits)
    return ImageAnalysisResult(
        model_version=tagger.backbone.name,
        metadata=ImageMetadata(width=analysis.width, height=analysis.height),
        tags_result=TagsResult(values=[DetectedTag(name=t.name, confidence=t.confidence) for t in analysis.tags]),
    )
