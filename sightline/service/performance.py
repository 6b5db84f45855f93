"""An iteration's evaluation report, as stored, or recomputed at another probability threshold.

The report is the engine's `EvaluationReport.to_dict()` plus `warnings`, `skipped_images` and
`image_keys`. The CLI (`iterations show --threshold`), the API (`performance?threshold=`) and the
web UI's threshold slider all read it here, and Custom Vision's GetImagePerformances reads its
per-image out-of-fold probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from sightline.errors import NotTrainedError
from sightline.service.images import image_view
from sightline.service.iterations import find_iteration_row
from sightline.service.projects import find_project_row
from sightline.service.tags import get_tag_row, tag_summary
from sightline.service.training import iteration_view
from sightline.service.views import ImagePerformanceView, IterationView
from sightline.service.workspace import Workspace
from sightline.store import Image, ImageTag, Tag

Report = dict[str, Any]


def iteration_report(
    ws: Workspace, project: str, iteration: str | None = None, *, threshold: float | None = None
) -> tuple[IterationView, Report]:
    """The iteration (default: the latest) and its report ({} until training has completed)."""
    with ws.session() as session:
        row = find_iteration_row(session, find_project_row(session, project), iteration)
        view, report = iteration_view(row), dict(row.report or {})
    if threshold is None or not report or math.isclose(threshold, report.get("threshold", -1.0)):
        return view, report  # the trained threshold keeps the spread across folds, which recomputing loses
    return view, at_threshold(report, threshold)


def trained_report(
    ws: Workspace, project: str, iteration: str | None = None, *, threshold: float | None = None
) -> tuple[IterationView, Report]:
    """As `iteration_report`, but an iteration without a report (not trained yet, failed) is an error."""
    view, report = iteration_report(ws, project, iteration, threshold=threshold)
    if not report:
        raise NotTrainedError(f"{view.name} is {view.status}: it has performance figures once training has completed")
    return view, report


def at_threshold(report: Report, threshold: float) -> Report:
    """The report with precision and recall (overall and per tag) recomputed at another threshold.

    Computed from the stored out-of-fold probabilities; the spread across folds cannot be (fold
    membership is not stored), so the *_std figures are dropped.
    """
    from sklearn.metrics import precision_score, recall_score  # here: scikit-learn costs the CLI ~1 s to import

    tags = list(report.get("tags") or [])
    images = [i for i in report.get("images") or [] if len(i.get("probabilities") or []) == len(tags)]
    if not tags or not images:
        return report
    truth = np.array([[t in (i.get("true_tags") or []) for t in tags] for i in images], dtype=int)
    predicted = (np.array([i["probabilities"] for i in images], dtype=float) >= threshold).astype(int)
    per_tag = {entry.get("tag"): dict(entry) for entry in report.get("per_tag") or []}
    for j, tag in enumerate(tags):
        entry = per_tag.setdefault(tag, {"tag": tag})
        entry["precision"] = float(precision_score(truth[:, j], predicted[:, j], zero_division=0.0))
        entry["recall"] = float(recall_score(truth[:, j], predicted[:, j], zero_division=0.0))
        entry["precision_std"] = entry["recall_std"] = None
    return {
        **report,
        "threshold": threshold,
        "precision": float(precision_score(truth.ravel(), predicted.ravel(), zero_division=0.0)),
        "recall": float(recall_score(truth.ravel(), predicted.ravel(), zero_division=0.0)),
        "per_tag": list(per_tag.values()),
    }


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
    tags = list(report.get("tags") or [])
    with ws.session() as session:
        project_row = find_project_row(session, project)
        evaluated = _evaluated(session, project_row.id, report, tag_ids)
        ordered = sorted(evaluated, key=lambda pair: (pair[0].created, pair[0].id), reverse=newest_first)
        page = ordered[skip : skip + take]
        rows = session.scalars(
            select(Image)
            .where(Image.id.in_([image.id for image, _entry in page]))
            .options(selectinload(Image.tag_links).selectinload(ImageTag.tag), selectinload(Image.metadata_entries))
        )
        by_id = {row.id: row for row in rows}
        current = {t.name: t for t in session.scalars(select(Tag).where(Tag.project_id == project_row.id))}
        views = []
        for image, entry in page:
            probabilities = sorted(
                zip(tags, entry.get("probabilities") or [], strict=False), key=lambda p: p[1], reverse=True
            )
            views.append(
                ImagePerformanceView(
                    image=image_view(by_id[image.id]),
                    trained_tags=[tag_summary(current[t]) for t in entry.get("true_tags") or [] if t in current],
                    predictions=[
                        {"tag_id": current[t].id if t in current else None, "tag_name": t, "probability": float(p)}
                        for t, p in probabilities
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
        return len(_evaluated(session, find_project_row(session, project).id, report, tag_ids))


_CHUNK = 500  # ids per IN (...) query: SQLite allows a few thousand bound parameters at most


def _evaluated(session: Session, project_id: str, report: Report, tag_ids: Sequence[str]) -> list[tuple[Any, dict]]:
    """(image id/created row, report entry) for each evaluated image still in the project, filtered by tags."""
    wanted = {get_tag_row(session, project_id, tag_id).name for tag_id in dict.fromkeys(tag_ids)}
    keys = list(report.get("image_keys") or [])
    entries: dict[str, dict] = {}
    for entry in report.get("images") or []:
        index = entry.get("index")
        if not isinstance(index, int) or not 0 <= index < len(keys):
            continue
        if wanted and not wanted & set(entry.get("true_tags") or []):
            continue
        entries[keys[index]] = entry
    found = []
    shas = list(entries)
    for start in range(0, len(shas), _CHUNK):
        chunk = shas[start : start + _CHUNK]
        query = select(Image.id, Image.created, Image.sha256).where(
            Image.project_id == project_id, Image.sha256.in_(chunk)
        )
        found.extend((row, entries[row.sha256]) for row in session.execute(query))
    return found


def image_ids_by_key(ws: Workspace, project: str, keys: Sequence[str]) -> dict[str, str]:
    """{report image key (sha256): image id} for the images still in the project (deleted ones are absent).

    A report names its images by content, so a page that links them to their image pages asks here.
    """
    wanted = list(dict.fromkeys(k for k in keys if k))
    found: dict[str, str] = {}
    with ws.session() as session:
        project_id = find_project_row(session, project).id
        for start in range(0, len(wanted), _CHUNK):
            query = select(Image.sha256, Image.id).where(
                Image.project_id == project_id, Image.sha256.in_(wanted[start : start + _CHUNK])
            )
            found.update((sha, image_id) for sha, image_id in session.execute(query))
    return found
