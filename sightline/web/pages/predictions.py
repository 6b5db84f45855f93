"""Predictions: the review queue of stored predictions, uncertain and unknown ones first.

Accepting the top tag(s), or picking the right ones, adds the image to the training set with those tags
(`service.predictions.review_prediction`); the prediction then counts as reviewed.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sightline.errors import InvalidRequestError
from sightline.http.context import WS
from sightline.service import predictions, projects, review, tags
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
    undo: str | None = None,
) -> HTMLResponse:
    """One item per image (repeats grouped), unknown then uncertain first; `undo` offers to take back a review."""
    project = projects.get_project(ws, project_id)
    found = review.review_queue(
        ws, project.id, reviewed=_REVIEWED[show], take=PAGE_SIZE + 1, skip=(page_number - 1) * PAGE_SIZE
    )
    multilabel = project.classification_type == "Multilabel"
    items = [
        {"prediction": i.prediction, "repeats": i.repeats, "flags": explain(i.prediction, multilabel=multilabel)}
        for i in found[:PAGE_SIZE]
    ]
    project_tags = tags.list_tags(ws, project.id)
    return page(
        request,
        "predictions.html",
        project=project,
        tab="predictions",
        items=items,
        tags=[t for t in project_tags if t.type == "Regular"],
        negative=next((t for t in project_tags if t.type == "Negative"), None),
        multilabel=multilabel,
        show=show,
        page_number=page_number,
        more=len(found) > PAGE_SIZE,
        undo=undo if undo and _decode_undo(undo) else None,
    )


def _encode_undo(outcome: review.ReviewOutcome) -> str:
    return base64.urlsafe_b64encode(json.dumps(dataclasses.asdict(outcome)).encode()).decode()


def _decode_undo(token: str) -> review.ReviewOutcome | None:
    try:
        return review.ReviewOutcome(**json.loads(base64.urlsafe_b64decode(token.encode())))
    except (ValueError, TypeError):
        return None


@router.get("/projects/{project_id}/predictions/{prediction_id}/image")
def prediction_image(ws: WS, project_id: str, prediction_id: str, size: str = "original") -> Response:
    """The image a stored prediction was made on; `size=thumbnail` (256 px) or `resized` (1024 px) for pages.

    An unknown size is the service's 400 (it names the sizes there are).
    """
    file = predictions.prediction_file(ws, project_id, prediction_id, size)
    return Response(file.data, media_type=file.media_type, headers={"Cache-Control": "private, max-age=86400"})


@router.post("/projects/{project_id}/predictions/{prediction_id}/review")
def review_one(
    ws: WS,
    project_id: str,
    prediction_id: str,
    tag: Annotated[list[str] | None, Form()] = None,
    new_tag: Annotated[str, Form()] = "",
    none: Annotated[bool, Form()] = False,
    show: Annotated[Show, Form()] = "unreviewed",
) -> RedirectResponse:
    """Add the image to the training set with the tags chosen (ids), a new tag typed, or "none of these"
    (the Negative tag, made when missing); the image's repeats count as reviewed with it."""
    back = f"/projects/{project_id}/predictions?show={show}"
    chosen = [review.negative_tag(ws, project_id)] if none else [t for t in tag or [] if t]
    new_names = [n.strip() for n in new_tag.split(",") if n.strip()] if not none else []
    if not chosen and not new_names:
        return redirect(back, problem="Choose at least one tag for the image, type a new one, or pick none of these.")
    outcome = review.review(ws, project_id, prediction_id, chosen, new_names)
    names = {t.id: t.name for t in tags.list_tags(ws, project_id)}
    said = ", ".join(names.get(t, t) for t in outcome.added_tag_ids) or "its tags (unchanged)"
    repeats = f" with its {len(outcome.prediction_ids) - 1} repeats" if len(outcome.prediction_ids) > 1 else ""
    return redirect(
        f"{back}&undo={_encode_undo(outcome)}",
        notice=f"Added to the training set as {said}{repeats} (image {outcome.image_id[:8]}). Train again to use it.",
    )


@router.post("/projects/{project_id}/predictions/undo")
def undo_review(
    ws: WS, project_id: str, token: Annotated[str, Form()], show: Annotated[Show, Form()] = "unreviewed"
) -> RedirectResponse:
    """Take the last review back: the image leaves the training set (or loses the tags it gained)."""
    outcome = _decode_undo(token)
    if outcome is None:
        raise InvalidRequestError("nothing to undo")
    review.undo_review(ws, project_id, outcome)
    back = f"/projects/{project_id}/predictions?show={show}"
    return redirect(back, notice="Review undone: the image is back in the queue.")


@router.post("/projects/{project_id}/predictions/{prediction_id}/delete")
def discard(
    ws: WS, project_id: str, prediction_id: str, show: Annotated[Show, Form()] = "unreviewed"
) -> RedirectResponse:
    """Forget a stored prediction and its repeats (the image is not added anywhere)."""
    count = review.discard(ws, project_id, prediction_id)
    said = "Prediction discarded." if count == 1 else f"{count} predictions of this image discarded."
    return redirect(f"/projects/{project_id}/predictions?show={show}", notice=said)
