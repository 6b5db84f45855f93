"""A project as a trained iteration saw it: Custom Vision's listings "as of an iteration" (`iterationId`).

Custom Vision keeps each iteration's copy of the images and tags it trained on; Sightline keeps the
iteration's report, which names every image trained on by content (sha256) with the tags it carried
then (see `performance`). So these views are read from the report:

- tags: those the iteration trained on, under the names they had then, with the number of images it
  trained with each; tags deleted since are left out (their rows, and so their ids, are gone);
- images: its training images still in the project (deleted ones are left out: an image's id dies with
  its row), with their tags as trained. Width, height and metadata are today's (metadata is not kept per
  iteration), and `metadata_filter` applies to today's metadata. Untagged images as of an iteration:
  none, since training uses tagged images only.

An iteration without a report (Queued, Training, Failed, Cancelled) is refused with
BadRequestIterationIsNotTrained; an unknown one with NotFoundIteration. No iteration (None) means the
workspace, as in Custom Vision: the calls then hand over to `tags` and `images`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sightline.codes import ErrorCode
from sightline.errors import NotFoundError
from sightline.service import images, performance, tags
from sightline.service.images import image_view
from sightline.service.metadata_filter import condition as metadata_condition
from sightline.service.projects import find_project_row
from sightline.service.tags import require_tag_row
from sightline.service.views import ImageView, TagView
from sightline.service.workspace import Workspace
from sightline.store import Image

_WHAT = "a view of the images and tags it trained on"


def list_tags(ws: Workspace, project_id: str, iteration: str | None) -> list[TagView]:
    """The tags `iteration` trained on, as named then, each with the number of images it was trained with."""
    if not iteration:
        return tags.list_tags(ws, project_id)
    report = performance.trained_report(ws, project_id, iteration, what=_WHAT)[1]
    counts = Counter(name for entry in report.images for name in set(entry.true_tags))
    with ws.session() as session:
        trained = performance.trained_tags(session, find_project_row(session, project_id).id, report)
        names = [name for name in dict.fromkeys(report.tags) if name in trained]
        return [performance.as_trained(trained[name], name, counts[name]) for name in sorted(names, key=str.casefold)]


def get_tag(ws: Workspace, project_id: str, iteration: str | None, tag_id: str) -> TagView:
    """One tag as `iteration` knew it (NotFoundTag when that iteration did not train on it)."""
    if not iteration:
        return tags.get_tag(ws, project_id, tag_id)
    with ws.session() as session:
        project = find_project_row(session, project_id)
        tag = require_tag_row(session, project, tag_id)
    for view in list_tags(ws, project_id, iteration):
        if view.id == tag.id:
            return view
    raise NotFoundError(f"iteration {iteration} did not train on the tag {tag.name!r}", ErrorCode.NotFoundTag)


def list_images(
    ws: Workspace,
    project_id: str,
    iteration: str | None,
    *,
    tagged: bool | None = None,
    tag_ids: Sequence[str] = (),
    take: int = 50,
    skip: int = 0,
    newest_first: bool = True,
    metadata_filter: str | None = None,
) -> list[ImageView]:
    """As `images.list_images`, over the images `iteration` trained on, with the tags they had then."""
    if not iteration:
        return images.list_images(
            ws,
            project_id,
            tagged=tagged,
            tag_ids=tag_ids,
            take=take,
            skip=skip,
            newest_first=newest_first,
            metadata_filter=metadata_filter,
        )
    report = performance.trained_report(ws, project_id, iteration, what=_WHAT)[1]
    matching = metadata_condition(metadata_filter)
    if tagged is False:
        return []
    with ws.session() as session:
        pid = find_project_row(session, project_id).id
        trained = performance.trained_tags(session, pid, report)
        page = performance.evaluated_page(
            session,
            pid,
            report,
            tag_ids=tag_ids,
            condition=matching,
            trained=trained,
            newest_first=newest_first,
            take=take,
            skip=skip,
        )
        return [image_view(image, performance.tags_as_trained(entry, trained)) for image, entry in page]


def count_images(
    ws: Workspace,
    project_id: str,
    iteration: str | None,
    *,
    tagged: bool | None = None,
    tag_ids: Sequence[str] = (),
    metadata_filter: str | None = None,
) -> int:
    """How many images `list_images` has to show, with the same filters."""
    if not iteration:
        return images.count_images(ws, project_id, tagged=tagged, tag_ids=tag_ids, metadata_filter=metadata_filter)
    report = performance.trained_report(ws, project_id, iteration, what=_WHAT)[1]
    matching = metadata_condition(metadata_filter)
    if tagged is False:
        return 0
    with ws.session() as session:
        pid = find_project_row(session, project_id).id
        return len(performance.evaluated(session, pid, report, tag_ids, matching))


def get_images(ws: Workspace, project_id: str, iteration: str | None, image_ids: Sequence[str]) -> list[ImageView]:
    """The images among `image_ids` that `iteration` trained on, with the tags they had then."""
    if not iteration:
        return images.get_images(ws, project_id, image_ids)
    report = performance.trained_report(ws, project_id, iteration, what=_WHAT)[1]
    ids = list(dict.fromkeys(image_ids))
    if not ids:
        return []
    with ws.session() as session:
        pid = find_project_row(session, project_id).id
        trained = performance.trained_tags(session, pid, report)
        page = performance.evaluated_page(
            session, pid, report, condition=Image.id.in_(ids), trained=trained, take=len(ids), newest_first=False
        )
        return [image_view(image, performance.tags_as_trained(entry, trained)) for image, entry in page]


__all__ = ["count_images", "get_images", "get_tag", "list_images", "list_tags"]
