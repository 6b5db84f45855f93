"""Quick tests, stored predictions, and suggested tags and images."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request

from sightline.api.batching import Target
from sightline.api.bodies import IMAGE_BODY_OPENAPI, check_batch_size, one_image_from_body
from sightline.api.context import WS, Batcher, Fetching, ProjectId, id_list
from sightline.api.errors import ApiError
from sightline.api.links import SignedLinks
from sightline.api.prediction import classify
from sightline.api.prediction_query import query_predictions as run_prediction_query
from sightline.api.schemas import (
    ImagePrediction,
    ImageUrl,
    PredictionQueryResult,
    PredictionQueryToken,
    StoredSuggestedTagAndRegion,
    SuggestedTagAndRegion,
    SuggestedTagAndRegionQuery,
    SuggestedTagAndRegionQueryToken,
    TagFilter,
)
from sightline.errors import ImageError
from sightline.http.domains import domain_id
from sightline.http.fetch import fetch_image
from sightline.service import Workspace, predictions, projects, tags

router = APIRouter()


# --- quick test and stored predictions ----------------------------------------------------------

QuickTestIteration = Annotated[str | None, Query(alias="iterationId", description="Default: the latest iteration.")]


@router.post("/projects/{projectId}/quicktest/image", tags=["Predictions"], openapi_extra=IMAGE_BODY_OPENAPI)
async def quick_test_image(
    request: Request,
    batcher: Batcher,
    project_id: ProjectId,
    iteration_id: QuickTestIteration = None,
    store: bool = True,
) -> ImagePrediction:
    """Classify an image with any trained iteration (default: the latest), published or not."""
    data = await one_image_from_body(request)
    return await classify(batcher, Target(project_id, iteration_id=iteration_id, store=store), data)


@router.post("/projects/{projectId}/quicktest/url", tags=["Predictions"])
async def quick_test_image_url(
    batcher: Batcher,
    policy: Fetching,
    project_id: ProjectId,
    image_url: Annotated[ImageUrl, Body()],
    iteration_id: QuickTestIteration = None,
    store: bool = True,
) -> ImagePrediction:
    data = await fetch_image(image_url.url, policy)
    return await classify(batcher, Target(project_id, iteration_id=iteration_id, store=store), data)


@router.post("/projects/{projectId}/predictions/query", tags=["Predictions"])
def query_predictions(
    ws: WS, links: SignedLinks, project_id: ProjectId, token: PredictionQueryToken
) -> PredictionQueryResult:
    """Stored predictions, filtered (iteration, time, tag probability ranges) and ordered Newest, Oldest or
    Suspected (those a person should look at first); send the answer's token back for the next page."""
    return run_prediction_query(ws, links, project_id, token)


@router.post("/projects/{projectId}/tagsandregions/suggestions", tags=["Suggestions"])
def suggest_tags_and_regions(
    ws: WS,
    project_id: ProjectId,
    iteration_id: Annotated[str, Query(alias="iterationId")],
    image_ids: Annotated[str, Query(alias="imageIds", description="Comma-separated image ids, at most 64.")],
) -> list[SuggestedTagAndRegion]:
    """Suggested tags for up to 64 of the project's images (the Smart Labeler), from the trained iteration's
    calibrated predictions; classification only, so no regions. Nothing is stored."""
    ids = id_list(image_ids)
    check_batch_size(len(ids))
    suggested = []
    for image_id, result in predictions.suggest_tags(ws, project_id, iteration_id, ids):
        if isinstance(result, ImageError):
            raise ApiError(400, result.code, f"image {image_id}: {result}")
        suggested.append(SuggestedTagAndRegion.of(image_id, result))
    return suggested


def _suggested(ws: Workspace, project_id: str, iteration_id: str, tag_ids: list[str] | None, threshold: float):
    """Untagged images with the iteration's predictions, and the tag ids each is suggested for (>= threshold)."""
    wanted = set(tag_ids) if tag_ids else None
    rows = []
    for image, view in predictions.suggest_for_untagged(ws, project_id, iteration_id):
        hits = {p.tag_id for p in view.predictions if p.probability >= threshold and p.tag_id}
        rows.append((image, view, hits if wanted is None else hits & wanted))
    return rows


@router.post("/projects/{projectId}/images/suggested", tags=["Suggestions"])
def query_suggested_images(
    ws: WS,
    links: SignedLinks,
    project_id: ProjectId,
    iteration_id: Annotated[str, Query(alias="iterationId")],
    token: SuggestedTagAndRegionQueryToken,
) -> SuggestedTagAndRegionQuery:
    """Untagged images suggested for any of `tagIds` (all tags when none) at `threshold` or above, by the
    iteration's predictions, sorted by uncertainty (1 - top probability); `continuation` pages through them."""
    rows = [
        (i, v) for i, v, hits in _suggested(ws, project_id, iteration_id, token.tag_ids, token.threshold or 0.0) if hits
    ]
    descending = token.sort_by == "UncertaintyDescending"
    rows.sort(key=lambda row: 1 - max((p.probability for p in row[1].predictions), default=0.0), reverse=descending)
    continuation = token.continuation or ""
    start = int(continuation) if continuation.isdigit() else 0
    size = token.max_count or 50
    domain = domain_id(projects.get_project(ws, project_id).domain)
    page = [StoredSuggestedTagAndRegion.of_image(i, v, links, domain) for i, v in rows[start : start + size]]
    more = start + size < len(rows)
    next_token = token.model_copy(update={"continuation": str(start + size) if more else None})
    return SuggestedTagAndRegionQuery(token=next_token, results=page)


@router.post("/projects/{projectId}/images/suggested/count", tags=["Suggestions"])
def query_suggested_image_count(
    ws: WS,
    project_id: ProjectId,
    iteration_id: Annotated[str, Query(alias="iterationId")],
    tag_filter: TagFilter,
) -> dict[str, int]:
    """Per tag id, how many untagged images the iteration suggests it for at `threshold` or above."""
    counts = {t: 0 for t in tag_filter.tag_ids or [t.id for t in tags.list_tags(ws, project_id)]}
    for _image, _view, hits in _suggested(ws, project_id, iteration_id, list(counts), tag_filter.threshold or 0.0):
        for tag_id in hits:
            counts[tag_id] += 1
    return counts


@router.delete("/projects/{projectId}/predictions", status_code=204, tags=["Predictions"])
def delete_prediction(ws: WS, project_id: ProjectId, ids: str | None = None) -> None:
    predictions.delete_predictions(ws, project_id, id_list(ids))
