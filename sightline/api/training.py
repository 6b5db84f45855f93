"""Custom Vision's Training API (v3.3, and v3.4-preview which the Python SDK 3.1 calls), classification part.

Each route translates between HTTP (camelCase JSON, query strings, status codes) and one call of
the service layer; the rules live there. Routes that read a request body themselves, or fetch URLs,
are async and hand the service call to a worker thread; the rest are plain functions, which FastAPI
runs in its thread pool.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from sightline.api.batching import Target
from sightline.api.bodies import IMAGE_BODY_OPENAPI, check_batch_size, images_from_body, one_image_from_body
from sightline.api.context import WS, AppDomains, Batcher, Fetching, IterationId, ProjectId, TagId, id_list
from sightline.api.domains import domain_id
from sightline.api.errors import ApiError
from sightline.api.fetch import fetch_all, fetch_image
from sightline.api.keys import require_training_key
from sightline.api.links import SignedLinks
from sightline.api.models import (
    Domain,
    Export,
    Image,
    ImageCreateSummary,
    ImageFileCreateBatch,
    ImageIdCreateBatch,
    ImageMetadataUpdateSummary,
    ImagePerformance,
    ImagePrediction,
    ImageTagCreateBatch,
    ImageTagCreateEntry,
    ImageTagCreateSummary,
    ImageUrl,
    ImageUrlCreateBatch,
    Iteration,
    IterationPerformance,
    IterationUpdate,
    PredictionQueryResult,
    PredictionQueryToken,
    Project,
    ProjectExport,
    ProjectSettings,
    ProjectUpdate,
    StoredSuggestedTagAndRegion,
    SuggestedTagAndRegion,
    SuggestedTagAndRegionQuery,
    SuggestedTagAndRegionQueryToken,
    Tag,
    TagFilter,
    TagUpdate,
    TrainingParameters,
)
from sightline.api.prediction import classify
from sightline.api.prediction_query import query_predictions as run_prediction_query
from sightline.errors import ImageError, NotFoundError
from sightline.service import (
    Workspace,
    copying,
    images,
    iterations,
    performance,
    predictions,
    projects,
    snapshot,
    tags,
    training,
)
from sightline.service.images import NewImage
from sightline.service.views import ImageAddResult

router = APIRouter(dependencies=[Depends(require_training_key)])

TagIds = Annotated[str | None, Query(alias="tagIds", description="Comma-separated tag ids.")]
ImageIds = Annotated[str | None, Query(alias="imageIds", description="Comma-separated image ids.")]
TaggingStatus = Annotated[str | None, Query(alias="taggingStatus", pattern="^(All|Tagged|Untagged)$")]
OrderBy = Annotated[str | None, Query(alias="orderBy", pattern="^(Newest|Oldest|Suggested)$")]
Take = Annotated[int, Query(ge=0, le=256)]
#: Beyond this the databases cannot hold the number (a 500 once); no project has this many images anyway.
MAX_SKIP = 2**31 - 1
Skip = Annotated[int, Query(ge=0, le=MAX_SKIP)]
MetadataFilter = Annotated[
    str | None,
    Query(
        alias="$filter",
        description="Keep the images whose metadata match, e.g. `key1 eq 'value1' and key2 ne 'value2'`: "
        "eq, ne, and (binds tighter), or; values in single quotes ('' for a quote); no parentheses. "
        "An image without the key matches `ne`.",
    ),
]
AsOfIteration = Annotated[
    str | None,
    Query(
        alias="iterationId",
        description="A trained iteration: list what it trained on (its tags as named then, with its image counts; "
        "its training images still in the project, with the tags they had then). Defaults to the workspace.",
    ),
]

_TAGGED = {None: None, "All": None, "Tagged": True, "Untagged": False}


# --- domains ------------------------------------------------------------------------------------


@router.get("/domains", tags=["Domains"])
def get_domains(domains: AppDomains) -> list[Domain]:
    """Azure's Classification domains (each mapped to a backbone), then each backbone this server offers."""
    return [Domain.of(entry) for entry in domains.entries()]


@router.get("/domains/{domainId}", tags=["Domains"])
def get_domain(domains: AppDomains, requested: Annotated[str, Path(alias="domainId")]) -> Domain:
    return Domain.of(domains.entry(requested))


# --- projects -----------------------------------------------------------------------------------


@router.get("/projects", tags=["Projects"])
def get_projects(ws: WS) -> list[Project]:
    return [Project.of(p) for p in projects.list_projects(ws)]


@router.post("/projects", tags=["Projects"])
def create_project(
    ws: WS,
    domains: AppDomains,
    name: str,
    description: str = "",
    domain: Annotated[str | None, Query(alias="domainId")] = None,
    classification_type: Annotated[str, Query(alias="classificationType")] = "Multiclass",
    target_export_platforms: Annotated[str | None, Query(alias="targetExportPlatforms")] = None,
) -> Project:
    """Create a project. `domainId` picks the backbone (GET /domains); every trained iteration exports to
    ONNX (see `export_iteration`), the only `targetExportPlatforms` accepted (kept and echoed)."""
    platforms = id_list(target_export_platforms)
    for platform in platforms:
        iterations.check_export_platform(platform)
    view = projects.create_project(
        ws,
        name,
        description=description,
        classification_type=classification_type,
        domain=domains.backbone_for(domain),
        settings=ProjectSettings(target_export_platforms=platforms or None).kept(),
    )
    return Project.of(view)


@router.post("/projects/import", tags=["Projects"])
def import_project(ws: WS, token: str, name: str | None = None) -> Project:
    """Copy an exported project (`token` from ExportProject on this server) under `name` (default: its name
    with " (import)"): settings, tags, images with their tags and metadata; not its iterations."""
    try:
        source = projects.get_project(ws, token)
    except NotFoundError:
        raise ApiError(400, "BadRequestInvalidImportToken", "the token names no exported project here") from None
    return Project.of(copying.copy_project(ws, source.id, name or f"{source.name} (import)"))


@router.get("/projects/{projectId}/export", tags=["Projects"])
def export_project(ws: WS, project_id: ProjectId) -> ProjectExport:
    """What ImportProject on this server would copy; the token is valid here only (the project's id)."""
    view = copying.describe_export(ws, project_id)
    return ProjectExport(
        iteration_count=view.iteration_count, image_count=view.image_count, tag_count=view.tag_count,
        token=view.project_id,
    )  # fmt: skip


@router.get("/projects/{projectId}", tags=["Projects"])
def get_project(ws: WS, project_id: ProjectId) -> Project:
    return Project.of(projects.get_project(ws, project_id))


@router.patch("/projects/{projectId}", tags=["Projects"])
def update_project(ws: WS, domains: AppDomains, project_id: ProjectId, body: ProjectUpdate) -> Project:
    """Rename, describe, or change the classification type or domain (used from the next training on).

    Clients send the whole project back, so an unchanged domainId is no change, even for a project
    whose backbone this server does not offer (one made with the CLI, say).
    """
    settings = body.settings or ProjectSettings()
    for platform in settings.target_export_platforms or ():
        iterations.check_export_platform(platform)
    changed_domain = settings.domain_id and settings.domain_id != domain_id(projects.get_project(ws, project_id).domain)
    view = projects.update_project(
        ws,
        project_id,
        name=body.name,
        description=body.description,
        classification_type=settings.classification_type,
        domain=domains.backbone_for(settings.domain_id) if changed_domain else None,
        settings=settings.kept(),
    )
    return Project.of(view)


@router.delete("/projects/{projectId}", status_code=204, tags=["Projects"])
def delete_project(ws: WS, project_id: ProjectId) -> None:
    projects.delete_project(ws, project_id)


# --- tags ---------------------------------------------------------------------------------------


@router.get("/projects/{projectId}/tags", tags=["Tags"])
def get_tags(ws: WS, project_id: ProjectId, iteration_id: AsOfIteration = None) -> list[Tag]:
    """The project's tags with their image counts, or those an iteration trained on (`iterationId`)."""
    return [Tag.of(t) for t in snapshot.list_tags(ws, project_id, iteration_id)]


@router.post("/projects/{projectId}/tags", tags=["Tags"])
def create_tag(ws: WS, project_id: ProjectId, name: str, description: str = "", type: str = "Regular") -> Tag:
    return Tag.of(tags.create_tag(ws, project_id, name, description=description, type=type))


@router.get("/projects/{projectId}/tags/{tagId}", tags=["Tags"])
def get_tag(ws: WS, project_id: ProjectId, tag_id: TagId, iteration_id: AsOfIteration = None) -> Tag:
    return Tag.of(snapshot.get_tag(ws, project_id, iteration_id, tag_id))


@router.patch("/projects/{projectId}/tags/{tagId}", tags=["Tags"])
def update_tag(ws: WS, project_id: ProjectId, tag_id: TagId, body: TagUpdate) -> Tag:
    view = tags.update_tag(ws, project_id, tag_id, name=body.name, description=body.description, type=body.type)
    return Tag.of(view)


@router.delete("/projects/{projectId}/tags/{tagId}", status_code=204, tags=["Tags"])
def delete_tag(ws: WS, project_id: ProjectId, tag_id: TagId) -> None:
    tags.delete_tag(ws, project_id, tag_id)


# --- images: listing and counting ---------------------------------------------------------------


def _list(
    ws: Workspace,
    links: SignedLinks,
    project_id: str,
    iteration_id: str | None,
    tagged: bool | None,
    tag_ids: str | None,
    order: str | None,
    take: int,
    skip: int,
    metadata_filter: str | None = None,
) -> list[Image]:
    """The workspace's images, or (with `iteration_id`) those that iteration trained on."""
    rows = snapshot.list_images(
        ws,
        project_id,
        iteration_id,
        tagged=tagged,
        tag_ids=id_list(tag_ids),
        take=take,
        skip=skip,
        newest_first=order != "Oldest",
        metadata_filter=metadata_filter,
    )
    return [Image.of(view, project_id, links) for view in rows]


def _count(
    ws: Workspace,
    project_id: str,
    iteration_id: str | None,
    tagged: bool | None,
    tag_ids: str | None,
    metadata_filter: str | None = None,
) -> int:
    ids = id_list(tag_ids)
    return snapshot.count_images(
        ws, project_id, iteration_id, tagged=tagged, tag_ids=ids, metadata_filter=metadata_filter
    )


@router.get("/projects/{projectId}/images", tags=["Images"])
def get_images(
    ws: WS,
    links: SignedLinks,
    project_id: ProjectId,
    iteration_id: AsOfIteration = None,
    tag_ids: TagIds = None,
    tagging_status: TaggingStatus = None,
    metadata_filter: MetadataFilter = None,
    order_by: OrderBy = None,
    take: Take = 50,
    skip: Skip = 0,
) -> list[Image]:
    tagged = _TAGGED[tagging_status]
    return _list(ws, links, project_id, iteration_id, tagged, tag_ids, order_by, take, skip, metadata_filter)


@router.get("/projects/{projectId}/images/count", tags=["Images"])
def get_image_count(
    ws: WS,
    project_id: ProjectId,
    iteration_id: AsOfIteration = None,
    tagging_status: TaggingStatus = None,
    metadata_filter: MetadataFilter = None,
    tag_ids: TagIds = None,
) -> int:
    return _count(ws, project_id, iteration_id, _TAGGED[tagging_status], tag_ids, metadata_filter)


@router.get("/projects/{projectId}/images/tagged", tags=["Images"])
def get_tagged_images(
    ws: WS,
    links: SignedLinks,
    project_id: ProjectId,
    iteration_id: AsOfIteration = None,
    tag_ids: TagIds = None,
    order_by: OrderBy = None,
    take: Take = 50,
    skip: Skip = 0,
) -> list[Image]:
    return _list(ws, links, project_id, iteration_id, True, tag_ids, order_by, take, skip)


@router.get("/projects/{projectId}/images/tagged/count", tags=["Images"])
def get_tagged_image_count(
    ws: WS, project_id: ProjectId, iteration_id: AsOfIteration = None, tag_ids: TagIds = None
) -> int:
    return _count(ws, project_id, iteration_id, True, tag_ids)


@router.get("/projects/{projectId}/images/untagged", tags=["Images"])
def get_untagged_images(
    ws: WS,
    links: SignedLinks,
    project_id: ProjectId,
    iteration_id: AsOfIteration = None,
    order_by: OrderBy = None,
    take: Take = 50,
    skip: Skip = 0,
) -> list[Image]:
    """Images without tags; as of an iteration there are none (training uses tagged images only)."""
    return _list(ws, links, project_id, iteration_id, False, None, order_by, take, skip)


@router.get("/projects/{projectId}/images/untagged/count", tags=["Images"])
def get_untagged_image_count(ws: WS, project_id: ProjectId, iteration_id: AsOfIteration = None) -> int:
    return _count(ws, project_id, iteration_id, False, None)


@router.get("/projects/{projectId}/images/id", tags=["Images"])
def get_images_by_ids(
    ws: WS, links: SignedLinks, project_id: ProjectId, image_ids: ImageIds = None, iteration_id: AsOfIteration = None
) -> list[Image]:
    views = snapshot.get_images(ws, project_id, iteration_id, id_list(image_ids))
    return [Image.of(view, project_id, links) for view in views]


@router.delete("/projects/{projectId}/images", status_code=204, tags=["Images"])
def delete_images(
    ws: WS,
    project_id: ProjectId,
    image_ids: ImageIds = None,
    all_images: Annotated[bool, Query(alias="allImages")] = False,
    all_iterations: Annotated[bool, Query(alias="allIterations")] = False,
) -> None:
    """Delete images by id, or all of them (`allIterations` is accepted: iterations keep their own models)."""
    images.delete_images(ws, project_id, id_list(image_ids), all_images=all_images)


# --- images: uploads ----------------------------------------------------------------------------


def _summary(
    response: Response, results: list[ImageAddResult], project_id: str, links: SignedLinks
) -> ImageCreateSummary:
    """200 when every image was added, 207 Multi-Status otherwise (the per-image statuses say why)."""
    summary = ImageCreateSummary.of(results, project_id, links)
    response.status_code = 200 if summary.is_batch_successful else 207
    return summary


@router.post(
    "/projects/{projectId}/images",
    tags=["Images"],
    responses={207: {"model": ImageCreateSummary}},
    openapi_extra=IMAGE_BODY_OPENAPI,
)
async def create_images_from_data(
    request: Request, response: Response, ws: WS, links: SignedLinks, project_id: ProjectId, tag_ids: TagIds = None
) -> ImageCreateSummary:
    """Upload images as raw bytes (one) or multipart/form-data (up to 64), each tagged with `tagIds`."""
    batch = await images_from_body(request)
    results = await run_in_threadpool(images.add_images, ws, project_id, batch, tags=id_list(tag_ids))
    return _summary(response, results, project_id, links)


@router.post("/projects/{projectId}/images/files", tags=["Images"], responses={207: {"model": ImageCreateSummary}})
def create_images_from_files(
    ws: WS, links: SignedLinks, response: Response, project_id: ProjectId, batch: ImageFileCreateBatch
) -> ImageCreateSummary:
    """Upload up to 64 images sent as base64 in JSON, with per-image and batch-wide tags."""
    check_batch_size(len(batch.images))
    new = [NewImage(e.contents, name=e.name, tags=e.tag_ids or (), metadata=batch.metadata or {}) for e in batch.images]
    return _summary(response, images.add_images(ws, project_id, new, tags=batch.tag_ids or ()), project_id, links)


@router.post("/projects/{projectId}/images/urls", tags=["Images"], responses={207: {"model": ImageCreateSummary}})
async def create_images_from_urls(
    ws: WS, links: SignedLinks, policy: Fetching, response: Response, project_id: ProjectId, batch: ImageUrlCreateBatch
) -> ImageCreateSummary:
    """Upload up to 64 images by URL; a URL that cannot be fetched gets status ErrorSource (or ErrorImageSize)."""
    check_batch_size(len(batch.images))
    fetched = await fetch_all([entry.url for entry in batch.images], policy)
    new = [
        NewImage(data, name=entry.url, tags=entry.tag_ids or (), metadata=batch.metadata or {})
        for entry, data in zip(batch.images, fetched, strict=True)
        if isinstance(data, bytes)
    ]
    added = iter(await run_in_threadpool(images.add_images, ws, project_id, new, tags=batch.tag_ids or ()))
    results = [
        next(added) if isinstance(data, bytes) else _fetch_failure(entry.url, data)
        for entry, data in zip(batch.images, fetched, strict=True)
    ]
    return _summary(response, results, project_id, links)


@router.post(
    "/projects/{projectId}/images/predictions", tags=["Images"], responses={207: {"model": ImageCreateSummary}}
)
def create_images_from_predictions(
    ws: WS, links: SignedLinks, response: Response, project_id: ProjectId, batch: ImageIdCreateBatch
) -> ImageCreateSummary:
    """Add up to 64 stored predictions' images (by prediction id) to the project, with per-image and batch tags.

    A prediction without a stored image (made with `store=false`, or deleted) gets status ErrorSource."""
    check_batch_size(len(batch.images))
    if any(entry.regions for entry in batch.images):
        raise ApiError(
            400, "BadRequestImageRegions", "regions are object detection's: Sightline does image classification only"
        )
    entries = [(entry.id, entry.tag_ids or ()) for entry in batch.images]
    results = predictions.add_images_from_predictions(
        ws, project_id, entries, tags=batch.tag_ids or (), metadata=batch.metadata
    )
    return _summary(response, results, project_id, links)


def _fetch_failure(url: str, error: ImageError) -> ImageAddResult:
    return ImageAddResult(url, "ErrorImageSize" if error.reason == "too_large" else "ErrorSource", message=str(error))


@router.post("/projects/{projectId}/images/tags", tags=["Images"])
def create_image_tags(ws: WS, project_id: ProjectId, batch: ImageTagCreateBatch) -> ImageTagCreateSummary:
    """Tag images. A pair over the tags-per-image limit is listed in `exceeded` (the rest go on); any other
    pair against the project's rules (or naming no such image or tag) fails the whole request."""
    pairs = [(entry.image_id, entry.tag_id) for entry in batch.tags]
    added, already, exceeded = images.tag_images_by_outcome(ws, project_id, pairs, list_exceeded=True)
    return ImageTagCreateSummary(
        created=[ImageTagCreateEntry(image_id=i, tag_id=t) for i, t in added],
        duplicated=[ImageTagCreateEntry(image_id=i, tag_id=t) for i, t in already],
        exceeded=[ImageTagCreateEntry(image_id=i, tag_id=t) for i, t in exceeded],
    )


@router.post(
    "/projects/{projectId}/images/metadata", tags=["Images"], responses={207: {"model": ImageMetadataUpdateSummary}}
)
def update_image_metadata(
    ws: WS,
    response: Response,
    project_id: ProjectId,
    metadata: Annotated[dict[str, str], Body()],
    image_ids: ImageIds = None,
) -> ImageMetadataUpdateSummary:
    """Add or replace key/value metadata on up to 64 images (keys up to 128 characters, values up to 256).

    207 when some image was not updated: its status says why (ErrorImageNotFound, ErrorLimitExceed).
    """
    summary = ImageMetadataUpdateSummary.of(images.update_metadata(ws, project_id, id_list(image_ids), metadata))
    response.status_code = 200 if summary.is_batch_successful else 207
    return summary


@router.delete("/projects/{projectId}/images/tags", status_code=204, tags=["Images"])
def delete_image_tags(ws: WS, project_id: ProjectId, image_ids: ImageIds = None, tag_ids: TagIds = None) -> None:
    images.untag_images(ws, project_id, [(i, t) for i in id_list(image_ids) for t in id_list(tag_ids)])


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
            "BadRequestNotSupported",
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


# --- export -------------------------------------------------------------------------------------


def _onnx_export(links: SignedLinks, project_id: str, iteration_id: str, flavor: str | None = None) -> Export:
    download = links.export(project_id, iteration_id, "ONNX")
    return Export(platform="ONNX", status="Done", download_uri=download, flavor=flavor)


@router.get("/projects/{projectId}/iterations/{iterationId}/export", tags=["Iterations"])
def get_exports(ws: WS, links: SignedLinks, project_id: ProjectId, iteration_id: IterationId) -> list[Export]:
    """The iteration's exports: ONNX, Done, once ExportIteration built it (or its download was fetched);
    none before."""
    exported = iterations.is_exported(ws, project_id, iteration_id)
    return [_onnx_export(links, project_id, iteration_id)] if exported else []


@router.post("/projects/{projectId}/iterations/{iterationId}/export", tags=["Iterations"])
def export_iteration(
    ws: WS,
    links: SignedLinks,
    project_id: ProjectId,
    iteration_id: IterationId,
    platform: Annotated[str, Query()],
    flavor: str | None = None,
) -> Export:
    """Export a trained iteration to ONNX (the only platform; others answer 400), as Azure's ONNX export does.

    The download (`downloadUri`, signed, no key needed) is a zip of `model.onnx` (the backbone's image graph
    with the trained head and its calibration: preprocessed pixels in, calibrated `probabilities` out, the
    same as Sightline's own), `labels.txt` (the output columns' tags) and `sightline.json` (the preprocessing
    to apply: size, resize mode, mean/std, channel order, layout). The unknown score is not in the graph.
    Flavors ONNX10 and ONNX12 are accepted and give the same graph (sightline.json names its opset).
    """
    iterations.export_iteration(ws, project_id, iteration_id, platform, flavor)
    return _onnx_export(links, project_id, iteration_id, flavor)


@router.get(
    "/projects/{projectId}/artifacts",
    response_class=Response,
    tags=["Iterations"],
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The artifact's bytes."}},
)
def get_artifact(ws: WS, project_id: ProjectId, path: Annotated[str, Query()]) -> Response:
    """An artifact stored for the project, by its relative path (GetArtifact), as bytes.

    Sightline's artifacts are its exports: `i-{iterationId}/ONNX` is the zip that ExportIteration built,
    `i-{iterationId}/ONNX/model.onnx`, `.../labels.txt` and `.../sightline.json` the files in it. A path
    that names nothing stored (no export yet, another platform, an unknown file) answers 404 `NotFound`.
    """
    name, data = iterations.artifact(ws, project_id, path)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    headers = {"Content-Disposition": f'attachment; filename="{safe}"'}
    return Response(data, media_type="application/octet-stream", headers=headers)


# --- quick test and stored predictions ----------------------------------------------------------

QuickTestIteration = Annotated[str | None, Query(alias="iterationId", description="Default: the latest iteration.")]


@router.post("/projects/{projectId}/quicktest/image", tags=["Predictions"], openapi_extra=IMAGE_BODY_OPENAPI)
async def quick_test_image(
    request: Request,
    batcher: Batcher,
    project_id: ProjectId,
    iteration_id: QuickTestIteration = None,
    store: bool = True,
) -> ImagePrediction:
    """Classify an image with any trained iteration (default: the latest), published or not."""
    data = await one_image_from_body(request)
    return await classify(batcher, Target(project_id, iteration_id=iteration_id, store=store), data)


@router.post("/projects/{projectId}/quicktest/url", tags=["Predictions"])
async def quick_test_image_url(
    batcher: Batcher,
    policy: Fetching,
    project_id: ProjectId,
    image_url: Annotated[ImageUrl, Body()],
    iteration_id: QuickTestIteration = None,
    store: bool = True,
) -> ImagePrediction:
    data = await fetch_image(image_url.url, policy)
    return await classify(batcher, Target(project_id, iteration_id=iteration_id, store=store), data)


@router.post("/projects/{projectId}/predictions/query", tags=["Predictions"])
def query_predictions(
    ws: WS, links: SignedLinks, project_id: ProjectId, token: PredictionQueryToken
) -> PredictionQueryResult:
    """Stored predictions, filtered (iteration, time, tag probability ranges) and ordered Newest, Oldest or
    Suspected (those a person should look at first); send the answer's token back for the next page."""
    return run_prediction_query(ws, links, project_id, token)


@router.post("/projects/{projectId}/tagsandregions/suggestions", tags=["Suggestions"])
def suggest_tags_and_regions(
    ws: WS,
    project_id: ProjectId,
    iteration_id: Annotated[str, Query(alias="iterationId")],
    image_ids: Annotated[str, Query(alias="imageIds", description="Comma-separated image ids, at most 64.")],
) -> list[SuggestedTagAndRegion]:
    """Suggested tags for up to 64 of the project's images (the Smart Labeler), from the trained iteration's
    calibrated predictions; classification only, so no regions. Nothing is stored."""
    ids = id_list(image_ids)
    check_batch_size(len(ids))
    suggested = []
    for image_id, result in predictions.suggest_tags(ws, project_id, iteration_id, ids):
        if isinstance(result, ImageError):
            raise ApiError(400, result.code, f"image {image_id}: {result}")
        suggested.append(SuggestedTagAndRegion.of(image_id, result))
    return suggested


def _suggested(ws: Workspace, project_id: str, iteration_id: str, tag_ids: list[str] | None, threshold: float):
    """Untagged images with the iteration's predictions, and the tag ids each is suggested for (>= threshold)."""
    wanted = set(tag_ids) if tag_ids else None
    rows = []
    for image, view in predictions.suggest_for_untagged(ws, project_id, iteration_id):
        hits = {p["tag_id"] for p in view.predictions if p["probability"] >= threshold and p["tag_id"]}
        rows.append((image, view, hits if wanted is None else hits & wanted))
    return rows


@router.post("/projects/{projectId}/images/suggested", tags=["Suggestions"])
def query_suggested_images(
    ws: WS,
    links: SignedLinks,
    project_id: ProjectId,
    iteration_id: Annotated[str, Query(alias="iterationId")],
    token: SuggestedTagAndRegionQueryToken,
) -> SuggestedTagAndRegionQuery:
    """Untagged images suggested for any of `tagIds` (all tags when none) at `threshold` or above, by the
    iteration's predictions, sorted by uncertainty (1 - top probability); `continuation` pages through them."""
    rows = [
        (i, v) for i, v, hits in _suggested(ws, project_id, iteration_id, token.tag_ids, token.threshold or 0.0) if hits
    ]
    descending = token.sort_by == "UncertaintyDescending"
    rows.sort(key=lambda row: 1 - max((p["probability"] for p in row[1].predictions), default=0.0), reverse=descending)
    start = int(token.continuation) if (token.continuation or "").isdigit() else 0
    size = token.max_count or 50
    domain = domain_id(projects.get_project(ws, project_id).domain)
    page = [StoredSuggestedTagAndRegion.of_image(i, v, links, domain) for i, v in rows[start : start + size]]
    more = start + size < len(rows)
    next_token = token.model_copy(update={"continuation": str(start + size) if more else None})
    return SuggestedTagAndRegionQuery(token=next_token, results=page)


@router.post("/projects/{projectId}/images/suggested/count", tags=["Suggestions"])
def query_suggested_image_count(
    ws: WS,
    project_id: ProjectId,
    iteration_id: Annotated[str, Query(alias="iterationId")],
    tag_filter: TagFilter,
) -> dict[str, int]:
    """Per tag id, how many untagged images the iteration suggests it for at `threshold` or above."""
    counts = {t: 0 for t in tag_filter.tag_ids or [t.id for t in tags.list_tags(ws, project_id)]}
    for _image, _view, hits in _suggested(ws, project_id, iteration_id, list(counts), tag_filter.threshold or 0.0):
        for tag_id in hits:
            counts[tag_id] += 1
    return counts


@router.delete("/projects/{projectId}/predictions", status_code=204, tags=["Predictions"])
def delete_prediction(ws: WS, project_id: ProjectId, ids: str | None = None) -> None:
    predictions.delete_predictions(ws, project_id, id_list(ids))
