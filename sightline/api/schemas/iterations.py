"""Iterations, training parameters and performance."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from sightline.codes import IterationStatus
from sightline.http.domains import domain_id
from sightline.service.iterations import EXPORT_PLATFORMS
from sightline.service.report import StoredReport
from sightline.service.views import (
    IterationView,
)

if TYPE_CHECKING:
    pass
from sightline.api.schemas.common import CamelModel

# --- iterations ---------------------------------------------------------------------------------


def azure_status(status: str) -> str:
    """Azure reports an iteration as Training from the moment TrainProject answers; Sightline's queue is internal
    (quickstarts poll `while status == "Training"` and would stop at once on "Queued")."""
    return IterationStatus.TRAINING if status == IterationStatus.QUEUED else status


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
        exports = list(EXPORT_PLATFORMS) if view.status == IterationStatus.COMPLETED else []  # a trained model exports
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
        cls, report: StoredReport, tag_ids: dict[str, str], held_out: StoredReport | None = None
    ) -> IterationPerformance:
        return cls(
            **_figures(report, tag_ids),
            image_count=report.n_images,
            independent_group_count=report.n_groups,
            grouped_image_count=report.n_grouped_images,
            fold_count=report.n_folds,
            held_out=None
            if held_out is None or not held_out.n_images
            else HeldOutPerformance(image_count=held_out.n_images, **_figures(held_out, tag_ids)),
        )


def _figures(report: StoredReport, tag_ids: dict[str, str]) -> dict[str, Any]:
    """The figures cross-validated and held-out performance share, in Azure's names. Azure's fields are
    numbers, never null: an undefined or unknown figure is 0.0, as Azure reports a tag never predicted."""
    return {
        "per_tag_performance": _per_tag(report, tag_ids),
        "precision": report.precision or 0.0,
        "precision_std_deviation": report.precision_std or 0.0,
        "recall": report.recall or 0.0,
        "recall_std_deviation": report.recall_std or 0.0,
        "average_precision": report.mean_average_precision or 0.0,
        "accuracy": report.accuracy,
        "accuracy_std_deviation": report.accuracy_std,
    }


def _per_tag(report: StoredReport, tag_ids: dict[str, str]) -> list[TagPerformance]:
    return [
        TagPerformance(
            id=tag_ids.get(entry.tag),
            name=entry.tag,
            precision=entry.precision or 0.0,
            precision_std_deviation=entry.precision_std or 0.0,
            recall=entry.recall or 0.0,
            recall_std_deviation=entry.recall_std or 0.0,
            average_precision=entry.average_precision or 0.0,
        )
        for entry in report.per_tag
    ]
