"""Tags: Regular (a category) or Negative ("none of these"); unique per project, ignoring case."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sightline.codes import ErrorCode
from sightline.errors import InvalidRequestError, LimitExceededError, NotFoundError
from sightline.service.projects import checked_description, checked_name, find_project_row
from sightline.service.views import TagView
from sightline.service.workspace import Workspace
from sightline.store import ImageTag, Project, Tag, TagType


def _tag_type(value: str) -> TagType:
    for member in TagType:
        if member.value.lower() == str(value).lower():
            return member
    raise InvalidRequestError(f"unknown tag type {value!r}: use Regular or Negative", ErrorCode.BadRequestTagType)


def tag_summary(tag: Tag, image_count: int = 0) -> TagView:
    """A tag as shown; `image_count` is left 0 where counting would cost a query per tag (image listings)."""
    return TagView(
        id=tag.id,
        name=tag.name,
        description=tag.description,
        type=str(tag.type),
        image_count=image_count,
        created=tag.created,
    )


def tag_view(session: Session, tag: Tag) -> TagView:
    """A tag with the number of images carrying it."""
    count = session.scalar(select(func.count()).select_from(ImageTag).where(ImageTag.tag_id == tag.id)) or 0
    return tag_summary(tag, count)


def tag_not_found(project: Project, *refs: str) -> NotFoundError:
    """The one "no such tag" error (NotFoundTag), whichever request named the tag or tags."""
    return NotFoundError(f"no tag {', '.join(map(repr, refs))} in project {project.name!r}", ErrorCode.NotFoundTag)


def get_tag_row(session: Session, project_id: str, tag_id: str) -> Tag:
    """The project's tag with this id (not name), or NotFoundTag."""
    tag = session.get(Tag, tag_id)
    if tag is None or tag.project_id != project_id:
        raise tag_not_found(session.get_one(Project, project_id), tag_id)
    return tag


def find_tag_row(session: Session, project_id: str, id_or_name: str) -> Tag | None:
    tag = session.get(Tag, id_or_name)
    if tag is not None and tag.project_id == project_id:
        return tag
    return session.scalar(select(Tag).where(Tag.project_id == project_id, Tag.name_key == Tag.key_for(id_or_name)))


def require_tag_row(session: Session, project: Project, id_or_name: str) -> Tag:
    """`find_tag_row`, or NotFoundTag."""
    tag = find_tag_row(session, project.id, id_or_name)
    if tag is None:
        raise tag_not_found(project, id_or_name)
    return tag


def create_tag(ws: Workspace, project_id: str, name: str, *, description: str = "", type: str = "Regular") -> TagView:
    name = checked_name(name, ws, "tag")
    checked_description(description, "tag")
    kind = _tag_type(type)
    with ws.session() as session:
        project = find_project_row(session, project_id)
        if find_tag_row(session, project.id, name) is not None:
            raise InvalidRequestError(
                f"the project already has a tag called {name!r}", ErrorCode.BadRequestTagNameNotUnique
            )
        count = session.scalar(select(func.count()).select_from(Tag).where(Tag.project_id == project.id)) or 0
        if count >= ws.limits.max_tags_per_project:
            raise LimitExceededError(
                f"the project has {count} tags, the limit", ErrorCode.BadRequestExceedTagPerProjectLimit
            )
        if kind == TagType.NEGATIVE and session.scalar(
            select(Tag.id).where(Tag.project_id == project.id, Tag.type == TagType.NEGATIVE)
        ):
            raise InvalidRequestError("the project already has a Negative tag", ErrorCode.BadRequestMultipleNegativeTag)
        tag = Tag(project_id=project.id, name=name, name_key=Tag.key_for(name), description=description, type=kind)
        session.add(tag)
        session.flush()
        return tag_view(session, tag)


def ensure_tags(ws: Workspace, project_id: str, names: Iterable[str]) -> list[TagView]:
    """Tags by name, creating the missing ones (Regular): an upload form takes new names next to existing tags."""
    views: dict[str, TagView] = {}
    for name in dict.fromkeys(n.strip() for n in names if n and n.strip()):
        try:
            view = get_tag(ws, project_id, name)
        except NotFoundError:
            view = create_tag(ws, project_id, name)
        views.setdefault(view.id, view)
    return list(views.values())


def delete_unused_tags(ws: Workspace, project_id: str, tag_ids: Iterable[str]) -> list[str]:
    """Delete those of `tag_ids` that no image carries (a tag typed with an upload that added nothing);
    returns the ids deleted. A tag that another upload has meanwhile used is kept."""
    deleted = []
    with ws.session() as session:
        project = find_project_row(session, project_id)
        for tag_id in tag_ids:
            tag = session.get(Tag, tag_id)
            if tag is None or tag.project_id != project.id:
                continue
            if not session.scalar(select(func.count()).select_from(ImageTag).where(ImageTag.tag_id == tag.id)):
                session.delete(tag)
                deleted.append(tag_id)
    return deleted


def list_tags(ws: Workspace, project_id: str) -> list[TagView]:
    with ws.session() as session:
        project = find_project_row(session, project_id)
        tags = session.scalars(select(Tag).where(Tag.project_id == project.id).order_by(Tag.name_key)).all()
        return [tag_view(session, t) for t in tags]


def get_tag(ws: Workspace, project_id: str, tag_id: str) -> TagView:
    with ws.session() as session:
        project = find_project_row(session, project_id)
        tag = require_tag_row(session, project, tag_id)
        return tag_view(session, tag)


def update_tag(
    ws: Workspace,
    project_id: str,
    tag_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    type: str | None = None,
) -> TagView:
    with ws.session() as session:
        project = find_project_row(session, project_id)
        tag = get_tag_row(session, project.id, tag_id)
        if name is not None:
            name = checked_name(name, ws, "tag")
            other = find_tag_row(session, project.id, name)
            if other is not None and other.id != tag.id:
                raise InvalidRequestError(
                    f"the project already has a tag called {name!r}", ErrorCode.BadRequestTagNameNotUnique
                )
            tag.name, tag.name_key = name, Tag.key_for(name)
        if description is not None:
            tag.description = checked_description(description, "tag") or ""
        if type is not None:
            tag.type = _tag_type(type)
        session.flush()
        return tag_view(session, tag)


def delete_impact(ws: Workspace, project_id: str, tag_id: str) -> tuple[TagView, int]:
    """What deleting a tag would do, said before it is done: the tag, and how many of its images would be
    left with no tag at all (the others keep their other tags). Images are never deleted with a tag."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        tag = require_tag_row(session, project, tag_id)
        others = select(ImageTag.image_id).where(ImageTag.tag_id != tag.id)
        orphans = session.scalar(
            select(func.count())
            .select_from(ImageTag)
            .where(ImageTag.tag_id == tag.id, ImageTag.image_id.not_in(others))
        )
        return tag_view(session, tag), orphans or 0


def merge_tags(ws: Workspace, project_id: str, source_id: str, target_id: str) -> TagView:
    """Move every image of `source` to `target` and delete `source`: "shoees" into "shoes" in one step.

    Images that already carry `target` simply lose `source`. Both tags must be of the same type (a
    Negative tag means "none of the others", so it cannot become a regular one). One transaction.
    """
    with ws.session() as session:
        project = find_project_row(session, project_id)
        source = require_tag_row(session, project, source_id)
        target = require_tag_row(session, project, target_id)
        if source.id == target.id:
            raise InvalidRequestError(f"cannot merge tag {source.name!r} into itself", ErrorCode.BadRequestTagMerge)
        if source.type != target.type:
            raise InvalidRequestError(
                f"cannot merge the {source.type} tag {source.name!r} into the {target.type} tag {target.name!r}",
                ErrorCode.BadRequestTagMerge,
            )
        has_target = select(ImageTag.image_id).where(ImageTag.tag_id == target.id)
        moving = session.scalars(
            select(ImageTag.image_id).where(ImageTag.tag_id == source.id, ImageTag.image_id.not_in(has_target))
        ).all()
        session.add_all(ImageTag(image_id=image_id, tag_id=target.id) for image_id in moving)
        session.flush()
        session.delete(source)
        session.flush()
        session.refresh(target)
        return tag_view(session, target)


def delete_tag(ws: Workspace, project_id: str, tag_id: str) -> None:
    """Delete a tag; its images stay, untagged from it."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        tag = require_tag_row(session, project, tag_id)
        session.delete(tag)
