"""Training, iterations, their performance, and publishing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from sightline.api.context import WS, IterationId, ProjectId, id_list
from sightline.api.errors import ApiError
from sightline.api.links import SignedLinks
from sightline.api.schemas import ImagePerformance, Iteration, IterationPerformance, IterationUpdate, TrainingParameters
from sightline.api.training.params import Skip, TagIds, Take
from sightline.codes import ErrorCode
from sightline.service import iterations, performance, tags, training

router = APIRouter()


# --- training and iterations --------------------------------------------------------------------


@router.post("/projects/{projectId}/train", tags=["Training"])
def train_project(
    ws: WS,
    project_id: ProjectId,
    training_type: Annotated[str | None, Query(alias="trainingType", pattern="^(Regular|Advanced)$")] = None,
    reserved_budget_in_hours: Annotated[int, Query(alias="reservedBudgetInHours", ge=0)] = 0,
    force_train: Annotated[bool, Query(alias="forceTrain")] = False,
    notification_email_address: Annotated[str | None, Query(alias="notificationEmailAddress")] = None,
    parameters: Annotated[TrainingParameters | None, Body()] = None,
) -> Iteration:
    """Queue training; the answer is immediate (status Training, as on Azure): poll until it is Completed.

    `selectedTags` (body) trains on those tags only, ignoring the others. `trainingType=Advanced` needs a
    `reservedBudgetInHours` of 1 or more (the fine-tuning's time budget), and fine-tunes the backbone
    (EfficientNet-Lite projects only; others are refused) before training the head as Regular does.
    `notificationEmailAddress` is checked and recorded, but no e-mail is sent:
    poll the iteration. `customBaseModelInfo` is refused: heads are retrained from embeddings each time.
    """
    parameters = parameters or TrainingParameters()
    if parameters.custom_base_model_info is not None:
        raise ApiError(
            400,
            ErrorCode.BadRequestNotSupported,
            "customBaseModelInfo is not supported: Sightline retrains each iteration's head from the backbone's "
            "embeddings, so there is no base model to continue from; train without it",
        )
    options = training.TrainingOptions(
        selected_tags=tuple(parameters.selected_tags) if parameters.selected_tags is not None else None,
        training_type=training_type or "Regular",
        reserved_budget_in_hours=reserved_budget_in_hours,
        notification_email_address=notification_email_address,
    )
    return Iteration.of(training.start_training(ws, project_id, force=force_train, options=options))


@router.get("/projects/{projectId}/iterations", tags=["Iterations"])
def get_iterations(ws: WS, project_id: ProjectId) -> list[Iteration]:
    return [Iteration.of(i) for i in iterations.list_iterations(ws, project_id)]


@router.get("/projects/{projectId}/iterations/{iterationId}", tags=["Iterations"])
def get_iteration(ws: WS, project_id: ProjectId, iteration_id: IterationId) -> Iteration:
    return Iteration.of(iterations.get_iteration(ws, project_id, iteration_id))


@router.patch("/projects/{projectId}/iterations/{iterationId}", tags=["Iterations"])
def update_iteration(ws: WS, project_id: ProjectId, iteration_id: IterationId, body: IterationUpdate) -> Iteration:
    return Iteration.of(iterations.rename_iteration(ws, project_id, iteration_id, body.name or ""))


@router.delete("/projects/{projectId}/iterations/{iterationId}", status_code=204, tags=["Iterations"])
def delete_iteration(ws: WS, project_id: ProjectId, iteration_id: IterationId) -> None:
    iterations.delete_iteration(ws, project_id, iteration_id)


@router.get("/projects/{projectId}/iterations/{iterationId}/performance", tags=["Iterations"])
def get_iteration_performance(
    ws: WS,
    project_id: ProjectId,
    iteration_id: IterationId,
    threshold: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    overlap_threshold: Annotated[float | None, Query(alias="overlapThreshold")] = None,
) -> IterationPerformance:
    """Out-of-fold precision and recall at `threshold` (default: the project's), and average precision;
    Sightline adds the figures on the project's test set (`heldOut`) when it has one."""
    _view, report = performance.trained_report(ws, project_id, iteration_id, threshold=threshold)
    held_out = performance.test_set_report(ws, project_id, iteration_id, threshold=threshold)
    tag_ids = {t.name: t.id for t in tags.list_tags(ws, project_id)}
    return IterationPerformance.of(report, tag_ids, held_out)


@router.get("/projects/{projectId}/iterations/{iterationId}/performance/images", tags=["Iterations"])
def get_image_performances(
    ws: WS,
    links: SignedLinks,
    project_id: ProjectId,
    iteration_id: IterationId,
    tag_ids: TagIds = None,
    order_by: Annotated[str | None, Query(alias="orderBy", pattern="^(Newest|Oldest)$")] = None,
    take: Take = 50,
    skip: Skip = 0,
) -> list[ImagePerformance]:
    """The iteration's training images with their out-of-fold probabilities (each predicted by a model
    that did not train on it), those carrying any of `tagIds` when trained."""
    views = performance.image_performances(
        ws, project_id, iteration_id, tag_ids=id_list(tag_ids), newest_first=order_by != "Oldest", take=take, skip=skip
    )
    return [ImagePerformance.of(view, project_id, links) for view in views]


@router.get("/projects/{projectId}/iterations/{iterationId}/performance/images/count", tags=["Iterations"])
def get_image_performance_count(
    ws: WS, project_id: ProjectId, iteration_id: IterationId, tag_ids: TagIds = None
) -> int:
    return performance.count_image_performances(ws, project_id, iteration_id, tag_ids=id_list(tag_ids))


@router.post("/projects/{projectId}/iterations/{iterationId}/publish", tags=["Iterations"])
def publish_iteration(
    ws: WS,
    project_id: ProjectId,
    iteration_id: IterationId,
    publish_name: Annotated[str, Query(alias="publishName")],
    prediction_id: Annotated[str | None, Query(alias="predictionId")] = None,
    overwrite: bool = False,
) -> bool:
    """Serve the iteration under `publishName` on this server's prediction routes (`predictionId` is not needed)."""
    iterations.publish_iteration(ws, project_id, iteration_id, publish_name, overwrite=overwrite)
    return True


@router.delete("/projects/{projectId}/iterations/{iterationId}/publish", status_code=204, tags=["Iterations"])
def unpublish_iteration(ws: WS, project_id: ProjectId, iteration_id: IterationId) -> None:
    iterations.unpublish_iteration(ws, project_id, iteration_id)
