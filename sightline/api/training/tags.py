"""Tags of a project (as of an iteration, with `iterationId`)."""

from __future__ import annotations

from fastapi import APIRouter

from sightline.api.context import WS, ProjectId, TagId
from sightline.api.schemas import Tag, TagUpdate
from sightline.api.training.params import AsOfIteration
from sightline.service import snapshot, tags

router = APIRouter()


# --- tags ---------------------------------------------------------------------------------------


@router.get("/projects/{projectId}/tags", tags=["Tags"])
def get_tags(ws: WS, project_id: ProjectId, iteration_id: AsOfIteration = None) -> list[Tag]:
    """The project's tags with their image counts, or those an iteration trained on (`iterationId`)."""
    return [Tag.of(t) for t in snapshot.list_tags(ws, project_id, iteration_id)]


@router.post("/projects/{projectId}/tags", tags=["Tags"])
def create_tag(ws: WS, project_id: ProjectId, name: str, description: str = "", type: str = "Regular") -> Tag:
    return Tag.of(tags.create_tag(ws, project_id, name, description=description, type=type))


@router.get("/projects/{projectId}/tags/{tagId}", tags=["Tags"])
def get_tag(ws: WS, project_id: ProjectId, tag_id: TagId, iteration_id: AsOfIteration = None) -> Tag:
    return Tag.of(snapshot.get_tag(ws, project_id, iteration_id, tag_id))


@router.patch("/projects/{projectId}/tags/{tagId}", tags=["Tags"])
def update_tag(ws: WS, project_id: ProjectId, tag_id: TagId, body: TagUpdate) -> Tag:
    view = tags.update_tag(ws, project_id, tag_id, name=body.name, description=body.description, type=body.type)
    return Tag.of(view)


@router.delete("/projects/{projectId}/tags/{tagId}", status_code=204, tags=["Tags"])
def delete_tag(ws: WS, project_id: ProjectId, tag_id: TagId) -> None:
    tags.delete_tag(ws, project_id, tag_id)
