"""Projects: create, list, show, update, delete."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sightline.backbones import resolve_backbone_name
from sightline.codes import ErrorCode
from sightline.errors import InvalidRequestError, ModelError, NotFoundError
from sightline.service import cleanup
from sightline.service.views import ProjectView
from sightline.service.workspace import Workspace
from sightline.store import ClassificationType, Image, ImageTag, Iteration, Prediction, Project, Tag, utcnow


def _classification_type(value: str) -> ClassificationType:
    for member in ClassificationType:
        if member.value.lower() == str(value).lower():
            return member
    raise InvalidRequestError(
        f"unknown classification type {value!r}: use Multiclass or Multilabel",
        ErrorCode.BadRequestProjectUnknownClassification,
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


def check_domain(domain: str) -> str:
    """The domain (backbone) a project will train on, checked now rather than at its first training.

    Loads the backbone once (it stays loaded for the process) so a missing model, an unreadable ONNX file
    or a typo is a clear error when the project is created or its domain changed. Returns the spec to
    store: `default` resolved to the model it means, an `onnx:` path made absolute (a relative one would
    depend on the folder a later command runs in).
    """
    from sightline.backbones import create_backbone

    spec = resolve_backbone_name((domain or "").strip() or "default")
    if spec.startswith("onnx:"):
        spec = "onnx:" + str(Path(spec[5:]).expanduser().resolve())
    try:
        create_backbone(spec)
    except ModelError as exc:
        raise InvalidRequestError(f"domain {spec!r} cannot be used: {exc}", ErrorCode.BadRequestInvalidDomain) from None
    except Exception as exc:  # a file that is not a model fails inside ONNX Runtime or transformers, in many types
        raise InvalidRequestError(
            f"domain {spec!r} cannot be used: it did not load ({type(exc).__name__}: {exc})",
            ErrorCode.BadRequestInvalidDomain,
        ) from None
    return spec


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
        raise NotFoundError(f"no project with id {project_id}", ErrorCode.NotFoundProject)
    return project


def find_project_row(session: Session, id_or_name: str) -> Project:
    """By id, or else by exact name: the CLI lets people type names."""
    project = session.get(Project, id_or_name)
    if project is None:
        project = session.scalar(select(Project).where(Project.name == id_or_name))
    if project is None:
        raise NotFoundError(f"no project called or numbered {id_or_name!r}", ErrorCode.NotFoundProject)
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
        settings=dict(project.settings or {}),
        group_key=project.group_key,
        test_image_count=session.scalar(
            select(func.count()).select_from(Image).where(Image.project_id == project.id, Image.test_set)
        )
        or 0,
    )


def checked_group_key(key: str | None, ws: Workspace) -> str | None:
    """A metadata key naming cross-validation groups: trimmed, printable, at most 255 characters;
    empty means none."""
    key = (key or "").strip()
    if not key:
        return None
    if any(unicodedata.category(char) == "Cc" for char in key) or len(key) > 255:
        raise InvalidRequestError(
            "a group key is a metadata key: at most 255 printable characters", ErrorCode.BadRequestProjectGroupKey
        )
    return key


def create_project(
    ws: Workspace,
    name: str,
    *,
    description: str = "",
    classification_type: str = "Multiclass",
    domain: str = "default",
    threshold: float = 0.5,
    settings: Mapping[str, Any] | None = None,
    group_key: str | None = None,
) -> ProjectView:
    """A new project. `settings` are Azure's that Sightline keeps and echoes (targetExportPlatforms ...);
    `group_key`: the image-metadata key whose equal values (an item, a part, a session) are kept on one
    side of every cross-validation fold."""
    name = checked_name(name, ws)
    group_key = checked_group_key(group_key, ws)
    checked_description(description)
    kind = _classification_type(classification_type)
    if not 0.0 < threshold < 1.0:
        raise InvalidRequestError(f"threshold must be between 0 and 1, not {threshold}")
    try:
        with ws.session() as session:
            project = Project(
                name=name,
                description=description or "",
                classification_type=kind,
                domain=resolve_backbone_name(domain),
                threshold=threshold,
                settings=dict(settings) if settings else None,
                group_key=group_key,
            )
            session.add(project)
            session.flush()
            return project_view(session, project)
    except IntegrityError:
        raise InvalidRequestError(
            f"a project called {name!r} already exists", ErrorCode.BadRequestProjectNameNotUnique
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
    settings: Mapping[str, Any] | None = None,
    group_key: str | None = None,
) -> ProjectView:
    """Change a project's settings; a new domain (backbone) or group key applies from the next training on.

    `settings`: Azure's kept settings to replace (a key set to None is removed). `group_key`: the
    image-metadata key whose equal values form cross-validation groups ("" for none)."""
    if group_key is not None:
        group_key = checked_group_key(group_key, ws) or ""
    try:
        with ws.session() as session:
            project = find_project_row(session, project_id)
            if name is not None:
                project.name = checked_name(name, ws)
            if description is not None:
                project.description = checked_description(description) or ""
            if classification_type is not None:
                kind = _classification_type(classification_type)
                if kind != project.classification_type and kind == ClassificationType.MULTICLASS:
                    _check_single_tag_per_image(session, project)
                project.classification_type = kind
            if domain is not None:
                project.domain = resolve_backbone_name(domain)
            if settings:
                kept = {**(project.settings or {}), **settings}
                project.settings = {k: v for k, v in kept.items() if v is not None} or None
            if threshold is not None:
                if not 0.0 < threshold < 1.0:
                    raise InvalidRequestError(f"threshold must be between 0 and 1, not {threshold}")
                project.threshold = threshold
            if group_key is not None:
                project.group_key = group_key or None
            project.modified = utcnow()
            session.flush()
            return project_view(session, project)
    except IntegrityError:
        raise InvalidRequestError(
            f"a project called {name!r} already exists", ErrorCode.BadRequestProjectNameNotUnique
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
            ErrorCode.BadRequestProjectUnknownClassification,
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
