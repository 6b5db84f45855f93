"""Publish: publish or unpublish an iteration under a name; the prediction URL, key and examples."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from sightline.codes import IterationStatus
from sightline.http.context import WS
from sightline.service import iterations, projects
from sightline.web.render import page, redirect

router = APIRouter()

#: The prediction API version the examples call (Custom Vision's current one).
PREDICTION_VERSION = "v3.0"


def prediction_url(base: str, project_id: str, publish_name: str) -> str:
    """Where a client sends an image to classify with the iteration published as `publish_name`."""
    return f"{base}/customvision/{PREDICTION_VERSION}/prediction/{project_id}/classify/iterations/{publish_name}/image"


def _masked(key: str) -> str:
    return "•" * 8 + key[-4:]


@router.get("/projects/{project_id}/publish", response_class=HTMLResponse)
def publish_page(request: Request, ws: WS, project_id: str) -> HTMLResponse:
    project = projects.get_project(ws, project_id)
    base = str(request.base_url).rstrip("/")
    completed = [
        i for i in reversed(iterations.list_iterations(ws, project.id)) if i.status == IterationStatus.COMPLETED
    ]
    key = request.app.state.key_ring.keys.prediction_key
    return page(
        request,
        "publish.html",
        project=project,
        tab="publish",
        iterations=completed,
        published=[(i, prediction_url(base, project.id, i.publish_name)) for i in completed if i.publish_name],
        base=base,
        prediction_key=key,
        masked_key=_masked(key),
    )


@router.post("/projects/{project_id}/iterations/{iteration_id}/publish")
def publish(ws: WS, project_id: str, iteration_id: str, name: Annotated[str, Form()]) -> RedirectResponse:
    view = iterations.publish_iteration(ws, project_id, iteration_id, name.strip())
    return redirect(f"/projects/{project_id}/publish", notice=f"{view.name} published as {view.publish_name!r}.")


@router.post("/projects/{project_id}/iterations/{iteration_id}/unpublish")
def unpublish(ws: WS, project_id: str, iteration_id: str) -> RedirectResponse:
    view = iterations.unpublish_iteration(ws, project_id, iteration_id)
    return redirect(f"/projects/{project_id}/publish", notice=f"{view.name} unpublished.")
