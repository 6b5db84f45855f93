"""Tagging: the pre-built tagger (Image Analysis `tags`) on one photo, no project needed.

Nothing is stored, so the post answers with the result page itself, the photo shown from the bytes sent.
The form carries the CLI's controls (`sightline tag --threshold --top --tags --single`), kept for the next photo.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from sightline.http.context import WS, Fetching
from sightline.service.analysis import TagOptions, analyze_image, tag_names, tagger_with
from sightline.web.image_input import one_image, preview_uri
from sightline.web.render import page

router = APIRouter()


def _form_values(options: TagOptions) -> dict[str, str | bool]:
    return {
        "threshold": f"{options.threshold:g}",
        "top": str(options.top or 0),
        "tags": ", ".join(options.tags),
        "single": options.single,
    }


@router.get("/tagging", response_class=HTMLResponse)
def tagging_page(request: Request) -> HTMLResponse:
    return page(request, "tagging.html", section="tagging", options=_form_values(TagOptions()))


@router.post("/tagging", response_class=HTMLResponse)
async def tag_photo(
    request: Request,
    ws: WS,
    policy: Fetching,
    file: Annotated[UploadFile | None, File()] = None,
    url: Annotated[str, Form()] = "",
    threshold: Annotated[float, Form(ge=0.0, le=1.0)] = TagOptions.threshold,
    top: Annotated[int, Form(ge=0, le=10_000)] = 10,
    tags: Annotated[str, Form(max_length=4000)] = "",
    single: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    options = TagOptions(threshold=threshold, top=top or None, tags=tag_names(tags), single=single)
    data = await one_image(file, url, policy)
    base = await run_in_threadpool(request.app.state.tagger.get)  # built on first use: a vocabulary to embed
    tagger = await run_in_threadpool(tagger_with, base, options)
    analysis = await run_in_threadpool(analyze_image, tagger, data, ws.image_limits)
    return page(
        request,
        "tagging.html",
        section="tagging",
        analysis=analysis,
        model=tagger.backbone.name,
        options=_form_values(options),
        image_src=await preview_uri(data),
        source=url.strip() or (file.filename if file else None),
    )
