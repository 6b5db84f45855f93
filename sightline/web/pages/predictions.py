"""Predictions: the review queue of stored predictions, uncertain and unknown ones first.

Accepting the top tag(s), or picking the right ones, adds the image to the training set with those tags
(`service.predictions.review_prediction`); the prediction then counts as reviewed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sightline.api.context import WS
from sightline.service import predictions, projects, tags
from sightline.web.flags import explain
from sightline.web.render import page, redirect

router = APIRouter()

PAGE_SIZE = 20
Show = Literal["unreviewed", "reviewed", "all"]
_REVIEWED: dict[str, bool | None] = {"unreviewed": False, "reviewed": True, "all": None}


@router.get("/projects/{project_id}/predictions", response_class=HTMLResponse)
def review_queue(
    request: Request,
    ws: WS,
    project_id: str,
    show: Show = "unreviewed",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    project = projects.get_project(ws, project_id)
    found = predictions.list_predictions(
        ws, project.id, reviewed=_REVIEWED[show], take=PAGE_SIZE + 1, skip=(page_number - 1) * PAGE_SIZE
    )
    multilabel = project.classification_type == "Multilabel"
    items = [{"prediction": p, "flags": explain(p, multilabel=multilabel)} for p in found[:PAGE_SIZE]]
    return page(
        request,
        "predictions.html",
        project=project,
        tab="predictions",
        items=items,
        tags=tags.list_tags(ws, project.id),
        multilabel=multilabel,
        show=show,
        page_number=page_number,
        more=len(found) > PAGE_SIZE,
    )


@router.get("/projects/{project_id}/predictions/{prediction_id}/image")
def prediction_image(ws: WS, project_id: str, prediction_id: str, size: str = "original") -> Response:
    """The image a stored prediction was made on; `size=thumbnail` (256 px) or `resized` (1024 px) for pages.

    An unknown size is the service's 400 (it names the sizes there are).
    """
    file = predictions.prediction_file(ws, project_id, prediction_id, size)
    return Response(file.data, media_type=file.media_type, headers={"Cache-Control": "private, max-age=86400"})


@router.post("/projects/{project_id}/predictions/{prediction_id}/review")
def review(
    ws: WS,
    project_id: str,
    prediction_id: str,
    tag: Annotated[list[str] | None, Form()] = None,
    show: Annotated[Show, Form()] = "unreviewed",
) -> RedirectResponse:
    """Add the prediction's image to the training set with the tags chosen (ids), and mark it reviewed."""
    back = f"/projects/{project_id}/predictions?show={show}"
    chosen = [t for t in tag or [] if t]
    if not chosen:
        return redirect(back, problem="Choose at least one tag for the image, or discard the prediction.")
    project_tags = {t.id: t.name for t in tags.list_tags(ws, project_id)}
    image_id = predictions.review_prediction(ws, project_id, prediction_id, chosen)
    names = ", ".join(project_tags.get(t, t) for t in chosen)
    return redirect(back, notice=f"Added to the training set as {names} (image {image_id[:8]}). Train again to use it.")


@router.post("/projects/{project_id}/predictions/{prediction_id}/delete")
def discard(
    ws: WS, project_id: str, prediction_id: str, show: Annotated[Show, Form()] = "unreviewed"
) -> RedirectResponse:
    """Forget a stored prediction (its image is not added anywhere)."""
    predictions.delete_predictions(ws, project_id, [prediction_id])
    return redirect(f"/projects/{project_id}/predictions?show={show}", notice="Prediction discarded.")
