"""Custom Vision's object detection operations, refused with a 400 that names them.

Sightline does image classification only. Without these routes a detection call would meet a bare
404/405 "Not Found", which reads like a wrong URL; here it learns what is missing and why.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from sightline.api.errors import ApiError
from sightline.api.keys import require_prediction_key, require_training_key
from sightline.codes import ErrorCode

training_router = APIRouter(dependencies=[Depends(require_training_key)], tags=["Object detection (refused)"])
prediction_router = APIRouter(dependencies=[Depends(require_prediction_key)], tags=["Object detection (refused)"])


def _refuse(operation: str) -> None:
    raise ApiError(
        400,
        ErrorCode.BadRequestOperationNotSupported,
        f"{operation} is an object detection operation: Sightline does image classification only "
        "(Multiclass and Multilabel projects), so image regions and detection are not supported",
    )


@training_router.post("/projects/{projectId}/images/regions")
def create_image_regions() -> None:
    _refuse("CreateImageRegions")


@training_router.delete("/projects/{projectId}/images/regions")
def delete_image_regions() -> None:
    _refuse("DeleteImageRegions")


@training_router.post("/projects/{projectId}/images/{imageId}/regionproposals")
def get_image_region_proposals() -> None:
    _refuse("GetImageRegionProposals")


@prediction_router.post("/{projectId}/detect/iterations/{publishedName}/image")
@prediction_router.post("/{projectId}/detect/iterations/{publishedName}/image/nostore")
def detect_image() -> None:
    _refuse("DetectImage")


@prediction_router.post("/{projectId}/detect/iterations/{publishedName}/url")
@prediction_router.post("/{projectId}/detect/iterations/{publishedName}/url/nostore")
def detect_image_url() -> None:
    _refuse("DetectImageUrl")
