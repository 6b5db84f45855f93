"""Tagging: the pre-built tagger (Image Analysis `tags`) on one photo, no project needed.

Nothing is stored, so the post answers with the result page itself, the photo shown from the bytes sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from sightline.http.context import WS, Fetching
from sightline.service.analysis import analyze_image
from sightline.web.image_input import one_image, preview_uri
from sightline.web.render import page

router = APIRouter()


@router.get("/tagging", response_class=HTMLResponse)
def tagging_page(request: Request) -> HTMLResponse:
    return page(request, "tagging.html", section="tagging")


@router.post("/tagging", response_class=HTMLResponse)
async def tag_photo(
    request: Request,
    ws: WS,
    policy: Fetching,
    file: Annotated[UploadFile | None, File()] = None,
    url: Annotated[str, Form()] = "",
) -> HTMLResponse:
    data = await one_image(file, url, policy)
    tagger = await run_in_threadpool(request.app.state.tagger.get)  # built on first use: a vocabulary to embed
    analysis = await run_in_threadpool(analyze_image, tagger, data, ws.image_limits)
    return page(
        request,
        "tagging.html",
        section="tagging",
        analysis=analysis,
        model=tagger.backbone.name,
        image_src=await preview_uri(data),
        source=url.strip() or (file.filename if file else None),
    )
