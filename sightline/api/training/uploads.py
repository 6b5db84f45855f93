"""Adding images (bytes, files, URLs, stored predictions), tagging them and their metadata."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from starlette.concurrency import run_in_threadpool

from sightline.api.bodies import IMAGE_BODY_OPENAPI, check_batch_size, images_from_body
from sightline.api.context import WS, Fetching, ProjectId, id_list
from sightline.api.errors import ApiError
from sightline.api.links import SignedLinks
from sightline.api.schemas import (
    ImageCreateSummary,
    ImageFileCreateBatch,
    ImageIdCreateBatch,
    ImageMetadataUpdateSummary,
    ImageTagCreateBatch,
    ImageTagCreateEntry,
    ImageTagCreateSummary,
    ImageUrlCreateBatch,
)
from sightline.api.training.params import ImageIds, TagIds
from sightline.codes import ErrorCode, ImageStatus
from sightline.errors import ImageError
from sightline.http.fetch import fetch_all
from sightline.service import images, predictions
from sightline.service.images import NewImage
from sightline.service.views import ImageAddResult

router = APIRouter()


# --- images: uploads ----------------------------------------------------------------------------


def _summary(
    response: Response, results: list[ImageAddResult], project_id: str, links: SignedLinks
) -> ImageCreateSummary:
    """200 when every image was added, 207 Multi-Status otherwise (the per-image statuses say why)."""
    summary = ImageCreateSummary.of(results, project_id, links)
    response.status_code = 200 if summary.is_batch_successful else 207
    return summary


@router.post(
    "/projects/{projectId}/images",
    tags=["Images"],
    responses={207: {"model": ImageCreateSummary}},
    openapi_extra=IMAGE_BODY_OPENAPI,
)
async def create_images_from_data(
    request: Request, response: Response, ws: WS, links: SignedLinks, project_id: ProjectId, tag_ids: TagIds = None
) -> ImageCreateSummary:
    """Upload images as raw bytes (one) or multipart/form-data (up to 64), each tagged with `tagIds`."""
    batch = await images_from_body(request)
    results = await run_in_threadpool(images.add_images, ws, project_id, batch, tags=id_list(tag_ids))
    return _summary(response, results, project_id, links)


@router.post("/projects/{projectId}/images/files", tags=["Images"], responses={207: {"model": ImageCreateSummary}})
def create_images_from_files(
    ws: WS, links: SignedLinks, response: Response, project_id: ProjectId, batch: ImageFileCreateBatch
) -> ImageCreateSummary:
    """Upload up to 64 images sent as base64 in JSON, with per-image and batch-wide tags."""
    check_batch_size(len(batch.images))
    new = [NewImage(e.contents, name=e.name, tags=e.tag_ids or (), metadata=batch.metadata or {}) for e in batch.images]
    return _summary(response, images.add_images(ws, project_id, new, tags=batch.tag_ids or ()), project_id, links)


@router.post("/projects/{projectId}/images/urls", tags=["Images"], responses={207: {"model": ImageCreateSummary}})
async def create_images_from_urls(
    ws: WS, links: SignedLinks, policy: Fetching, response: Response, project_id: ProjectId, batch: ImageUrlCreateBatch
) -> ImageCreateSummary:
    """Upload up to 64 images by URL; a URL that cannot be fetched gets status ErrorSource (or ErrorImageSize)."""
    check_batch_size(len(batch.images))
    fetched = await fetch_all([entry.url for entry in batch.images], policy)
    new = [
        NewImage(data, name=entry.url, tags=entry.tag_ids or (), metadata=batch.metadata or {})
        for entry, data in zip(batch.images, fetched, strict=True)
        if isinstance(data, bytes)
    ]
    added = iter(await run_in_threadpool(images.add_images, ws, project_id, new, tags=batch.tag_ids or ()))
    results = [
        next(added) if isinstance(data, bytes) else _fetch_failure(entry.url, data)
        for entry, data in zip(batch.images, fetched, strict=True)
    ]
    return _summary(response, results, project_id, links)


@router.post(
    "/projects/{projectId}/images/predictions", tags=["Images"], responses={207: {"model": ImageCreateSummary}}
)
def create_images_from_predictions(
    ws: WS, links: SignedLinks, response: Response, project_id: ProjectId, batch: ImageIdCreateBatch
) -> ImageCreateSummary:
    """Add up to 64 stored predictions' images (by prediction id) to the project, with per-image and batch tags.

    A prediction without a stored image (made with `store=false`, or deleted) gets status ErrorSource."""
    check_batch_size(len(batch.images))
    if any(entry.regions for entry in batch.images):
        raise ApiError(
            400,
            ErrorCode.BadRequestImageRegions,
            "regions are object detection's: Sightline does image classification only",
        )
    entries = [(entry.id, entry.tag_ids or ()) for entry in batch.images]
    results = predictions.add_images_from_predictions(
        ws, project_id, entries, tags=batch.tag_ids or (), metadata=batch.metadata
    )
    return _summary(response, results, project_id, links)


def _fetch_failure(url: str, error: ImageError) -> ImageAddResult:
    return ImageAddResult(
        url, ImageStatus.ErrorImageSize if error.reason == "too_large" else ImageStatus.ErrorSource, message=str(error)
    )


@router.post("/projects/{projectId}/images/tags", tags=["Images"])
def create_image_tags(ws: WS, project_id: ProjectId, batch: ImageTagCreateBatch) -> ImageTagCreateSummary:
    """Tag images. A pair over the tags-per-image limit is listed in `exceeded` (the rest go on); any other
    pair against the project's rules (or naming no such image or tag) fails the whole request."""
    pairs = [(entry.image_id, entry.tag_id) for entry in batch.tags]
    added, already, exceeded = images.tag_images_by_outcome(ws, project_id, pairs, list_exceeded=True)
    return ImageTagCreateSummary(
        created=[ImageTagCreateEntry(image_id=i, tag_id=t) for i, t in added],
        duplicated=[ImageTagCreateEntry(image_id=i, tag_id=t) for i, t in already],
        exceeded=[ImageTagCreateEntry(image_id=i, tag_id=t) for i, t in exceeded],
    )


@router.post(
    "/projects/{projectId}/images/metadata", tags=["Images"], responses={207: {"model": ImageMetadataUpdateSummary}}
)
def update_image_metadata(
    ws: WS,
    response: Response,
    project_id: ProjectId,
    metadata: Annotated[dict[str, str], Body()],
    image_ids: ImageIds = None,
) -> ImageMetadataUpdateSummary:
    """Add or replace key/value metadata on up to 64 images (keys up to 128 characters, values up to 256).

    207 when some image was not updated: its status says why (ErrorImageNotFound, ErrorLimitExceed).
    """
    summary = ImageMetadataUpdateSummary.of(images.update_metadata(ws, project_id, id_list(image_ids), metadata))
    response.status_code = 200 if summary.is_batch_successful else 207
    return summary


@router.delete("/projects/{projectId}/images/tags", status_code=204, tags=["Images"])
def delete_image_tags(ws: WS, project_id: ProjectId, image_ids: ImageIds = None, tag_ids: TagIds = None) -> None:
    images.untag_images(ws, project_id, [(i, t) for i in id_list(image_ids) for t in id_list(tag_ids)])
