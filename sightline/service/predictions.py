"""Predictions: classify an image with a published (or any completed) iteration; keep it for review.

A prediction names its tags by id and name with calibrated probabilities, sorted high to low, and
says whether each passes the threshold, whether a person should look (`uncertain`), and how unlike
the training images the image is (`unknown_score`, `unknown`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from sqlalchemy import delete, select

from sightline.errors import ImageError, InvalidRequestError, NotFoundError
from sightline.service.images import blob_rendition
from sightline.service.iterations import find_iteration_row, trained_model
from sightline.service.projects import find_project_row
from sightline.service.tags import get_tag_row
from sightline.service.views import ImageFile, PredictionView
from sightline.service.workspace import Workspace
from sightline.store import Iteration, IterationStatus, Prediction, Project, Tag, new_id, utcnow


def _target(ws: Workspace, project_id: str, publish_name: str | None, iteration_id: str | None) -> _Target:
    with ws.session() as session:
        project = find_project_row(session, project_id)
        if publish_name is not None:
            iteration = session.scalar(
                select(Iteration).where(Iteration.project_id == project.id, Iteration.publish_name == publish_name)
            )
            if iteration is None:
                raise NotFoundError(
                    f"nothing is published as {publish_name!r} in project {project.name!r}", "NotFoundIteration"
                )
        else:
            iteration = find_iteration_row(session, project, iteration_id)
        if iteration.status != IterationStatus.COMPLETED or not iteration.artifact_key:
            raise InvalidRequestError(
                f"{iteration.name} is {iteration.status}, not a trained model", "BadRequestIterationIsNotTrained"
            )
        tag_ids = {t.name: t.id for t in session.scalars(select(Tag).where(Tag.project_id == project.id))}
        return _Target(
            project.id,
            project.threshold,
            dict(iteration.tag_thresholds or {}),
            iteration.id,
            iteration.artifact_key,
            iteration.domain,
            tag_ids,
        )


@dataclass(frozen=True)
class _Target:
    project_id: str
    threshold: float  # the project's one threshold
    tag_thresholds: dict[str, float]  # the iteration's per-tag thresholds (tags without one use `threshold`)
    iteration_id: str
    artifact_key: str
    domain: str
    tag_ids: dict[str, str]


def predict(
    ws: Workspace,
    project_id: str,
    images: Sequence[bytes],
    *,
    publish_name: str | None = None,
    iteration_id: str | None = None,
    store: bool = True,
    threshold: float | None = None,
) -> list[PredictionView | ImageError]:
    """Classify images with a publish name (or an iteration, default the latest). Bad images come back as errors.

    Each tag is held to the iteration's per-tag threshold, else the project's; `threshold` overrides both.
    """
    target = _target(ws, project_id, publish_name, iteration_id)
    default = target.threshold if threshold is None else threshold
    model = trained_model(ws, target.artifact_key, target.domain)
    limits = [
        default if threshold is not None else target.tag_thresholds.get(tag, default) for tag in model.reported_classes_
    ]
    results = model.predict(list(images), thresholds=limits)
    out: list[PredictionView | ImageError] = []
    for data, result in zip(images, results, strict=True):
        if result.error is not None:
            out.append(result.error)
            continue
        predictions = [
            {
                "tag_id": target.tag_ids.get(t.tag),
                "tag_name": t.tag,
                "probability": float(t.probability),
                "above_threshold": bool(t.above_threshold),
                "threshold": float(t.threshold),
            }
            for t in result.tags
        ]
        view = PredictionView(
            id=new_id(),
            project_id=target.project_id,
            iteration_id=target.iteration_id,
            created=utcnow(),
            predictions=predictions,
            threshold=default,
            uncertain=result.uncertain,
            unknown_score=result.unknown_score,
            unknown=result.unknown,
            reasons=[r.to_dict() for r in result.reasons],
            stored=store,
        )
        if store:
            _store(ws, view, data)
        out.append(view)
    return out


def _store(ws: Workspace, view: PredictionView, data: bytes) -> None:
    key = ws.blobs.put(data)
    with ws.session() as session:
        session.add(
            Prediction(
                id=view.id,
                project_id=view.project_id,
                iteration_id=view.iteration_id,
                image_key=key,
                created=view.created,
                results=view.predictions,
                uncertain=view.uncertain,
                unknown_score=view.unknown_score,
                reasons=view.reasons,
            )
        )


def _view(row: Prediction, threshold: float, unknown_threshold: float = 0.99) -> PredictionView:
    """A stored prediction; `unknown` comes from its reasons (rows stored before reasons: from the score)."""
    if row.reasons is not None:
        unknown = any(r.get("code") == "unknown" for r in row.reasons)
    else:
        unknown = (row.unknown_score or 0.0) >= unknown_threshold
    return PredictionView(
        id=row.id,
        project_id=row.project_id,
        iteration_id=row.iteration_id,
        created=row.created,
        predictions=row.results,
        threshold=threshold,
        uncertain=row.uncertain,
        unknown_score=row.unknown_score or 0.0,
        unknown=unknown,
        reasons=list(row.reasons or []),
        stored=True,
        reviewed=row.reviewed,
    )


@dataclass(frozen=True)
class TagRange:
    """Keep predictions giving tag `tag_id` a probability within [minimum, maximum]."""

    tag_id: str
    minimum: float = 0.0
    maximum: float = 1.0

    def admits(self, results: list[dict]) -> bool:
        probability = next((r["probability"] for r in results if r.get("tag_id") == self.tag_id), None)
        return probability is not None and self.minimum <= probability <= self.maximum


#: How stored predictions can be ordered: newest or oldest first, or those a person should look at first.
PREDICTION_ORDERS = ("Newest", "Oldest", "Suspected")


def list_predictions(
    ws: Workspace,
    project_id: str,
    *,
    iteration_id: str | None = None,
    uncertain_first: bool = True,
    reviewed: bool | None = False,
    take: int = 50,
    skip: int = 0,
    order: str | None = None,
    tag_ranges: Sequence[TagRange] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[PredictionView]:
    """Stored predictions for review: uncertain and unknown ones first, newest first within each.

    `order` (one of PREDICTION_ORDERS) overrides `uncertain_first`. `tag_ranges` keep predictions whose
    probabilities for those tags all lie in range; `since`/`until` bound the creation time (inclusive).
    """
    if order is not None and order not in PREDICTION_ORDERS:
        raise InvalidRequestError(f"unknown order {order!r}: use {', '.join(PREDICTION_ORDERS)}")
    suspected = order == "Suspected" if order is not None else uncertain_first
    with ws.session() as session:
        project: Project = find_project_row(session, project_id)
        query = select(Prediction).where(Prediction.project_id == project.id)
        if iteration_id:
            query = query.where(Prediction.iteration_id == iteration_id)
        if reviewed is not None:
            query = query.where(Prediction.reviewed.is_(reviewed))
        for tag_range in tag_ranges:
            get_tag_row(session, project.id, tag_range.tag_id)  # NotFoundTag for a tag of another project
        if since is not None:
            query = query.where(Prediction.created >= since)
        if until is not None:
            query = query.where(Prediction.created <= until)
        order_by = [Prediction.uncertain.desc(), Prediction.unknown_score.desc()] if suspected else []
        newest = Prediction.created.asc() if order == "Oldest" else Prediction.created.desc()
        query = query.order_by(*order_by, newest, Prediction.id)
        if not tag_ranges:
            rows = session.scalars(query.offset(skip).limit(take)).all()
        else:  # probabilities live in a JSON column: filtered here, streaming, up to the page wanted
            matching = (r for r in session.scalars(query.execution_options(yield_per=500)) if _admitted(r, tag_ranges))
            rows = list(islice(matching, skip, skip + take))
        return [_view(row, project.threshold) for row in rows]


def _admitted(row: Prediction, tag_ranges: Sequence[TagRange]) -> bool:
    return all(r.admits(row.results or []) for r in tag_ranges)


def prediction_image(ws: Workspace, project_id: str, prediction_id: str) -> bytes:
    return prediction_file(ws, project_id, prediction_id).data


def prediction_file(ws: Workspace, project_id: str, prediction_id: str, kind: str = "original") -> ImageFile:
    """A stored prediction's image, as sent or as a smaller JPEG (see `images.blob_rendition`)."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        row = session.get(Prediction, prediction_id)
        if row is None or row.project_id != project.id or not row.image_key:
            raise NotFoundError(f"no stored prediction {prediction_id}", "NotFound")
        key = row.image_key
    return blob_rendition(ws, key, kind)


def delete_predictions(ws: Workspace, project_id: str, prediction_ids: Sequence[str]) -> int:
    with ws.session() as session:
        project = find_project_row(session, project_id)
        result = session.execute(
            delete(Prediction).where(Prediction.project_id == project.id, Prediction.id.in_(list(prediction_ids)))
        )
        return result.rowcount or 0


def review_prediction(ws: Workspace, project_id: str, prediction_id: str, tags: Sequence[str]) -> str:
    """Accept or correct a stored prediction: its image joins the training set with `tags`. Returns the image id."""
    from sightline.service.images import NewImage, add_images, tag_images

    image = prediction_image(ws, project_id, prediction_id)
    (result,) = add_images(ws, project_id, [NewImage(image, name=f"prediction {prediction_id}", tags=list(tags))])
    if result.status == "OKDuplicate":  # already in the training set: make its tags the reviewed ones
        tag_images(ws, project_id, [(result.image.id, tag) for tag in tags])
    elif not result.ok:
        raise InvalidRequestError(result.message or result.status, "BadRequestImageTags")
    with ws.session() as session:
        row = session.get(Prediction, prediction_id)
        row.reviewed = True
    return result.image.id


def get_prediction(ws: Workspace, project_id: str, prediction_id: str) -> PredictionView:
    """One stored prediction, as `list_predictions` shows it (for the quick test's result page)."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        row = session.get(Prediction, prediction_id)
        if row is None or row.project_id != project.id:
            raise NotFoundError(f"no stored prediction {prediction_id}", "NotFound")
        return _view(row, project.threshold)
