"""Custom Vision's JSON bodies (Training v3.3, Prediction v3.0), field for field, and how views become them.

Python names are snake_case; on the wire every field is camelCase, exactly as Azure's SDKs expect
(`alias_generator`). Datetimes are aware UTC and come out as ISO 8601 with `Z`. Sightline's extra
fields (a prediction's threshold, uncertainty, unknown score) are added where Azure's SDKs ignore them.

One module per resource; the classes keep Azure's model names (so the OpenAPI document does), and
this package is their namespace: `schemas.Project` is the wire shape of `store.Project` and
`service.views.ProjectView`.
"""

from __future__ import annotations

from sightline.api.schemas.common import (
    Base64Bytes,
    CamelModel,
    CustomVisionError,
    UtcDatetime,
)
from sightline.api.schemas.exports import Export
from sightline.api.schemas.images import (
    Image,
    ImageCreateResult,
    ImageCreateSummary,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    ImageIdCreateBatch,
    ImageIdCreateEntry,
    ImageMetadataUpdateEntry,
    ImageMetadataUpdateSummary,
    ImageTag,
    ImageTagCreateBatch,
    ImageTagCreateEntry,
    ImageTagCreateSummary,
    ImageUrl,
    ImageUrlCreateBatch,
    ImageUrlCreateEntry,
)
from sightline.api.schemas.iterations import (
    CustomBaseModelInfo,
    HeldOutPerformance,
    Iteration,
    IterationPerformance,
    IterationUpdate,
    TagPerformance,
    TrainingParameters,
    azure_status,
)
from sightline.api.schemas.predictions import (
    ImagePerformance,
    ImagePrediction,
    Prediction,
    PredictionQueryResult,
    PredictionQueryTag,
    PredictionQueryToken,
    StoredImagePrediction,
    StoredSuggestedTagAndRegion,
    SuggestedTagAndRegion,
    SuggestedTagAndRegionQuery,
    SuggestedTagAndRegionQueryToken,
    TagFilter,
    TagProbability,
)
from sightline.api.schemas.projects import (
    Domain,
    ImageProcessingSettings,
    Project,
    ProjectExport,
    ProjectSettings,
    ProjectUpdate,
)
from sightline.api.schemas.tags import Tag, TagUpdate

__all__ = [
    "Base64Bytes",
    "CamelModel",
    "CustomBaseModelInfo",
    "CustomVisionError",
    "Domain",
    "Export",
    "HeldOutPerformance",
    "Image",
    "ImageCreateResult",
    "ImageCreateSummary",
    "ImageFileCreateBatch",
    "ImageFileCreateEntry",
    "ImageIdCreateBatch",
    "ImageIdCreateEntry",
    "ImageMetadataUpdateEntry",
    "ImageMetadataUpdateSummary",
    "ImagePerformance",
    "ImagePrediction",
    "ImageProcessingSettings",
    "ImageTag",
    "ImageTagCreateBatch",
    "ImageTagCreateEntry",
    "ImageTagCreateSummary",
    "ImageUrl",
    "ImageUrlCreateBatch",
    "ImageUrlCreateEntry",
    "Iteration",
    "IterationPerformance",
    "IterationUpdate",
    "Prediction",
    "PredictionQueryResult",
    "PredictionQueryTag",
    "PredictionQueryToken",
    "Project",
    "ProjectExport",
    "ProjectSettings",
    "ProjectUpdate",
    "StoredImagePrediction",
    "StoredSuggestedTagAndRegion",
    "SuggestedTagAndRegion",
    "SuggestedTagAndRegionQuery",
    "SuggestedTagAndRegionQueryToken",
    "Tag",
    "TagFilter",
    "TagPerformance",
    "TagProbability",
    "TagUpdate",
    "TrainingParameters",
    "UtcDatetime",
    "azure_status",
]
