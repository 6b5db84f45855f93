"""Tags: the list with counts and descriptions; rename, describe, merge, and delete after saying what happens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from sightline.http.context import WS
from sightline.service import projects, tags, training
from sightline.web.render import page, redirect

router = APIRouter()


def _tags_url(project_id: str) -> str:
    return f"/projects/{project_id}/tags"


@router.get("/projects/{project_id}/tags", response_class=HTMLResponse)
def tag_list(request: Request, ws: WS, project_id: str) -> HTMLResponse:
    project = projects.get_project(ws, project_id)
    return page(
        request,
        "tags.html",
        project=project,
        tab="tags",
        tags=tags.list_tags(ws, project.id),
        min_images=training.MIN_IMAGES_PER_TAG,
    )


@router.post("/projects/{project_id}/tags/{tag_id}")
def update_tag(
    ws: WS,
    project_id: str,
    tag_id: str,
    name: Annotated[str, Form()],
    description: Annotated[str, Form()] = "",
) -> RedirectResponse:
    before = tags.get_tag(ws, project_id, tag_id)
    view = tags.update_tag(ws, project_id, before.id, name=name, description=description)
    said = f"Tag {before.name!r} renamed to {view.name!r}." if view.name != before.name else f"Tag {view.name!r} saved."
    return redirect(_tags_url(project_id), notice=said)


@router.post("/projects/{project_id}/tags/{tag_id}/merge")
def merge_tag(ws: WS, project_id: str, tag_id: str, into: Annotated[str, Form()] = "") -> RedirectResponse:
    if not into:
        return redirect(_tags_url(project_id), problem="Choose the tag to merge into.")
    source = tags.get_tag(ws, project_id, tag_id)
    target = tags.merge_tags(ws, project_id, source.id, into)
    return redirect(
        _tags_url(project_id),
        notice=f"Merged {source.name!r} into {target.name!r}: it now has {target.image_count} images.",
    )


@router.get("/projects/{project_id}/tags/{tag_id}/delete", response_class=HTMLResponse)
def confirm_delete(request: Request, ws: WS, project_id: str, tag_id: str) -> HTMLResponse:
    project = projects.get_project(ws, project_id)
    tag, orphans = tags.delete_impact(ws, project.id, tag_id)
    others = [t for t in tags.list_tags(ws, project.id) if t.id != tag.id and t.type == tag.type]
    return page(request, "tag_delete.html", project=project, tab="tags", tag=tag, orphans=orphans, others=others)


@router.post("/projects/{project_id}/tags/{tag_id}/delete")
def delete_tag(ws: WS, project_id: str, tag_id: str) -> RedirectResponse:
    tag = tags.get_tag(ws, project_id, tag_id)
    tags.delete_tag(ws, project_id, tag.id)
    kept = f" Its {tag.image_count} images stay in the project." if tag.image_count else ""
    return redirect(_tags_url(project_id), notice=f"Tag {tag.name!r} deleted.{kept}")
