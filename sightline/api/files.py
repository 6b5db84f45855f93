"""The bytes behind the signed URLs (`sightline.api.links`): images, stored predictions' images, model exports.

No key header here: the signature in the query string is the authorisation, as with Azure's SAS URIs.
It is checked before anything is looked up, so a bad one learns nothing about what exists.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from sightline.api.context import WS, IterationId, ProjectId
from sightline.api.links import (
    Expires,
    Signature,
    check_signature,
    export_resource,
    image_resource,
    prediction_resource,
)
from sightline.service import images, iterations, predictions
from sightline.service.views import ImageFile

router = APIRouter(tags=["Files"])

Kind = Annotated[str, Path(pattern="^(original|resized|thumbnail)$", description="original, resized or thumbnail")]
ImageId = Annotated[str, Path(alias="imageId")]
PredictionId = Annotated[str, Path(alias="predictionId")]
Platform = Annotated[str, Path(pattern="^ONNX$")]
_IMAGE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}, "image/png": {}}, "description": "The image."}
}
_MAX_AGE_S = 24 * 3600


def _cached(response: Response, seconds_left: int) -> Response:
    """The bytes behind a URL never change (content-addressed), so caches may keep them while the URL is valid."""
    response.headers["Cache-Control"] = f"private, max-age={min(seconds_left, _MAX_AGE_S)}, immutable"
    return response


def _image(file: ImageFile, seconds_left: int) -> Response:
    return _cached(Response(file.data, media_type=file.media_type), seconds_left)


@router.get("/projects/{projectId}/images/{imageId}/{kind}", response_class=Response, responses=_IMAGE)
def download_image(
    request: Request,
    ws: WS,
    project_id: ProjectId,
    image_id: ImageId,
    kind: Kind,
    se: Expires = None,
    sig: Signature = None,
) -> Response:
    """A training image: as uploaded, at most 1024 px (JPEG), or a 256 px thumbnail (JPEG)."""
    left = check_signature(request, image_resource(project_id, image_id, kind), se, sig)
    return _image(images.image_file(ws, project_id, image_id, kind), left)


@router.get("/projects/{projectId}/predictions/{predictionId}/{kind}", response_class=Response, responses=_IMAGE)
def download_prediction_image(
    request: Request,
    ws: WS,
    project_id: ProjectId,
    prediction_id: PredictionId,
    kind: Kind,
    se: Expires = None,
    sig: Signature = None,
) -> Response:
    """The image of a stored prediction, in the same renditions as a training image."""
    left = check_signature(request, prediction_resource(project_id, prediction_id, kind), se, sig)
    return _image(predictions.prediction_file(ws, project_id, prediction_id, kind), left)


@router.get(
    "/projects/{projectId}/iterations/{iterationId}/export/{platform}/download",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "model.onnx, labels.txt, sightline.json."}},
)
def download_export(
    request: Request,
    ws: WS,
    project_id: ProjectId,
    iteration_id: IterationId,
    platform: Platform,
    se: Expires = None,
    sig: Signature = None,
) -> Response:
    """The ONNX export: a zip of model.onnx, labels.txt and sightline.json (see `training.export_iteration`)."""
    left = check_signature(request, export_resource(project_id, iteration_id, platform), se, sig)
    data = iterations.exported_model(ws, project_id, iteration_id, platform)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", iteration_id)
    headers = {"Content-Disposition": f'attachment; filename="sightline-{platform.lower()}-{name}.zip"'}
    return _cached(Response(data, media_type="application/zip", headers=headers), left)
