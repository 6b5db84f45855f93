"""Predictions, stored predictions and their queries, suggested tags."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, model_validator
from pydantic.alias_generators import to_camel

from sightline.service.views import (
    ImagePerformanceView,
    ImageView,
    PredictionView,
    ScoredTag,
)

if TYPE_CHECKING:
    from sightline.api.links import Links
from sightline.api.schemas.common import CamelModel, UtcDatetime
from sightline.api.schemas.images import Image, ImageTag

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
        ranked = sorted(view.predictions, key=lambda p: p.probability, reverse=True)
        return cls(
            id=view.id,
            project=view.project_id,
            iteration=view.iteration_id,
            created=view.created,
            predictions=[
                Prediction(
                    probability=p.probability,
                    tag_id=p.tag_id,
                    tag_name=p.tag_name,
                    above_threshold=p.above_threshold,
                    threshold=p.threshold,
                )
                for p in ranked
            ],
            threshold=view.threshold,
            uncertain=view.uncertain,
            reasons=[{to_camel(k): v for k, v in r.to_dict().items()} for r in view.reasons],
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
    def ranked(cls, predictions: Sequence[ScoredTag]) -> list[TagProbability]:
        ordered = sorted(predictions, key=lambda p: p.probability, reverse=True)
        return [cls(probability=p.probability, tag_id=p.tag_id, tag_name=p.tag_name) for p in ordered]


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
