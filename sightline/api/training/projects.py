"""Projects: create, list, update, delete, export and import."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from sightline.api.context import WS, AppDomains, ProjectId, id_list
from sightline.api.errors import ApiError
from sightline.api.schemas import Project, ProjectExport, ProjectSettings, ProjectUpdate
from sightline.codes import ErrorCode
from sightline.errors import NotFoundError
from sightline.http.domains import domain_id
from sightline.service import copying, iterations, projects

router = APIRouter()


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
        raise ApiError(
            400, ErrorCode.BadRequestInvalidImportToken, "the token names no exported project here"
        ) from None
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
