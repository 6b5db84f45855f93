"""An iteration's evaluation report, as stored, or recomputed at another probability threshold.

The report is read once into a `StoredReport` (see `service.report`: what it holds, how old reports
load). The CLI
(`iterations show --threshold`), the API (`performance?threshold=`) and the web UI's threshold slider
all read it here; Custom Vision's GetImagePerformances reads its per-image out-of-fold probabilities,
and the listings as of an iteration (`snapshot`) the images and tags it trained on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from sightline.errors import NotTrainedError
from sightline.service.images import image_view
from sightline.service.iterations import find_iteration_row
from sightline.service.projects import find_project_row
from sightline.service.report import EvaluatedImage, StoredReport, TagFigures
from sightline.service.tags import get_tag_row, tag_summary
from sightline.service.training import iteration_view
from sightline.service.views import ImagePerformanceView, IterationView, ScoredTag, TagView
from sightline.service.workspace import Workspace
from sightline.store import Image, Tag

Report = StoredReport  # the name the front ends know


def iteration_report(
    ws: Workspace, project: str, iteration: str | None = None, *, threshold: float | None = None
) -> tuple[IterationView, Report | None]:
    """The iteration (default: the latest) and its report (None until training has completed)."""
    with ws.session() as session:
        row = find_iteration_row(session, find_project_row(session, project), iteration)
        view, report = iteration_view(row), StoredReport.from_dict(row.report)
    return view, _at(report, threshold)


def _at(report: Report | None, threshold: float | None) -> Report | None:
    """The report at `threshold`: as stored at the trained threshold, which keeps the spread across
    folds (recomputing loses it)."""
    if threshold is None or report is None:
        return report
    if report.threshold is not None and math.isclose(threshold, report.threshold):
        return report
    return at_threshold(report, threshold)


def test_set_report(
    ws: Workspace, project: str, iteration: str | None = None, *, threshold: float | None = None
) -> Report | None:
    """The iteration (default: the latest) scored on the project's test set when training finished:
    the held-out figures (at `threshold`, default the trained one). None when the project had no test
    set then (or the iteration is not trained)."""
    with ws.session() as session:
        row = find_iteration_row(session, find_project_row(session, project), iteration)
        report = StoredReport.from_dict(row.test_report)
    return _at(report, threshold)


def trained_report(
    ws: Workspace,
    project: str,
    iteration: str | None = None,
    *,
    threshold: float | None = None,
    what: str = "performance figures",
) -> tuple[IterationView, Report]:
    """As `iteration_report`, but an iteration without a report (not trained yet, failed) is an error,
    whose message says that it has `what` once training has completed."""
    view, report = iteration_report(ws, project, iteration, threshold=threshold)
    if report is None:
        raise NotTrainedError(f"{view.name} is {view.status}: it has {what} once training has completed")
    return view, report


def at_threshold(report: Report, threshold: float) -> Report:
    """The report with precision and recall (overall and per tag) recomputed at another threshold.

    Computed from the stored out-of-fold probabilities; the spread across folds cannot be (fold
    membership is not stored), so the *_std figures are dropped. A tag that no image reaches the
    threshold for has no precision (None, not 0).
    """
    from sightline.learn.rethreshold import precision_recall_at

    tags = report.tags
    images = [i for i in report.images if len(i.probabilities) == len(tags)]
    if not tags or not images:
        return report
    truth = np.array([[t in i.true_tags for t in tags] for i in images], dtype=int)
    figures = precision_recall_at(truth, np.array([i.probabilities for i in images], dtype=float), threshold)
    per_tag = {entry.tag: entry for entry in report.per_tag}
    for tag, tag_figures in zip(tags, figures.per_tag, strict=True):
        per_tag[tag] = replace(
            per_tag.get(tag, TagFigures(tag)),
            precision=tag_figures.precision,
            recall=tag_figures.recall,
            precision_std=None,
            recall_std=None,
        )
    return replace(
        report,
        threshold=threshold,
        precision=figures.overall.precision,
        recall=figures.overall.recall,
        precision_std=None,  # bootstrapped at the trained threshold only
        recall_std=None,
        per_tag=list(per_tag.values()),
    )


def image_performances(
    ws: Workspace,
    project: str,
    iteration: str | None = None,
    *,
    tag_ids: Sequence[str] = (),
    newest_first: bool = True,
    take: int = 50,
    skip: int = 0,
) -> list[ImagePerformanceView]:
    """The images an iteration was evaluated on, with their out-of-fold probabilities.

    `tag_ids` keeps images that carried any of those tags when trained. Images deleted since are left out.
    """
    report = trained_report(ws, project, iteration)[1]
    tags = report.tags
    with ws.session() as session:
        project_id = find_project_row(session, project).id
        trained = trained_tags(session, project_id, report)
        views = []
        page = evaluated_page(
            session,
            project_id,
            report,
            tag_ids=tag_ids,
            trained=trained,
            newest_first=newest_first,
            take=take,
            skip=skip,
        )
        for image, entry in page:
            probabilities = sorted(zip(tags, entry.probabilities, strict=False), key=lambda p: p[1], reverse=True)
            trained_with = tags_as_trained(entry, trained)
            views.append(
                ImagePerformanceView(
                    image=image_view(image, trained_with),
                    trained_tags=trained_with,
                    predictions=[
                        ScoredTag(trained[t].id if t in trained else None, t, float(p)) for t, p in probabilities
                    ],
                )
            )
        return views


def count_image_performances(
    ws: Workspace, project: str, iteration: str | None = None, *, tag_ids: Sequence[str] = ()
) -> int:
    """How many images `image_performances` has to show (with the same `tag_ids` filter)."""
    report = trained_report(ws, project, iteration)[1]
    with ws.session() as session:
        return len(evaluated(session, find_project_row(session, project).id, report, tag_ids))


_CHUNK = 500  # ids per IN (...) query: SQLite allows a few thousand bound parameters at most


def trained_tags(session: Session, project_id: str, report: Report) -> dict[str, Tag]:
    """{a tag's name when the iteration trained on it: the tag now}, for the tags that still exist.

    Reports record the id of each tag trained on (`tag_ids`), so a tag renamed since is still found under
    its old name; a report from before that is matched by name, where a renamed tag is lost. Tags deleted
    since are absent (a tag created later under a deleted one's name is another tag).
    """
    rows = session.scalars(select(Tag).where(Tag.project_id == project_id)).all()
    recorded = report.tag_ids
    if recorded is None:
        return {tag.name: tag for tag in rows}
    by_id = {tag.id: tag for tag in rows}
    return {name: by_id[tag_id] for name, tag_id in recorded.items() if tag_id in by_id}


def as_trained(tag: Tag, name: str, image_count: int = 0) -> TagView:
    """The tag as an iteration knew it: the name it had then (id, type and description are today's)."""
    return replace(tag_summary(tag, image_count), name=name)


def tags_as_trained(entry: EvaluatedImage, trained: dict[str, Tag]) -> list[TagView]:
    """The tags a report entry (one image) was trained with, those that still exist, by name."""
    names = [name for name in entry.true_tags if name in trained]
    return [as_trained(trained[name], name) for name in sorted(names, key=str.casefold)]


def evaluated(
    session: Session,
    project_id: str,
    report: Report,
    tag_ids: Sequence[str] = (),
    condition: ColumnElement[bool] | None = None,
    trained: dict[str, Tag] | None = None,
) -> list[tuple[Any, EvaluatedImage]]:
    """(id/created/sha256 row, report entry) for each evaluated image still in the project.

    `tag_ids` keeps those that carried any of these tags when trained (each must exist: NotFoundTag);
    `condition` (on `Image`) is applied to the image as it is now. `trained`: `trained_tags` of the
    report, when the caller has it already.
    """
    entries: dict[str, EvaluatedImage] = {}
    for entry in report.images:
        key = report.image_key(entry)
        if key is not None:
            entries[key] = entry
    if tag_ids:
        ids = {get_tag_row(session, project_id, tag_id).id for tag_id in dict.fromkeys(tag_ids)}
        trained = trained if trained is not None else trained_tags(session, project_id, report)
        wanted = {name for name, tag in trained.items() if tag.id in ids}
        entries = {key: e for key, e in entries.items() if wanted & set(e.true_tags)}
    rows = _rows_by_sha256(session, project_id, list(entries), (Image.id, Image.created, Image.sha256), condition)
    return [(row, entries[row.sha256]) for row in rows]


def _rows_by_sha256(
    session: Session,
    project_id: str,
    shas: Sequence[str],
    columns: tuple,
    condition: ColumnElement[bool] | None = None,
) -> list[Any]:
    """`columns` of the project's images whose sha256 is in `shas` (reports name images by content),
    queried in chunks of `_CHUNK` ids."""
    rows: list[Any] = []
    for start in range(0, len(shas), _CHUNK):
        query = select(*columns).where(Image.project_id == project_id, Image.sha256.in_(shas[start : start + _CHUNK]))
        if condition is not None:
            query = query.where(condition)
        rows.extend(session.execute(query))
    return rows


def evaluated_page(
    session: Session,
    project_id: str,
    report: Report,
    *,
    tag_ids: Sequence[str] = (),
    condition: ColumnElement[bool] | None = None,
    trained: dict[str, Tag] | None = None,
    newest_first: bool = True,
    take: int = 50,
    skip: int = 0,
) -> list[tuple[Image, EvaluatedImage]]:
    """A page of `evaluated` images, newest (or oldest) first: (image row with its metadata, report entry)."""
    ordered = sorted(
        evaluated(session, project_id, report, tag_ids, condition, trained),
        key=lambda pair: (pair[0].created, pair[0].id),
        reverse=newest_first,
    )
    page = ordered[skip : skip + take]
    rows = session.scalars(
        select(Image)
        .where(Image.id.in_([image.id for image, _entry in page]))
        .options(selectinload(Image.metadata_entries))
    )
    by_id = {row.id: row for row in rows}
    return [(by_id[image.id], entry) for image, entry in page]


def image_ids_by_key(ws: Workspace, project: str, keys: Sequence[str]) -> dict[str, str]:
    """{report image key (sha256): image id} for the images still in the project (deleted ones are absent).

    A report names its images by content, so a page that links them to their image pages asks here.
    """
    wanted = list(dict.fromkeys(k for k in keys if k))
    with ws.session() as session:
        project_id = find_project_row(session, project).id
        return dict(_rows_by_sha256(session, project_id, wanted, (Image.sha256, Image.id)))
