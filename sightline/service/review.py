"""The review queue: stored predictions a person confirms or corrects, one image at a time.

The same image predicted several times is one item (its repeats are reviewed with it); unknown and
uncertain ones come first. A review adds the image to the training set; `undo_review` takes that back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import case, select, update

from sightline.codes import ErrorCode, ImageStatus
from sightline.errors import InvalidRequestError, NotFoundError
from sightline.service.images import NewImage, add_images, delete_images, tag_images, untag_images
from sightline.service.predictions import prediction_image, prediction_view
from sightline.service.projects import find_project_row
from sightline.service.tags import create_tag, ensure_tags, find_tag_row, require_tag_row
from sightline.service.views import PredictionView
from sightline.service.workspace import Workspace
from sightline.store import Image, Prediction, Tag, TagType

#: The unknown score from which an image counts as unknown (as `predictions.prediction_view` decides).
UNKNOWN_AT = 0.99


@dataclass(frozen=True)
class ReviewItem:
    """One image to review: its most suspect prediction, and how many predictions it has in all."""

    prediction: PredictionView
    repeats: int = 1


@dataclass(frozen=True)
class ReviewOutcome:
    """What a review did, so that it can be undone: the image, whether it was new, the tags it gained."""

    image_id: str
    image_was_new: bool
    added_tag_ids: list[str] = field(default_factory=list)
    prediction_ids: list[str] = field(default_factory=list)


def review_queue(
    ws: Workspace, project_id: str, *, reviewed: bool | None = False, take: int = 20, skip: int = 0
) -> list[ReviewItem]:
    """Stored predictions grouped by image, unknown first, then uncertain, then newest."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        query = select(Prediction.id, Prediction.image_key).where(Prediction.project_id == project.id)
        if reviewed is not None:
            query = query.where(Prediction.reviewed.is_(reviewed))
        unknown = case((Prediction.unknown_score >= UNKNOWN_AT, 1), else_=0)
        query = query.order_by(
            unknown.desc(),
            Prediction.uncertain.desc(),
            Prediction.unknown_score.desc().nulls_last(),
            Prediction.created.desc(),
            Prediction.id,
        )
        groups: dict[str, list[str]] = {}
        for prediction_id, key in session.execute(query.execution_options(yield_per=1000)):
            groups.setdefault(key or prediction_id, []).append(prediction_id)
        page = list(groups.values())[skip : skip + take]
        rows = {r.id: r for r in session.scalars(select(Prediction).where(Prediction.id.in_([g[0] for g in page])))}
        return [ReviewItem(prediction_view(rows[g[0]], project.threshold, UNKNOWN_AT), len(g)) for g in page]


def _repeats(session, project_id: str, prediction_id: str) -> list[Prediction]:
    row = session.get(Prediction, prediction_id)
    if row is None or row.project_id != project_id:
        raise NotFoundError(f"no stored prediction {prediction_id}", ErrorCode.NotFound)
    if not row.image_key:
        return [row]
    return list(
        session.scalars(
            select(Prediction).where(Prediction.project_id == project_id, Prediction.image_key == row.image_key)
        )
    )


def negative_tag(ws: Workspace, project_id: str) -> str:
    """The project's Negative ("none of these") tag, created as "Negative" when it has none yet."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        found = session.scalar(select(Tag).where(Tag.project_id == project.id, Tag.type == TagType.NEGATIVE))
        if found is not None:
            return found.id
        taken = find_tag_row(session, project.id, "Negative") is not None
    return create_tag(ws, project_id, "None of these" if taken else "Negative", type="Negative").id


def review(
    ws: Workspace, project_id: str, prediction_id: str, tags: Sequence[str] = (), new_tags: Sequence[str] = ()
) -> ReviewOutcome:
    """Add the prediction's image to the training set with `tags` (ids or names) and any `new_tags` (created),
    and mark it and its repeats (the same image predicted again) reviewed."""
    chosen = [*tags, *(t.id for t in ensure_tags(ws, project_id, new_tags))] if new_tags else list(tags)
    chosen = list(dict.fromkeys(t for t in chosen if t))
    if not chosen:
        raise InvalidRequestError(
            "choose at least one tag for the image (or none of these)", ErrorCode.BadRequestImageTags
        )
    data = prediction_image(ws, project_id, prediction_id)
    with ws.session() as session:
        project = find_project_row(session, project_id)
        tag_ids = []
        for ref in chosen:
            tag = require_tag_row(session, project, ref)
            tag_ids.append(tag.id)
    (result,) = add_images(ws, project_id, [NewImage(data, name=f"prediction {prediction_id}")])
    if not result.ok or result.image is None:
        raise InvalidRequestError(result.message or result.status, ErrorCode.BadRequestImageTags)
    new = result.status == ImageStatus.OK
    with ws.session() as session:
        image = session.get_one(Image, result.image.id)
        had = {link.tag_id for link in image.tag_links}
    added = [t for t in tag_ids if t not in had]
    try:
        tag_images(ws, project_id, [(result.image.id, t) for t in added])
    except Exception:
        if new:  # nothing half-done: the image added for this review goes again
            delete_images(ws, project_id, [result.image.id])
        raise
    with ws.session() as session:
        rows = _repeats(session, find_project_row(session, project_id).id, prediction_id)
        for row in rows:
            row.reviewed = True
        ids = [row.id for row in rows]
    return ReviewOutcome(result.image.id, new, added, ids)


def undo_review(ws: Workspace, project_id: str, outcome: ReviewOutcome) -> None:
    """Take a review back: the predictions are to review again; a new image goes, an old one loses the
    tags the review gave it."""
    if outcome.image_was_new:
        delete_images(ws, project_id, [outcome.image_id])
    elif outcome.added_tag_ids:
        untag_images(ws, project_id, [(outcome.image_id, t) for t in outcome.added_tag_ids])
    with ws.session() as session:
        project = find_project_row(session, project_id)
        session.execute(
            update(Prediction)
            .where(Prediction.project_id == project.id, Prediction.id.in_(outcome.prediction_ids))
            .values(reviewed=False)
        )


def discard(ws: Workspace, project_id: str, prediction_id: str) -> int:
    """Forget a stored prediction and its repeats (the image is not added anywhere); returns how many."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        rows = _repeats(session, project.id, prediction_id)
        for row in rows:
            session.delete(row)
        return len(rows)
