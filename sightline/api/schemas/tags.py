"""Tags."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sightline.service.views import (
    TagView,
)

if TYPE_CHECKING:
    pass
from sightline.api.schemas.common import CamelModel

# --- tags and images ----------------------------------------------------------------------------


class Tag(CamelModel):
    id: str
    name: str
    description: str
    type: str
    image_count: int

    @classmethod
    def of(cls, view: TagView) -> Tag:
        return cls(
            id=view.id, name=view.name, description=view.description, type=view.type, image_count=view.image_count
        )


class TagUpdate(CamelModel):
    name: str | None = None
    description: str | None = None
    type: str | None = None
