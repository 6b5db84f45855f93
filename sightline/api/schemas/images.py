"""Images: listings, uploads and their results, tagging, metadata."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sightline.codes import ImageStatus
from sightline.service.views import (
    ImageAddResult,
    ImageView,
    MetadataUpdate,
    TagView,
)

if TYPE_CHECKING:
    from sightline.api.links import Links
from sightline.api.schemas.common import Base64Bytes, CamelModel


class ImageTag(CamelModel):
    tag_id: str
    tag_name: str
    created: datetime

    @classmethod
    def of(cls, view: TagView) -> ImageTag:
        return cls(tag_id=view.id, tag_name=view.name, created=view.created)


class Image(CamelModel):
    id: str
    created: datetime
    width: int
    height: int
    resized_image_uri: str | None = None
    thumbnail_uri: str | None = None
    original_image_uri: str | None = None
    tags: list[ImageTag] | None = None
    regions: list[dict[str, Any]] | None = None
    metadata: dict[str, str] | None = None

    @classmethod
    def of(cls, view: ImageView, project_id: str, links: Links | None = None) -> Image:
        """The image, with signed URLs of its bytes when `links` are given."""

        def uri(kind: str) -> str | None:
            return links.image(project_id, view.id, kind) if links is not None else None

        return cls(
            id=view.id,
            created=view.created,
            width=view.width,
            height=view.height,
            tags=[ImageTag.of(t) for t in view.tags] or None,
            metadata=view.metadata or None,
            original_image_uri=uri("original"),
            resized_image_uri=uri("resized"),
            thumbnail_uri=uri("thumbnail"),
        )


class ImageCreateResult(CamelModel):
    source_url: str | None
    status: str
    image: Image | None = None
    message: str | None = None  # Sightline: why an image was refused

    @classmethod
    def of(cls, result: ImageAddResult, project_id: str, links: Links | None = None) -> ImageCreateResult:
        image = Image.of(result.image, project_id, links) if result.image is not None else None
        return cls(source_url=result.source, status=result.status, image=image, message=result.message)


class ImageCreateSummary(CamelModel):
    is_batch_successful: bool
    images: list[ImageCreateResult]

    @classmethod
    def of(cls, results: list[ImageAddResult], project_id: str, links: Links | None = None) -> ImageCreateSummary:
        """Custom Vision counts a batch successful only when every image is new ("OK", not "OKDuplicate")."""
        return cls(
            is_batch_successful=all(r.status == ImageStatus.OK for r in results),
            images=[ImageCreateResult.of(r, project_id, links) for r in results],
        )


class ImageMetadataUpdateEntry(CamelModel):
    image_id: str
    status: str
    metadata: dict[str, str] | None = None


class ImageMetadataUpdateSummary(CamelModel):
    is_batch_successful: bool
    images: list[ImageMetadataUpdateEntry]

    @classmethod
    def of(cls, results: list[MetadataUpdate]) -> ImageMetadataUpdateSummary:
        return cls(
            is_batch_successful=all(r.status == ImageStatus.OK for r in results),
            images=[
                ImageMetadataUpdateEntry(image_id=r.image_id, status=r.status, metadata=r.metadata) for r in results
            ],
        )


class ImageFileCreateEntry(CamelModel):
    name: str | None = None
    contents: Base64Bytes
    tag_ids: list[str] | None = None


class ImageFileCreateBatch(CamelModel):
    images: list[ImageFileCreateEntry]
    tag_ids: list[str] | None = None
    metadata: dict[str, str] | None = None


class ImageIdCreateEntry(CamelModel):
    """A stored prediction (its id) whose image joins the project; `regions` are object detection's."""

    id: str
    tag_ids: list[str] | None = None
    regions: list[dict[str, Any]] | None = None


class ImageIdCreateBatch(CamelModel):
    images: list[ImageIdCreateEntry]
    tag_ids: list[str] | None = None
    metadata: dict[str, str] | None = None


class ImageUrlCreateEntry(CamelModel):
    url: str
    tag_ids: list[str] | None = None


class ImageUrlCreateBatch(CamelModel):
    images: list[ImageUrlCreateEntry]
    tag_ids: list[str] | None = None
    metadata: dict[str, str] | None = None


class ImageUrl(CamelModel):
    url: str


class ImageTagCreateEntry(CamelModel):
    image_id: str
    tag_id: str


class ImageTagCreateBatch(CamelModel):
    tags: list[ImageTagCreateEntry]


class ImageTagCreateSummary(CamelModel):
    created: list[ImageTagCreateEntry]
    duplicated: list[ImageTagCreateEntry]
    exceeded: list[ImageTagCreateEntry]
