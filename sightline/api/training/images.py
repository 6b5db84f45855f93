"""Images of a project: listing, counting, fetching by id, deleting (as of an iteration, with `iterationId`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from sightline.api.context import WS, ProjectId, id_list
from sightline.api.links import SignedLinks
from sightline.api.schemas import Image
from sightline.api.training.params import (
    _TAGGED,
    AsOfIteration,
    ImageIds,
    ImageQuery,
    ImageQueryParameters,
    MetadataFilter,
    OrderBy,
    Skip,
    TaggingStatus,
    TagIds,
    Take,
)
from sightline.service import Workspace, images, snapshot

router = APIRouter()


# --- images: listing and counting ---------------------------------------------------------------


def _list(
    ws: Workspace,
    links: SignedLinks,
    project_id: str,
    query: ImageQuery,
    tagged: bool | None,
    metadata_filter: str | None = None,
) -> list[Image]:
    """The workspace's images, or (with `query.iteration_id`) those that iteration trained on."""
    rows = snapshot.list_images(
        ws,
        project_id,
        query.iteration_id,
        tagged=tagged,
        tag_ids=query.tag_ids or (),
        take=query.take,
        skip=query.skip,
        newest_first=query.newest_first,
        metadata_filter=metadata_filter,
    )
    return [Image.of(view, project_id, links) for view in rows]


def _count(
    ws: Workspace,
    project_id: str,
    iteration_id: str | None,
    tagged: bool | None,
    tag_ids: str | None,
    metadata_filter: str | None = None,
) -> int:
    ids = id_list(tag_ids)
    return snapshot.count_images(
        ws, project_id, iteration_id, tagged=tagged, tag_ids=ids, metadata_filter=metadata_filter
    )


@router.get("/projects/{projectId}/images", tags=["Images"])
def get_images(
    ws: WS,
    links: SignedLinks,
    project_id: ProjectId,
    query: ImageQueryParameters,
    tagging_status: TaggingStatus = None,
    metadata_filter: MetadataFilter = None,
) -> list[Image]:
    return _list(ws, links, project_id, query, _TAGGED[tagging_status], metadata_filter)


@router.get("/projects/{projectId}/images/count", tags=["Images"])
def get_image_count(
    ws: WS,
    project_id: ProjectId,
    iteration_id: AsOfIteration = None,
    tagging_status: TaggingStatus = None,
    metadata_filter: MetadataFilter = None,
    tag_ids: TagIds = None,
) -> int:
    return _count(ws, project_id, iteration_id, _TAGGED[tagging_status], tag_ids, metadata_filter)


@router.get("/projects/{projectId}/images/tagged", tags=["Images"])
def get_tagged_images(
    ws: WS,
    links: SignedLinks,
    project_id: ProjectId,
    query: ImageQueryParameters,
) -> list[Image]:
    return _list(ws, links, project_id, query, True)


@router.get("/projects/{projectId}/images/tagged/count", tags=["Images"])
def get_tagged_image_count(
    ws: WS, project_id: ProjectId, iteration_id: AsOfIteration = None, tag_ids: TagIds = None
) -> int:
    return _count(ws, project_id, iteration_id, True, tag_ids)


@router.get("/projects/{projectId}/images/untagged", tags=["Images"])
def get_untagged_images(
    ws: WS,
    links: SignedLinks,
    project_id: ProjectId,
    iteration_id: AsOfIteration = None,
    order_by: OrderBy = None,
    take: Take = 50,
    skip: Skip = 0,
) -> list[Image]:
    """Images without tags; as of an iteration there are none (training uses tagged images only)."""
    return _list(ws, links, project_id, ImageQuery(iteration_id, None, order_by != "Oldest", take, skip), False)


@router.get("/projects/{projectId}/images/untagged/count", tags=["Images"])
def get_untagged_image_count(ws: WS, project_id: ProjectId, iteration_id: AsOfIteration = None) -> int:
    return _count(ws, project_id, iteration_id, False, None)


@router.get("/projects/{projectId}/images/id", tags=["Images"])
def get_images_by_ids(
    ws: WS, links: SignedLinks, project_id: ProjectId, image_ids: ImageIds = None, iteration_id: AsOfIteration = None
) -> list[Image]:
    views = snapshot.get_images(ws, project_id, iteration_id, id_list(image_ids))
    return [Image.of(view, project_id, links) for view in views]


@router.delete("/projects/{projectId}/images", status_code=204, tags=["Images"])
def delete_images(
    ws: WS,
    project_id: ProjectId,
    image_ids: ImageIds = None,
    all_images: Annotated[bool, Query(alias="allImages")] = False,
    all_iterations: Annotated[bool, Query(alias="allIterations")] = False,
) -> None:
    """Delete images by id, or all of them (`allIterations` is accepted: iterations keep their own models)."""
    images.delete_images(ws, project_id, id_list(image_ids), all_images=all_images)
