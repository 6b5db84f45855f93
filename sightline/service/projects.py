"""Projects: create, list, show, update, delete."""

from __future__ import annotations

import unicodedata

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sightline.errors import InvalidRequestError, NotFoundError
from sightline.service import cleanup
from sightline.service.views import ProjectView
from sightline.service.workspace import Workspace
from sightline.store import ClassificationType, Image, ImageTag, Iteration, Prediction, Project, Tag, utcnow


def _classification_type(value: str) -> ClassificationType:
    for member in ClassificationType:
        if member.value.lower() == str(value).lower():
            return member
    raise InvalidRequestError(
        f"unknown classification type {value!r}: use Multiclass or Multilabel", "BadRequestProjectUnknownClassification"
    )


def checked_name(name: str, ws: Workspace, what: str = "project") -> str:
    """A project, tag or iteration name, trimmed; refused when empty, too long, or holding control characters
    (a NUL, a newline: names are shown in tables and pages, and PostgreSQL text cannot hold a NUL)."""
    name = (name or "").strip()
    if not name:
        raise InvalidRequestError(f"a {what} needs a name", f"BadRequest{what.capitalize()}Name")
    control = next((char for char in name if unicodedata.category(char) == "Cc"), None)
    if control is not None:
        raise InvalidRequestError(
            f"{what} name holds the control character {control!r}: use printable characters",
            f"BadRequest{what.capitalize()}Name",
        )
    if len(name) > ws.limits.max_name_length:
        raise InvalidRequestError(
            f"{what} name is {len(name)} characters; the limit is {ws.limits.max_name_length}",
            f"BadRequest{what.capitalize()}Name",
        )
    return name


def checked_description(description: str | None, what: str = "project") -> str | None:
    """A description as given (newlines allowed), refused when it holds a NUL: PostgreSQL text cannot store
    one and SQLite can, so the same 400 on every database."""
    if description is not None and "\x00" in description:
        raise InvalidRequestError(
            f"{what} description holds a NUL character (0x00)", f"BadRequest{what.capitalize()}Description"
        )
    return description


def get_project_row(session: Session, project_id: str) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"no project with id {project_id}", "NotFoundProject")
    return project


def find_project_row(session: Session, id_or_name: str) -> Project:
    """By id, or else by exact name: the CLI lets people type names."""
    project = session.get(Project, id_or_name)
    if project is None:
        project = session.scalar(select(Project).where(Project.name == id_or_name))
    if project is None:
        raise NotFoundError(f"no project called or numbered {id_or_name!r}", "NotFoundProject")
    return project


def project_view(session: Session, project: Project) -> ProjectView:
    image_count = session.scalar(select(func.count()).select_from(Image).where(Image.project_id == project.id))
    tag_count = session.scalar(select(func.count()).select_from(Tag).where(Tag.project_id == project.id))
    latest = session.scalar(
        select(Iteration.name).where(Iteration.project_id == project.id).order_by(Iteration.created.desc()).limit(1)
    )
    return ProjectView(
        id=project.id,
        name=project.name,
        description=project.description,
        classification_type=str(project.classification_type),
        domain=project.domain,
        threshold=project.threshold,
        created=project.created,
        modified=project.modified,
        image_count=image_count or 0,
        tag_count=tag_count or 0,
        latest_iteration=latest,
    )


def create_project(
    ws: Workspace,
    name: str,
    *,
    description: str = "",
    classification_type: str = "Multiclass",
    domain: str = "default",
    threshold: float = 0.5,
) -> ProjectView:
    name = checked_name(name, ws)
    checked_description(description)
    kind = _classification_type(classification_type)
    if not 0.0 < threshold < 1.0:
        raise InvalidRequestError(f"threshold must be between 0 and 1, not {threshold}")
    try:
        with ws.session() as session:
            project = Project(
                name=name, description=description or "", classification_type=kind, domain=domain, threshold=threshold
            )
            session.add(project)
            session.flush()
            return project_view(session, project)
    except IntegrityError:
        raise InvalidRequestError(
            f"a project called {name!r} already exists", "BadRequestProjectNameNotUnique"
        ) from None


def list_projects(ws: Workspace) -> list[ProjectView]:
    with ws.session() as session:
        projects = session.scalars(select(Project).order_by(Project.created)).all()
        return [project_view(session, p) for p in projects]


def get_project(ws: Workspace, id_or_name: str) -> ProjectView:
    with ws.session() as session:
        return project_view(session, find_project_row(session, id_or_name))


def update_project(
    ws: Workspace,
    project_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    classification_type: str | None = None,
    threshold: float | None = None,
    domain: str | None = None,
) -> ProjectView:
    """Change a project's settings; a new domain (backbone) applies from the next training on."""
    try:
        with ws.session() as session:
            project = find_project_row(session, project_id)
            if name is not None:
                project.name = checked_name(name, ws)
            if description is not None:
                project.description = checked_description(description)
            if classification_type is not None:
                kind = _classification_type(classification_type)
                if kind != project.classification_type and kind == ClassificationType.MULTICLASS:
                    _check_single_tag_per_image(session, project)
                project.classification_type = kind
            if domain is not None:
                project.domain = domain
            if threshold is not None:
                if not 0.0 < threshold < 1.0:
                    raise InvalidRequestError(f"threshold must be between 0 and 1, not {threshold}")
                project.threshold = threshold
            project.modified = utcnow()
            session.flush()
            return project_view(session, project)
    except IntegrityError:
        raise InvalidRequestError(
            f"a project called {name!r} already exists", "BadRequestProjectNameNotUnique"
        ) from None


def _check_single_tag_per_image(session: Session, project: Project) -> None:
    crowded = session.scalar(
        select(func.count()).select_from(
            select(ImageTag.image_id)
            .join(Image)
            .where(Image.project_id == project.id)
            .group_by(ImageTag.image_id)
            .having(func.count() > 1)
            .subquery()
        )
    )
    if crowded:
        raise InvalidRequestError(
            f"{crowded} images have more than one tag; Multiclass allows one tag per image",
            "BadRequestProjectUnknownClassification",
        )


def delete_project(ws: Workspace, project_id: str) -> None:
    """Delete a project with its tags, images, iterations and predictions, and the blobs only they used."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        keys = [
            *session.scalars(select(Image.blob_key).where(Image.project_id == project.id)),
            *session.scalars(select(Prediction.image_key).where(Prediction.project_id == project.id)),
            *session.scalars(select(Iteration.artifact_key).where(Iteration.project_id == project.id)),
        ]
        session.delete(project)
    cleanup.forget_unreferenced(ws, [key for key in keys if key])
