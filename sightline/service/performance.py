"""An iteration's evaluation report, as stored, or recomputed at another probability threshold.

The report is the engine's `EvaluationReport.to_dict()` plus `warnings`, `skipped_images` and
`image_keys`. The CLI (`iterations show --threshold`), the API (`performance?threshold=`) and the
web UI's threshold slider all read it here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.metrics import precision_score, recall_score

from sightline.errors import NotTrainedError
from sightline.service.iterations import find_iteration_row
from sightline.service.projects import find_project_row
from sightline.service.training import iteration_view
from sightline.service.views import IterationView
from sightline.service.workspace import Workspace

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
