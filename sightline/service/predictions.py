"""Predictions: classify an image with a published (or any completed) iteration; keep it for review.

A prediction names its tags by id and name with calibrated probabilities, sorted high to low, and
says whether each passes the threshold, whether a person should look (`uncertain`), and how unlike
the training images the image is (`unknown_score`, `unknown`).

About 400 lines: predicting, keeping, listing and reviewing stored predictions share one row shape
(`prediction_view`) and its filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import delete, select

from sightline import telemetry
from sightline.codes import ErrorCode, ImageStatus
from sightline.config import default_of, env_int
from sightline.errors import ImageError, InvalidRequestError, NotFoundError
from sightline.learn.decisions import Reason
from sightline.service.images import blob_rendition
from sightline.service.iterations import find_iteration_row, trained_model
from sightline.service.projects import find_project_row
from sightline.service.tags import get_tag_row
from sightline.service.views import ImageAddResult, ImageFile, ImageView, PredictedTag, PredictionView
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
                    f"nothing is published as {publish_name!r} in project {project.name!r}", ErrorCode.NotFoundIteration
                )
        else:
            iteration = find_iteration_row(session, project, iteration_id)
        if iteration.status != IterationStatus.COMPLETED or not iteration.artifact_key:
            raise InvalidRequestError(
                f"{iteration.name} is {iteration.status}, not a trained model",
                ErrorCode.BadRequestIterationIsNotTrained,
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


@dataclass(frozen=True)
class PublishedModel:
    """A published iteration's model file and what decisions need, for batch jobs that load it elsewhere."""

    project_id: str
    iteration_id: str
    threshold: float  # the project's one threshold
    artifact: bytes  # `Classifier.to_bytes()` output
    domain: str | None  # the backbone spec the iteration trained on
    tag_thresholds: dict[str, float]  # the iteration's per-tag thresholds (tags without one use `threshold`)

    def thresholds_for(self, tags: Sequence[str]) -> list[float]:
        """One threshold per tag, in `tags`' order: the tag's own, else the project's."""
        return [self.tag_thresholds.get(tag, self.threshold) for tag in tags]


def published_model(ws: Workspace, project_id: str, publish_name: str) -> PublishedModel:
    """The model published as `publish_name`: NotFoundError when nothing is, as `predict` says."""
    target = _target(ws, project_id, publish_name, None)
    return PublishedModel(
        target.project_id,
        target.iteration_id,
        target.threshold,
        ws.blobs.get(target.artifact_key),
        target.domain,
        target.tag_thresholds,
    )


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
            PredictedTag(
                tag_id=target.tag_ids.get(t.tag),
                tag_name=t.tag,
                probability=float(t.probability),
                above_threshold=bool(t.above_threshold),
                threshold=float(t.threshold),
            )
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
            reasons=list(result.reasons),
            stored=store,
        )
        if store:
            _store(ws, view, data)
        telemetry.count_prediction(project_id, uncertain=view.uncertain, unknown=view.unknown)
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
                results=[p.to_dict() for p in view.predictions],
                uncertain=view.uncertain,
                unknown_score=view.unknown_score,
                reasons=[r.to_dict() for r in view.reasons],
            )
        )


def prediction_view(row: Prediction, threshold: float, unknown_threshold: float = 0.99) -> PredictionView:
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
        predictions=[PredictedTag.from_dict(p, threshold) for p in row.results],
        threshold=threshold,
        uncertain=row.uncertain,
        unknown_score=row.unknown_score or 0.0,
        unknown=unknown,
        reasons=[Reason.from_dict(r) for r in row.reasons or []],
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
        order_by: list[Any] = [Prediction.uncertain.desc(), Prediction.unknown_score.desc()] if suspected else []
        newest = Prediction.created.asc() if order == "Oldest" else Prediction.created.desc()
        query = query.order_by(*order_by, newest, Prediction.id)
        if not tag_ranges:
            rows = session.scalars(query.offset(skip).limit(take)).all()
        else:  # probabilities live in a JSON column: filtered here, streaming, up to the page wanted
            matching = (r for r in session.scalars(query.execution_options(yield_per=500)) if _admitted(r, tag_ranges))
            rows = list(islice(matching, skip, skip + take))
        return [prediction_view(row, project.threshold) for row in rows]


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
            raise NotFoundError(f"no stored prediction {prediction_id}", ErrorCode.NotFound)
        key = row.image_key
    return blob_rendition(ws, key, kind)


def delete_predictions(ws: Workspace, project_id: str, prediction_ids: Sequence[str]) -> int:
    with ws.session() as session:
        project = find_project_row(session, project_id)
        result = session.execute(
            delete(Prediction).where(Prediction.project_id == project.id, Prediction.id.in_(list(prediction_ids)))
        )
        return result.rowcount or 0  # type: ignore[attr-defined]  # a DELETE's result is a CursorResult


def review_prediction(ws: Workspace, project_id: str, prediction_id: str, tags: Sequence[str]) -> str:
    """Accept or correct a stored prediction: its image joins the training set with `tags`. Returns the image id."""
    from sightline.service.images import NewImage, add_images, tag_images

    image = prediction_image(ws, project_id, prediction_id)
    (result,) = add_images(ws, project_id, [NewImage(image, name=f"prediction {prediction_id}", tags=list(tags))])
    if not result.ok:
        raise InvalidRequestError(result.message or result.status, ErrorCode.BadRequestImageTags)
    assert result.image is not None  # added, or already there
    if result.status == ImageStatus.OKDuplicate:  # already in the training set: make its tags the reviewed ones
        tag_images(ws, project_id, [(result.image.id, tag) for tag in tags])
    with ws.session() as session:
        row = session.get_one(Prediction, prediction_id)
        row.reviewed = True
    return result.image.id


def add_images_from_predictions(
    ws: Workspace,
    project_id: str,
    entries: Sequence[tuple[str, Sequence[str]]],
    *,
    tags: Sequence[str] = (),
    metadata: dict[str, str] | None = None,
) -> list[ImageAddResult]:
    """Azure's CreateImagesFromPredictions: stored predictions' images join the project, each with its own
    tags plus `tags`. One without a stored image gets status ErrorSource; the rest go on."""
    from sightline.service.images import NewImage, add_images

    found: list[NewImage] = []
    missing: dict[int, ImageAddResult] = {}
    for index, (prediction_id, own_tags) in enumerate(entries):
        try:
            data = prediction_image(ws, project_id, prediction_id)
        except NotFoundError as error:
            missing[index] = ImageAddResult(prediction_id, ImageStatus.ErrorSource, message=str(error))
            continue
        found.append(NewImage(data, name=f"prediction {prediction_id}", tags=list(own_tags), metadata=metadata or {}))
    added = iter(add_images(ws, project_id, found, tags=tags))
    return [missing[i] if i in missing else next(added) for i in range(len(entries))]


def suggest_tags(
    ws: Workspace, project_id: str, iteration_id: str, image_ids: Sequence[str]
) -> list[tuple[str, PredictionView | ImageError]]:
    """Azure's Smart Labeler (SuggestTagsAndRegions), classification: the trained iteration's calibrated
    predictions for the project's (untagged) images, nothing stored. Returns (image id, prediction or error)."""
    from sightline.service.images import image_bytes

    data = [image_bytes(ws, project_id, image_id) for image_id in image_ids]
    results = predict(ws, project_id, data, iteration_id=iteration_id, store=False) if data else []
    return list(zip(image_ids, results, strict=True))


def suggest_for_untagged(
    ws: Workspace, project_id: str, iteration_id: str, *, batch: int = 64
) -> list[tuple[ImageView, PredictionView]]:
    """The iteration's predictions for every untagged image of the project (QuerySuggestedImages), oldest
    first. Computed on each call: its cost grows with the untagged images (embeddings are cached)."""
    from sightline.service.images import image_bytes, list_images

    untagged: list[ImageView] = []
    while len(page := list_images(ws, project_id, tagged=False, take=256, skip=len(untagged), newest_first=False)):
        untagged.extend(page)
        if len(page) < 256:
            break
    out: list[tuple[ImageView, PredictionView]] = []
    for start in range(0, len(untagged), batch):
        chunk = untagged[start : start + batch]
        data = [image_bytes(ws, project_id, view.id) for view in chunk]
        results = predict(ws, project_id, data, iteration_id=iteration_id, store=False)
        out.extend((view, r) for view, r in zip(chunk, results, strict=True) if isinstance(r, PredictionView))
    return out


def get_prediction(ws: Workspace, project_id: str, prediction_id: str) -> PredictionView:
    """One stored prediction, as `list_predictions` shows it (for the quick test's result page)."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        row = session.get(Prediction, prediction_id)
        if row is None or row.project_id != project.id:
            raise NotFoundError(f"no stored prediction {prediction_id}", ErrorCode.NotFound)
        return prediction_view(row, project.threshold)


#: How long stored predictions are kept by default (Azure keeps them 30 days): `SIGHTLINE_PREDICTION_RETENTION_DAYS`.
DEFAULT_RETENTION_DAYS: int = default_of("SIGHTLINE_PREDICTION_RETENTION_DAYS")


def retention_days() -> int:
    return env_int("SIGHTLINE_PREDICTION_RETENTION_DAYS")


def purge_predictions(ws: Workspace, older_than_days: int | None = None) -> int:
    """Delete stored predictions older than the retention (days); their images go too unless still used."""
    from datetime import timedelta

    from sightline.store import Image

    days = retention_days() if older_than_days is None else older_than_days
    if days < 0:
        raise InvalidRequestError(f"the retention must be 0 days or more, not {days}")
    cutoff = utcnow() - timedelta(days=days)
    with ws.session() as session:
        old = session.execute(select(Prediction.id, Prediction.image_key).where(Prediction.created < cutoff)).all()
        ids = [row.id for row in old]
        for start in range(0, len(ids), 500):
            session.execute(delete(Prediction).where(Prediction.id.in_(ids[start : start + 500])))
    keys = {row.image_key for row in old if row.image_key}
    if keys:
        with ws.session() as session:
            used = set(session.scalars(select(Image.blob_key).where(Image.blob_key.in_(keys))))
            used |= set(session.scalars(select(Prediction.image_key).where(Prediction.image_key.in_(keys))))
        for key in keys - used:
            ws.blobs.delete(key)
    return len(ids)
