"""Quick test: classify one image (a file, or a URL) with a trained iteration, and keep it for review if wanted.

A stored prediction is shown after a redirect (`?prediction=`), so reloading does not store it twice; one
not stored is shown in the answer to the post, with a preview made from the bytes sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from sightline.errors import ImageError
from sightline.http.context import WS, Fetching
from sightline.service import Workspace, iterations, predictions, projects
from sightline.service.views import PredictionView
from sightline.web.flags import explain
from sightline.web.image_input import one_image, preview_uri
from sightline.web.render import page, redirect

router = APIRouter()


def _form_page(
    request: Request,
    ws: Workspace,
    project_id: str,
    iteration: str | None,
    result: PredictionView | None = None,
    image_src: str | None = None,
) -> HTMLResponse:
    """The form (iteration picker: the latest completed by default) and, after a test, its result."""
    project = projects.get_project(ws, project_id)
    completed = iterations.completed_iterations(ws, project.id)
    multilabel = project.classification_type == "Multilabel"
    return page(
        request,
        "quicktest.html",
        project=project,
        tab="quicktest",
        completed=completed,
        chosen=iteration or (completed[-1].id if completed else None),
        result=result,
        flags=explain(result, multilabel=multilabel) if result else [],
        image_src=image_src,
    )


@router.get("/projects/{project_id}/quicktest", response_class=HTMLResponse)
def quick_test_page(
    request: Request, ws: WS, project_id: str, iteration: str | None = None, prediction: str | None = None
) -> HTMLResponse:
    if prediction is None:
        return _form_page(request, ws, project_id, iteration)
    shown = predictions.get_prediction(ws, project_id, prediction)
    return _form_page(
        request,
        ws,
        project_id,
        iteration or shown.iteration_id,
        result=shown,
        image_src=f"/projects/{shown.project_id}/predictions/{shown.id}/image?size=resized",
    )


@router.post("/projects/{project_id}/quicktest")
async def quick_test(
    request: Request,
    ws: WS,
    policy: Fetching,
    project_id: str,
    iteration: Annotated[str, Form()],
    file: Annotated[UploadFile | None, File()] = None,
    url: Annotated[str, Form()] = "",
    store: Annotated[bool, Form()] = False,
) -> Response:
    data = await one_image(file, url, policy)
    (result,) = await run_in_threadpool(
        predictions.predict, ws, project_id, [data], iteration_id=iteration, store=store
    )
    if isinstance(result, ImageError):
        raise result
    if store:
        return redirect(
            f"/projects/{result.project_id}/quicktest?iteration={result.iteration_id}&prediction={result.id}",
            notice="Stored for review: it waits in Predictions, where you can add it to the training set.",
        )
    return _form_page(request, ws, project_id, iteration, result=result, image_src=await preview_uri(data))
