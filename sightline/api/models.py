"""Custom Vision's JSON bodies (Training v3.3, Prediction v3.0), field for field, and how views become them.

Python names are snake_case; on the wire every field is camelCase, exactly as Azure's SDKs expect
(`alias_generator`). Datetimes are aware UTC and come out as ISO 8601 with `Z`. Sightline's extra
fields (a prediction's threshold, uncertainty, unknown score) are added where Azure's SDKs ignore them.
"""

from __future__ import annotations

import base64
import binascii
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic.alias_generators import to_camel

from sightline.http.domains import DomainEntry, domain_id
from sightline.service.iterations import EXPORT_PLATFORMS
from sightline.service.views import (
    ImageAddResult,
    ImagePerformanceView,
    ImageView,
    IterationView,
    MetadataUpdate,
    PredictionView,
    ProjectView,
    TagView,
)

if TYPE_CHECKING:
    from sightline.api.links import Links


def _strict_base64(value: object) -> bytes:
    """Standard base64 (line breaks allowed), refusing other characters instead of skipping them."""
    if not isinstance(value, str):
        raise ValueError("expected a base64 string")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except binascii.Error as error:
        raise ValueError(f"not valid base64: {error}") from None


Base64Bytes = Annotated[bytes, BeforeValidator(_strict_base64), WithJsonSchema({"type": "string", "format": "byte"})]


def _as_utc(moment: datetime) -> datetime:
    """A time sent without a zone is UTC, as in Azure's APIs; one whose UTC form leaves years 1-9999 is refused."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        moment.astimezone(UTC)  # what the database layer will do with it
    except OverflowError:
        raise ValueError("the time in UTC falls outside the years 1 to 9999") from None
    return moment


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class CustomVisionError(CamelModel):
    code: str
    message: str


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
        uris = {}
        if links is not None:
            uris = {
                "original_image_uri": links.image(project_id, view.id, "original"),
                "resized_image_uri": links.image(project_id, view.id, "resized"),
                "thumbnail_uri": links.image(project_id, view.id, "thumbnail"),
            }
        return cls(
            id=view.id,
            created=view.created,
            width=view.width,
            height=view.height,
            tags=[ImageTag.of(t) for t in view.tags] or None,
            metadata=view.metadata or None,
            **uris,
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
            is_batch_successful=all(r.status == "OK" for r in results),
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
            is_batch_successful=all(r.status == "OK" for r in results),
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


# --- iterations ---------------------------------------------------------------------------------


def azure_status(status: str) -> str:
    """Azure reports an iteration as Training from the moment TrainProject answers; Sightline's queue is internal
    (quickstarts poll `while status == "Training"` and would stop at once on "Queued")."""
    return "Training" if status == "Queued" else status


class Iteration(CamelModel):
    id: str
    name: str
    status: str
    created: datetime
    last_modified: datetime
    trained_at: datetime | None
    project_id: str
    exportable: bool = False
    exportable_to: list[str] = Field(default_factory=list)
    domain_id: str
    classification_type: str
    training_type: str = "Regular"
    reserved_budget_in_hours: int = 0
    training_time_in_minutes: int = 0
    publish_name: str | None
    original_publish_resource_id: str | None = None
    training_error_details: str | None = None

    @classmethod
    def of(cls, view: IterationView) -> Iteration:
        exports = list(EXPORT_PLATFORMS) if view.status == "Completed" else []  # a trained model exports
        return cls(
            id=view.id,
            name=view.name,
            status=azure_status(view.status),
            created=view.created,
            last_modified=view.modified,
            trained_at=view.trained_at,
            project_id=view.project_id,
            domain_id=domain_id(view.domain),
            classification_type=view.classification_type,
            exportable=bool(exports),
            exportable_to=exports,
            training_time_in_minutes=math.ceil((view.training_seconds or 0) / 60),
            training_type=view.options.get("trainingType", "Regular"),
            reserved_budget_in_hours=view.options.get("reservedBudgetInHours", 0),
            publish_name=view.publish_name,
            training_error_details=view.error,
        )


class CustomBaseModelInfo(CamelModel):
    project_id: str
    iteration_id: str


class TrainingParameters(CamelModel):
    """TrainProject's optional body: `selectedTags` to train on (the others are ignored)."""

    selected_tags: list[str] | None = None
    custom_base_model_info: CustomBaseModelInfo | None = None


class IterationUpdate(CamelModel):
    name: str | None = None


class TagPerformance(CamelModel):
    id: str | None
    name: str
    precision: float
    precision_std_deviation: float
    recall: float
    recall_std_deviation: float
    average_precision: float


class HeldOutPerformance(CamelModel):
    """Sightline: the iteration scored on the project's test set (images never trained on)."""

    image_count: int
    per_tag_performance: list[TagPerformance]
    precision: float
    precision_std_deviation: float
    recall: float
    recall_std_deviation: float
    average_precision: float
    accuracy: float | None  # Multiclass only
    accuracy_std_deviation: float | None


class IterationPerformance(CamelModel):
    """Out-of-fold figures (Azure's fields); the overall spreads are standard errors bootstrapped over
    the independent groups of images. A spread that cannot be known (at another threshold) is 0.
    Sightline adds what the estimate rests on and, when the project has a test set, `heldOut`."""

    per_tag_performance: list[TagPerformance]
    precision: float
    precision_std_deviation: float
    recall: float
    recall_std_deviation: float
    average_precision: float
    # Sightline's additions (Azure's SDKs ignore unknown fields):
    image_count: int | None = None
    independent_group_count: int | None = None  # images of one group (near-duplicates, declared) count once
    grouped_image_count: int | None = None
    fold_count: int | None = None
    accuracy: float | None = None
    accuracy_std_deviation: float | None = None
    held_out: HeldOutPerformance | None = None

    @classmethod
    def of(
        cls, report: dict[str, Any], tag_ids: dict[str, str], held_out: dict[str, Any] | None = None
    ) -> IterationPerformance:
        return cls(
            **_figures(report, tag_ids),
            image_count=report.get("n_images"),
            independent_group_count=report.get("n_groups"),
            grouped_image_count=report.get("n_grouped_images"),
            fold_count=report.get("n_folds"),
            held_out=None
            if not held_out or not held_out.get("n_images")
            else HeldOutPerformance(image_count=held_out["n_images"], **_figures(held_out, tag_ids)),
        )


def _figures(report: dict[str, Any], tag_ids: dict[str, str]) -> dict[str, Any]:
    """The figures cross-validated and held-out performance share, in Azure's names (undefined: 0.0 as Azure)."""
    return {
        "per_tag_performance": _per_tag(report, tag_ids),
        "precision": report.get("precision") or 0.0,
        "precision_std_deviation": report.get("precision_std") or 0.0,
        "recall": report.get("recall") or 0.0,
        "recall_std_deviation": report.get("recall_std") or 0.0,
        "average_precision": report.get("mean_average_precision") or 0.0,
        "accuracy": report.get("accuracy"),
        "accuracy_std_deviation": report.get("accuracy_std"),
    }


def _per_tag(report: dict[str, Any], tag_ids: dict[str, str]) -> list[TagPerformance]:
    return [
        TagPerformance(
            id=tag_ids.get(entry["tag"]),
            name=entry["tag"],
            precision=entry.get("precision") or 0.0,
            precision_std_deviation=entry.get("precision_std") or 0.0,
            recall=entry.get("recall") or 0.0,
            recall_std_deviation=entry.get("recall_std") or 0.0,
            average_precision=entry.get("average_precision") or 0.0,
        )
        for entry in report.get("per_tag") or []
    ]


# --- predictions --------------------------------------------------------------------------------


class Prediction(CamelModel):
    probability: float
    tag_id: str | None
    tag_name: str
    above_threshold: bool  # Sightline: probability >= this tag's threshold, and the image is not unknown
    threshold: float  # Sightline: the threshold this tag was held to (its own, else the project's)


class ImagePrediction(CamelModel):
    id: str
    project: str
    iteration: str | None
    created: datetime
    predictions: list[Prediction]
    # Sightline's additions (Azure's SDKs ignore unknown fields):
    threshold: float  # the project's one threshold; each prediction carries its tag's own
    uncertain: bool  # a person should look: `reasons` says why
    # Why it is uncertain: {"code", and its numbers} (see `sightline.learn.decisions.Reason`): `unknown`
    # (unknownScore >= unknownThreshold), `below_threshold` (the top tag's probability < its threshold),
    # `close_runner_up` (top minus runnerUpProbability < margin), `near_threshold` (Multilabel: a tag within
    # margin of its threshold). Keys are camelCase; those a code does not use are left out.
    reasons: list[dict[str, str | float]]
    unknown_score: float  # 0..1, how unlike the training images this image is
    unknown: bool

    @classmethod
    def of(cls, view: PredictionView) -> ImagePrediction:
        ranked = sorted(view.predictions, key=lambda p: p["probability"], reverse=True)
        return cls(
            id=view.id,
            project=view.project_id,
            iteration=view.iteration_id,
            created=view.created,
            predictions=[
                Prediction(
                    probability=p["probability"],
                    tag_id=p.get("tag_id"),
                    tag_name=p["tag_name"],
                    above_threshold=bool(p.get("above_threshold", p["probability"] >= view.threshold)),
                    threshold=float(p.get("threshold", view.threshold)),
                )
                for p in ranked
            ],
            threshold=view.threshold,
            uncertain=view.uncertain,
            reasons=[{to_camel(k): v for k, v in r.items()} for r in view.reasons],
            unknown_score=view.unknown_score,
            unknown=view.unknown,
        )


class SuggestedTagAndRegion(CamelModel):
    """One image's suggested tags (classification: no regions); `predictionUncertainty` is 1 - the top probability."""

    id: str
    project: str
    iteration: str | None
    created: datetime
    predictions: list[Prediction]
    prediction_uncertainty: float

    @classmethod
    def of(cls, image_id: str, view: PredictionView) -> SuggestedTagAndRegion:
        shown = ImagePrediction.of(view)
        top = max((p.probability for p in shown.predictions), default=0.0)
        return cls(
            id=image_id,
            project=view.project_id,
            iteration=view.iteration_id,
            created=view.created,
            predictions=shown.predictions,
            prediction_uncertainty=1.0 - top,
        )


class StoredSuggestedTagAndRegion(SuggestedTagAndRegion):
    width: int
    height: int
    resized_image_uri: str | None = None
    thumbnail_uri: str | None = None
    original_image_uri: str | None = None
    domain: str | None = None

    @classmethod
    def of_image(cls, image: ImageView, view: PredictionView, links: Links, domain: str) -> StoredSuggestedTagAndRegion:
        base = SuggestedTagAndRegion.of(image.id, view)
        uris = Image.of(image, view.project_id, links)
        return cls(
            **base.model_dump(),
            width=image.width,
            height=image.height,
            resized_image_uri=uris.resized_image_uri,
            thumbnail_uri=uris.thumbnail_uri,
            original_image_uri=uris.original_image_uri,
            domain=domain,
        )


class SuggestedTagAndRegionQueryToken(CamelModel):
    tag_ids: list[str] | None = None
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    session: str | None = None
    continuation: str | None = None
    max_count: int | None = Field(default=None, ge=0, le=256)
    sort_by: str | None = Field(default=None, pattern="^(UncertaintyAscending|UncertaintyDescending)$")


class SuggestedTagAndRegionQuery(CamelModel):
    token: SuggestedTagAndRegionQueryToken
    results: list[StoredSuggestedTagAndRegion]


class TagFilter(CamelModel):
    tag_ids: list[str] | None = None
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)


class TagProbability(CamelModel):
    """Custom Vision's Prediction in stored predictions and image performances (no Sightline extras there)."""

    probability: float
    tag_id: str | None
    tag_name: str

    @classmethod
    def ranked(cls, predictions: list[dict[str, Any]]) -> list[TagProbability]:
        ordered = sorted(predictions, key=lambda p: p["probability"], reverse=True)
        return [cls(probability=p["probability"], tag_id=p.get("tag_id"), tag_name=p["tag_name"]) for p in ordered]


class StoredImagePrediction(CamelModel):
    resized_image_uri: str | None = None
    thumbnail_uri: str | None = None
    original_image_uri: str | None = None
    domain: str | None = None
    id: str
    project: str
    iteration: str | None
    created: datetime
    predictions: list[TagProbability]

    @classmethod
    def of(cls, view: PredictionView, domain: str | None, links: Links) -> StoredImagePrediction:
        return cls(
            resized_image_uri=links.prediction(view.project_id, view.id, "resized"),
            thumbnail_uri=links.prediction(view.project_id, view.id, "thumbnail"),
            original_image_uri=links.prediction(view.project_id, view.id, "original"),
            domain=domain,
            id=view.id,
            project=view.project_id,
            iteration=view.iteration_id,
            created=view.created,
            predictions=TagProbability.ranked(view.predictions),
        )


class PredictionQueryTag(CamelModel):
    id: str
    min_threshold: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    max_threshold: Annotated[float, Field(ge=0.0, le=1.0)] | None = None

    @model_validator(mode="after")
    def _range_not_empty(self) -> PredictionQueryTag:
        low, high = self.min_threshold, self.max_threshold
        if low is not None and high is not None and low > high:
            raise ValueError(f"minThreshold {low} is above maxThreshold {high}: no prediction could match")
        return self


class PredictionQueryToken(CamelModel):
    """QueryPredictions' body, and the token to send back for the next page (`continuation` is opaque)."""

    session: str | None = None
    continuation: str | None = None
    max_count: int | None = None
    order_by: str | None = None
    tags: list[PredictionQueryTag] | None = None
    iteration_id: str | None = None
    start_time: UtcDatetime | None = None
    end_time: UtcDatetime | None = None
    application: str | None = None


class PredictionQueryResult(CamelModel):
    token: PredictionQueryToken
    results: list[StoredImagePrediction]


class ImagePerformance(CamelModel):
    predictions: list[TagProbability]
    id: str
    created: datetime
    width: int
    height: int
    image_uri: str | None = None
    thumbnail_uri: str | None = None
    tags: list[ImageTag] | None = None
    regions: list[dict[str, Any]] | None = None

    @classmethod
    def of(cls, view: ImagePerformanceView, project_id: str, links: Links) -> ImagePerformance:
        image = view.image
        return cls(
            predictions=TagProbability.ranked(view.predictions),
            id=image.id,
            created=image.created,
            width=image.width,
            height=image.height,
            image_uri=links.image(project_id, image.id, "resized"),
            thumbnail_uri=links.image(project_id, image.id, "thumbnail"),
            tags=[ImageTag.of(t) for t in view.trained_tags] or None,
        )


# --- exports ------------------------------------------------------------------------------------


class Export(CamelModel):
    platform: str
    status: str
    download_uri: str | None
    flavor: str | None = None
    newer_version_available: bool = False
