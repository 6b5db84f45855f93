"""Custom Vision's Prediction API (v3.0 and v3.1): classify an image with a published iteration.

    POST /customvision/v3.0/prediction/{projectId}/classify/iterations/{publishedName}/image[/nostore]
    POST /customvision/v3.0/prediction/{projectId}/classify/iterations/{publishedName}/url[/nostore]

The model runs in a worker thread (it is synchronous), so the event loop keeps serving other requests;
requests that arrive together for the same model run as one batch (`sightline.api.batching`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from sightline.api.batching import PredictionBatcher, Target
from sightline.api.bodies import IMAGE_BODY_OPENAPI, one_image_from_body
from sightline.api.context import Batcher, Fetching, ProjectId, PublishedName
from sightline.api.keys import require_prediction_key
from sightline.api.schemas import ImagePrediction, ImageUrl
from sightline.http.fetch import fetch_image

router = APIRouter(dependencies=[Depends(require_prediction_key)], tags=["Prediction"])

#: Custom Vision's `application` label for stored predictions: accepted for compatibility, not recorded.
Application = Annotated[str | None, Query(alias="application")]


async def classify(batcher: PredictionBatcher, target: Target, data: bytes) -> ImagePrediction:
    """One image through the app's batcher (the model runs in a worker thread); a bad image raises its error."""
    return ImagePrediction.of(await batcher.predict(target, data))


@router.post("/{projectId}/classify/iterations/{publishedName}/image", openapi_extra=IMAGE_BODY_OPENAPI)
async def classify_image(
    request: Request,
    batcher: Batcher,
    project_id: ProjectId,
    published_name: PublishedName,
    application: Application = None,
) -> ImagePrediction:
    """Classify an image (raw bytes or multipart) and keep the prediction for review."""
    data = await one_image_from_body(request)
    return await classify(batcher, Target(project_id, publish_name=published_name), data)


@router.post("/{projectId}/classify/iterations/{publishedName}/image/nostore", openapi_extra=IMAGE_BODY_OPENAPI)
async def classify_image_with_no_store(
    request: Request,
    batcher: Batcher,
    project_id: ProjectId,
    published_name: PublishedName,
    application: Application = None,
) -> ImagePrediction:
    """Classify an image without keeping it."""
    data = await one_image_from_body(request)
    return await classify(batcher, Target(project_id, publish_name=published_name, store=False), data)


@router.post("/{projectId}/classify/iterations/{publishedName}/url")
async def classify_image_url(
    body: ImageUrl,
    batcher: Batcher,
    policy: Fetching,
    project_id: ProjectId,
    published_name: PublishedName,
    application: Application = None,
) -> ImagePrediction:
    """Classify the image at a public URL and keep the prediction for review."""
    data = await fetch_image(body.url, policy)
    return await classify(batcher, Target(project_id, publish_name=published_name), data)


@router.post("/{projectId}/classify/iterations/{publishedName}/url/nostore")
async def classify_image_url_with_no_store(
    body: ImageUrl,
    batcher: Batcher,
    policy: Fetching,
    project_id: ProjectId,
    published_name: PublishedName,
    application: Application = None,
) -> ImagePrediction:
    """Classify the image at a public URL without keeping it."""
    data = await fetch_image(body.url, policy)
    return await classify(batcher, Target(project_id, publish_name=published_name, store=False), data)
