"""Azure's ExportProject / ImportProject on one server: a project's copy (settings, tags, images, metadata).

Images are content-addressed blobs, so the copy shares them: only rows are written, in one transaction.
Iterations (trained models) are not copied; the copy trains afresh.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from sightline.codes import ErrorCode
from sightline.errors import InvalidRequestError
from sightline.service.projects import checked_name, find_project_row, project_view
from sightline.service.views import ProjectView
from sightline.service.workspace import Workspace
from sightline.store import Image, ImageMetadata, ImageTag, Iteration, Project, Tag, new_id


@dataclass(frozen=True)
class ProjectExportView:
    """What ExportProject reports: the counts of what an import will copy."""

    project_id: str
    image_count: int
    tag_count: int
    iteration_count: int


def describe_export(ws: Workspace, project_id: str) -> ProjectExportView:
    with ws.session() as session:
        project = find_project_row(session, project_id)

        def count(model) -> int:
            return session.scalar(select(func.count()).select_from(model).where(model.project_id == project.id)) or 0

        return ProjectExportView(project.id, count(Image), count(Tag), count(Iteration))


def copy_project(ws: Workspace, source_id: str, name: str) -> ProjectView:
    """A new project called `name` holding the source's settings, tags, images (tags, metadata)."""
    name = checked_name(name, ws)
    try:
        with ws.session() as session:
            source = find_project_row(session, source_id)
            copy = Project(
                name=name,
                description=source.description,
                classification_type=source.classification_type,
                domain=source.domain,
                threshold=source.threshold,
                settings=dict(source.settings) if source.settings else None,
            )
            session.add(copy)
            session.flush()
            tag_ids = {}
            for tag in source.tags:
                tag_ids[tag.id] = new_id()
                session.add(Tag(id=tag_ids[tag.id], project_id=copy.id, name=tag.name,
                                description=tag.description, type=tag.type))  # fmt: skip
            rows = session.scalars(
                select(Image)
                .where(Image.project_id == source.id)
                .options(selectinload(Image.tag_links), selectinload(Image.metadata_entries))
            ).all()
            session.flush()
            for image in rows:
                image_id = new_id()
                session.add(
                    Image(id=image_id, project_id=copy.id, sha256=image.sha256, blob_key=image.blob_key,
                          width=image.width, height=image.height, format=image.format, size_bytes=image.size_bytes,
                          created=image.created, original_name=image.original_name)
                )  # fmt: skip
                session.flush()
                session.add_all(ImageTag(image_id=image_id, tag_id=tag_ids[link.tag_id]) for link in image.tag_links)
                session.add_all(
                    ImageMetadata(image_id=image_id, key=m.key, value=m.value) for m in image.metadata_entries
                )
            session.flush()
            return project_view(session, copy)
    except IntegrityError:
        raise InvalidRequestError(
            f"a project called {name!r} already exists", ErrorCode.BadRequestProjectNameNotUnique
        ) from None
