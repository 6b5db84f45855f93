"""Images: the thumbnail grid, filters, uploads with tags, bulk tag/untag/delete, and one image's detail."""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from sightline.codes import ErrorCode, ImageStatus
from sightline.errors import InvalidRequestError
from sightline.http.context import WS
from sightline.service import images, projects, tags
from sightline.service.images import NewImage
from sightline.service.views import ImageAddResult
from sightline.web.mislabelled import likely_mislabelled
from sightline.web.render import page, redirect

router = APIRouter()

PAGE_SIZE = 60
#: The thumbnail and original of an image id never change (blobs are content-addressed), so browsers keep them.
_CACHE = "private, max-age=86400"
_ADDED = (ImageStatus.OK, ImageStatus.OKDuplicate)


def _images_url(
    project_id: str, tag: str | None = None, tagged: bool | None = None, page: int = 1, view: str | None = None
) -> str:
    """The grid's address with its filter and page; the same filter keeps across pages and forms."""
    query = {"tag": tag, "tagged": None if tagged is None else str(tagged).lower(), "page": page if page > 1 else None}
    query["view"] = view
    given = urlencode({k: v for k, v in query.items() if v is not None})
    return f"/projects/{project_id}/images" + (f"?{given}" if given else "")


@router.get("/projects/{project_id}/images", response_class=HTMLResponse)
def image_grid(
    request: Request,
    ws: WS,
    project_id: str,
    tag: str | None = None,
    tagged: bool | None = None,
    page_number: Annotated[int, Query(alias="page", ge=1)] = 1,
    view: Annotated[str | None, Query(pattern="^(test|mislabelled)$")] = None,
) -> HTMLResponse:
    """The grid, `PAGE_SIZE` a page, filtered by one tag or by tagged/untagged (plain links: no JavaScript needed).
    `view`: "test", the project's test set (never trained on); "mislabelled", the latest iteration's ranking
    of training images whose tag is probably wrong, most likely first, each with a one-click retag."""
    project = projects.get_project(ws, project_id)
    tag_ids = [tag] if tag else []
    test_set = view == "test"
    total = images.count_images(ws, project.id, tagged=tagged, tag_ids=tag_ids, test_set=test_set)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page_number = min(page_number, pages)
    shown = images.list_images(
        ws,
        project.id,
        tagged=tagged,
        tag_ids=tag_ids,
        take=PAGE_SIZE,
        skip=(page_number - 1) * PAGE_SIZE,
        test_set=test_set,
    )
    ranked_by, suspects = likely_mislabelled(ws, project.id)
    if view == "mislabelled":
        shown, total, pages = [], len(suspects), 1
    tag_list = tags.list_tags(ws, project.id)
    return page(
        request,
        "images.html",
        project=project,
        tab="images",
        images=shown,
        tags=tag_list,
        filter_tag=next((t for t in tag_list if t.id == tag), None),
        filter_tagged=tagged,
        all_count=images.count_images(ws, project.id),
        untagged_count=images.count_images(ws, project.id, tagged=False),
        total=total,
        page_number=page_number,
        pages=pages,
        prev_url=_images_url(project.id, tag, tagged, page_number - 1, view) if page_number > 1 else None,
        next_url=_images_url(project.id, tag, tagged, page_number + 1, view) if page_number < pages else None,
        back=_images_url(project.id, tag, tagged, page_number, view),
        view=view,
        test_count=images.count_images(ws, project.id, test_set=True),
        suspects=suspects,
        ranked_by=ranked_by,
    )


@router.post("/projects/{project_id}/tags")
def add_tag(
    ws: WS,
    project_id: str,
    name: Annotated[str, Form()],
    type: Annotated[str, Form()] = "Regular",
    back: Annotated[str, Form()] = "",
) -> RedirectResponse:
    created = tags.create_tag(ws, project_id, name, type=type)
    return redirect(_safe_back(back, project_id), notice=f"Tag {created.name!r} ({created.type}) added.")


@router.post("/projects/{project_id}/images/upload", response_model=None)
async def upload(
    request: Request,
    ws: WS,
    project_id: str,
    files: Annotated[list[UploadFile], File()],
    tag: Annotated[list[str] | None, Form()] = None,
    new_tags: Annotated[str, Form()] = "",
) -> Response:
    """Add images with the tags chosen before uploading: existing ones (ids) and new names (comma-separated).

    The page's script sends one file per request and reads the JSON answer (per-file status); a plain
    form post gets a redirect back with a summary.
    """
    chosen = [f for f in files if f.filename or f.size]
    if not chosen:  # before any new tag is made: a post without files changes nothing
        raise InvalidRequestError("choose one or more image files to upload", ErrorCode.BadRequestImageBatch)
    if len(chosen) > images.MAX_IMAGES_PER_BATCH:  # the API's limit, checked before any new tag is made
        raise InvalidRequestError(
            f"{len(chosen)} files in one upload; the limit is {images.MAX_IMAGES_PER_BATCH}",
            ErrorCode.BadRequestImageBatch,
        )
    uploads = [NewImage(await f.read(), name=f.filename or None) for f in chosen]
    existing = {t.id for t in tags.list_tags(ws, project_id)} if new_tags.strip() else set()
    typed = tags.ensure_tags(ws, project_id, new_tags.split(","))
    results: list[ImageAddResult] = []
    try:
        results = images.add_images(ws, project_id, uploads, tags=[*(tag or []), *(t.id for t in typed)])
    finally:  # every file refused (or the upload failed): the tags it made go too
        if not any(r.ok for r in results):
            tags.delete_unused_tags(ws, project_id, [t.id for t in typed if t.id not in existing])
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"results": [_result_json(r) for r in results]})
    return redirect(_images_url(project_id), **_upload_summary(results))


def _result_json(result: ImageAddResult) -> dict:
    return {
        "source": result.source,
        "status": result.status,
        "ok": result.status in _ADDED,
        "message": result.message,
        "imageId": result.image.id if result.image else None,
    }


def _upload_summary(results: list[ImageAddResult]) -> dict[str, str]:
    added = sum(r.status == ImageStatus.OK for r in results)
    duplicates = sum(r.status == ImageStatus.OKDuplicate for r in results)
    refused = [f"{r.source}: {r.message or r.status}" for r in results if r.status not in _ADDED]
    notice = f"{added} image{'s' if added != 1 else ''} added" + (
        f", {duplicates} already in the project." if duplicates else "."
    )
    summary = {"notice": notice}
    if refused:
        summary["problem"] = f"{len(refused)} not added: " + "; ".join(refused)
    return summary


@router.post("/projects/{project_id}/images/bulk", response_model=None)
def bulk_action(
    request: Request,
    ws: WS,
    project_id: str,
    action: Annotated[str, Form()],
    image: Annotated[list[str] | None, Form()] = None,
    tag: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Tag, untag or delete the selected images; deleting asks first, on a page of its own."""
    chosen = list(dict.fromkeys(image or []))
    back = _safe_back(back, project_id)
    if not chosen:
        return redirect(back, problem="Select one or more images first.")
    if action == "delete":
        project = projects.get_project(ws, project_id)
        return page(request, "images_delete.html", project=project, tab="images", image_ids=chosen, back=back)
    if action in ("to-test", "to-training"):
        moved = images.set_test_set(ws, project_id, chosen, test_set=action == "to-test")
        where = "the test set" if action == "to-test" else "training"
        return redirect(back, notice=f"{moved} image{'s' if moved != 1 else ''} moved to {where}.")
    if action == "retag":  # the mislabelled view's one click: the suggested tag replaces the image's tag
        if not tag:
            return redirect(back, problem="The suggested tag was deleted since training: open the image to tag it.")
        for image_id in chosen:
            images.change_tag(ws, project_id, image_id, tag)
        return redirect(back, notice=f"Tag changed to {tags.get_tag(ws, project_id, tag).name!r}.")
    if action not in ("tag", "untag"):
        raise InvalidRequestError(f"unknown action {action!r}: tag, untag or delete")
    if not tag:
        return redirect(back, problem=f"Choose the tag to {action} the selected images with.")
    pairs = [(image_id, tag) for image_id in chosen]
    if action == "tag":
        changed = images.tag_images(ws, project_id, pairs)
        return redirect(back, notice=f"Tag added to {changed} image{'s' if changed != 1 else ''}.")
    changed = images.untag_images(ws, project_id, pairs)
    return redirect(back, notice=f"Tag removed from {changed} image{'s' if changed != 1 else ''}.")


@router.post("/projects/{project_id}/images/delete")
def delete_selected(
    ws: WS,
    project_id: str,
    image: Annotated[list[str], Form()],
    back: Annotated[str, Form()] = "",
) -> RedirectResponse:
    deleted = images.delete_images(ws, project_id, image)
    return redirect(_safe_back(back, project_id), notice=f"{deleted} image{'s' if deleted != 1 else ''} deleted.")


def _detail_back(back: str | None, project_id: str) -> tuple[str | None, str | None]:
    """Where the image was opened from (a confusion cell, a filtered grid) and how to name it; local only."""
    if not back or not back.startswith(f"/projects/{project_id}/") or back.startswith("//"):
        return None, None
    path, _, query = back.partition("?")
    if path.endswith("/performance/confusion"):
        given = dict(parse_qsl(query))
        return back, f"tagged {given.get('actual', '?')}, predicted {given.get('predicted', '?')}"
    return back, path.rsplit("/", 1)[-1].replace("quicktest", "quick test")


def _image_url(project_id: str, image_id: str, back: str | None) -> str:
    url = f"/projects/{project_id}/images/{image_id}"
    return url + (f"?{urlencode({'back': back})}" if back else "")


@router.get("/projects/{project_id}/images/{image_id}", response_class=HTMLResponse)
def image_detail(request: Request, ws: WS, project_id: str, image_id: str, back: str | None = None) -> HTMLResponse:
    project = projects.get_project(ws, project_id)
    found = images.get_images(ws, project.id, [image_id])
    if not found:
        images.image_file(ws, project.id, image_id, "thumbnail")  # raises the service's NotFoundError
    view = found[0]
    current = {t.id for t in view.tags}
    back, back_label = _detail_back(back, project.id)
    return page(
        request,
        "image.html",
        project=project,
        tab="images",
        image=view,
        back=back,
        back_label=back_label,
        other_tags=[t for t in tags.list_tags(ws, project.id) if t.id not in current],
    )


def _chosen_tag(ws: WS, project_id: str, tag: str, new_tag: str) -> str:
    refs = [tag] if tag else [t.id for t in tags.ensure_tags(ws, project_id, [new_tag])]
    if not refs:
        raise InvalidRequestError("choose a tag or type a new tag's name")
    return refs[0]


@router.post("/projects/{project_id}/images/{image_id}/tags")
def tag_image(
    ws: WS,
    project_id: str,
    image_id: str,
    tag: Annotated[str, Form()] = "",
    new_tag: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> RedirectResponse:
    images.tag_images(ws, project_id, [(image_id, _chosen_tag(ws, project_id, tag, new_tag))])
    return redirect(_image_url(project_id, image_id, _detail_back(back, project_id)[0]), notice="Tag added.")


@router.post("/projects/{project_id}/images/{image_id}/tags/change")
def change_tag(
    ws: WS,
    project_id: str,
    image_id: str,
    tag: Annotated[str, Form()] = "",
    new_tag: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Multiclass relabelling in one step: the chosen tag replaces the image's tag."""
    chosen = _chosen_tag(ws, project_id, tag, new_tag)
    images.change_tag(ws, project_id, image_id, chosen)
    name = tags.get_tag(ws, project_id, chosen).name
    return redirect(
        _image_url(project_id, image_id, _detail_back(back, project_id)[0]), notice=f"Tag changed to {name!r}."
    )


@router.post("/projects/{project_id}/images/{image_id}/tags/{tag_id}/remove")
def untag_image(
    ws: WS, project_id: str, image_id: str, tag_id: str, back: Annotated[str, Form()] = ""
) -> RedirectResponse:
    images.untag_images(ws, project_id, [(image_id, tag_id)])
    return redirect(_image_url(project_id, image_id, _detail_back(back, project_id)[0]), notice="Tag removed.")


@router.post("/projects/{project_id}/images/{image_id}/metadata")
def edit_metadata(
    ws: WS,
    project_id: str,
    image_id: str,
    key: Annotated[list[str] | None, Form()] = None,
    value: Annotated[list[str] | None, Form()] = None,
) -> RedirectResponse:
    """The metadata rows as edited (existing ones and a blank one to add); rows with no key are ignored."""
    pairs = {k.strip(): v for k, v in zip(key or [], value or [], strict=False) if k.strip()}
    if not pairs:
        raise InvalidRequestError("type a key (and its value) to add metadata")
    images.set_metadata(ws, project_id, image_id, pairs)
    return redirect(f"/projects/{project_id}/images/{image_id}", notice="Metadata saved.")


@router.get("/projects/{project_id}/images/{image_id}/thumbnail")
def thumbnail(ws: WS, project_id: str, image_id: str) -> Response:
    return _image_response(ws, project_id, image_id, "thumbnail")


@router.get("/projects/{project_id}/images/{image_id}/original")
def original(ws: WS, project_id: str, image_id: str) -> Response:
    return _image_response(ws, project_id, image_id, "original")


def _image_response(ws: WS, project_id: str, image_id: str, kind: str) -> Response:
    file = images.image_file(ws, project_id, image_id, kind)
    return Response(file.data, media_type=file.media_type, headers={"Cache-Control": _CACHE})


def _safe_back(back: str, project_id: str) -> str:
    """Only this project's image pages: a posted `back` must not become an open redirect."""
    prefix = f"/projects/{project_id}/images"
    return back if back.startswith(prefix) and not back.startswith("//") else _images_url(project_id)
