"""Projects: the list (counts, latest iteration), create, and delete after typing the name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from sightline.codes import ErrorCode
from sightline.errors import InvalidRequestError
from sightline.http.context import WS, AppDomains
from sightline.service import projects
from sightline.web.render import page, redirect

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def project_list(request: Request, ws: WS, domains: AppDomains) -> HTMLResponse:
    return page(
        request, "projects.html", section="projects", projects=projects.list_projects(ws), domains=domains.backbones
    )


@router.post("/projects")
def create_project(
    ws: WS,
    domains: AppDomains,
    name: Annotated[str, Form()],
    description: Annotated[str, Form()] = "",
    classification_type: Annotated[str, Form()] = "Multiclass",
    domain: Annotated[str | None, Form()] = None,
) -> RedirectResponse:
    if domain is not None and domain not in domains.backbones:
        raise InvalidRequestError(f"{domain!r} is not a domain this server offers", ErrorCode.BadRequestInvalidDomain)
    checked = projects.check_domain(domain or domains.default)  # a missing model is said now, not at training
    created = projects.create_project(
        ws, name, description=description, classification_type=classification_type, domain=checked
    )
    return redirect(f"/projects/{created.id}/images", notice=f"Project {created.name!r} created. Add images next.")


@router.get("/projects/{project_id}")
def project_home(project_id: str) -> RedirectResponse:
    return redirect(f"/projects/{project_id}/images")


@router.get("/projects/{project_id}/delete", response_class=HTMLResponse)
def confirm_delete(request: Request, ws: WS, project_id: str) -> HTMLResponse:
    return page(request, "project_delete.html", section="projects", project=projects.get_project(ws, project_id))


@router.post("/projects/{project_id}/delete")
def delete_project(ws: WS, project_id: str, confirm: Annotated[str, Form()]) -> RedirectResponse:
    project = projects.get_project(ws, project_id)
    if confirm.strip() != project.name:
        raise InvalidRequestError("the name typed does not match the project's name; nothing was deleted")
    projects.delete_project(ws, project.id)
    return redirect("/", notice=f"Project {project.name!r} deleted.")
