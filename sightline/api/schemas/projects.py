"""Domains and projects."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from sightline.http.domains import DomainEntry, domain_id
from sightline.service.iterations import EXPORT_PLATFORMS
from sightline.service.views import (
    ProjectView,
)

if TYPE_CHECKING:
    pass
from sightline.api.schemas.common import CamelModel

# --- domains and projects -----------------------------------------------------------------------


class Domain(CamelModel):
    id: str
    name: str
    type: str = "Classification"
    exportable: bool = False
    enabled: bool = True
    exportable_platforms: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, entry: DomainEntry) -> Domain:
        """Every backbone kind has an ONNX image graph, so every domain exports (see `sightline.export`)."""
        return cls(id=entry.id, name=entry.name, exportable=True, exportable_platforms=list(EXPORT_PLATFORMS))


class ImageProcessingSettings(CamelModel):
    """Kept and echoed; Sightline's training does not augment images (its heads train on embeddings)."""

    augmentation_methods: dict[str, bool] | None = None


class ProjectSettings(CamelModel):
    domain_id: str | None = None
    classification_type: str | None = None
    target_export_platforms: list[str] | None = None
    use_negative_set: bool | None = None
    image_processing_settings: ImageProcessingSettings | None = None

    def kept(self) -> dict[str, Any]:
        """The settings Sightline stores as sent (those given in this body)."""
        kept: dict[str, Any] = {}
        if self.target_export_platforms is not None:
            kept["targetExportPlatforms"] = list(self.target_export_platforms)
        if self.image_processing_settings is not None:
            kept["imageProcessingSettings"] = self.image_processing_settings.model_dump(by_alias=True)
        return kept


class Project(CamelModel):
    id: str
    name: str
    description: str
    settings: ProjectSettings
    created: datetime
    last_modified: datetime
    thumbnail_uri: str | None = None
    dr_mode_enabled: bool = False
    status: str = "Succeeded"

    @classmethod
    def of(cls, view: ProjectView) -> Project:
        return cls(
            id=view.id,
            name=view.name,
            description=view.description,
            settings=ProjectSettings(
                domain_id=domain_id(view.domain),
                classification_type=view.classification_type,
                target_export_platforms=view.settings.get("targetExportPlatforms", []),
                use_negative_set=True,
                image_processing_settings=view.settings.get("imageProcessingSettings"),
            ),
            created=view.created,
            last_modified=view.modified,
        )


class ProjectExport(CamelModel):
    iteration_count: int
    image_count: int
    tag_count: int
    region_count: int = 0
    estimated_import_time_in_ms: int = Field(default=0, alias="estimatedImportTimeInMS")
    token: str


class ProjectUpdate(CamelModel):
    """The PATCH body: a whole Project as the SDK sends it back; only these fields are read."""

    name: str | None = None
    description: str | None = None
    settings: ProjectSettings | None = None
