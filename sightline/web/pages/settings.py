"""Project settings: name, description, threshold, domain and group key, changed after creation."""

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


@router.get("/projects/{project_id}/settings", response_class=HTMLResponse)
def settings_page(request: Request, ws: WS, domains: AppDomains, project_id: str) -> HTMLResponse:
    project = projects.get_project(ws, project_id)
    choices = list(dict.fromkeys([project.domain, *domains.backbones]))
    return page(request, "settings.html", project=project, tab="settings", domains=choices)


@router.post("/projects/{project_id}/settings")
def save_settings(
    ws: WS,
    domains: AppDomains,
    project_id: str,
    name: Annotated[str, Form()],
    description: Annotated[str, Form()] = "",
    threshold: Annotated[str, Form()] = "",
    domain: Annotated[str, Form()] = "",
    group_key: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Save the form; a new domain is loaded first (a missing model is said now, not at training)."""
    project = projects.get_project(ws, project_id)
    try:
        value = float(threshold) if threshold.strip() else None
    except ValueError:
        raise InvalidRequestError(f"the threshold {threshold!r} is not a number between 0 and 1") from None
    new_domain = None
    if domain and domain != project.domain:
        if domain not in domains.backbones:
            raise InvalidRequestError(
                f"{domain!r} is not a domain this server offers", ErrorCode.BadRequestInvalidDomain
            )
        new_domain = projects.check_domain(domain)
    view = projects.update_project(
        ws, project.id, name=name, description=description, threshold=value, domain=new_domain, group_key=group_key
    )
    notice = "Settings saved."
    if new_domain:
        notice += f" Domain is now {view.domain}: every image is embedded again at the next training."
    return redirect(f"/projects/{project.id}/settings", notice=notice)
