"""Thresholds that act: a project's one threshold, or per-tag thresholds stored with an iteration.

A tag counts as predicted (`above_threshold`) when its probability reaches its threshold; the same
thresholds decide `uncertain` (see `sightline.learn.decisions`). Per-tag thresholds belong to an
iteration because they are read off that iteration's out-of-fold evaluation: the best-F1 thresholds
it suggests, or the lowest reaching a target precision, applied in one step. Tags without a per-tag
threshold use the project's. Every prediction echoes the threshold each tag was held to.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from sightline.codes import ErrorCode
from sightline.errors import InvalidRequestError, NotTrainedError
from sightline.service.iterations import find_iteration_row
from sightline.service.projects import find_project_row
from sightline.service.report import StoredReport
from sightline.service.workspace import Workspace
from sightline.store import Iteration, IterationStatus, Project, utcnow

#: How `set_thresholds` can fill per-tag thresholds from the iteration's evaluation in one step.
SUGGESTIONS = ("best-f1", "precision")


@dataclass(frozen=True)
class ThresholdsView:
    """The thresholds an iteration's predictions use: `tags` maps every tag it reports to its threshold."""

    project_id: str
    iteration_id: str
    iteration_name: str
    threshold: float  # the project's one threshold: tags without their own use it
    tags: dict[str, float]  # every reported tag -> the threshold it is held to
    per_tag: dict[str, float]  # the tags with their own threshold (a subset of `tags`)
    suggested: dict[str, float]  # best F1 on the out-of-fold predictions, per tag (optimistic)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def checked_threshold(value: float, what: str = "threshold") -> float:
    """A threshold is a probability in [0, 1] (1 tags nothing; 0 tags everything)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise InvalidRequestError(f"{what} must be a number between 0 and 1, not {value!r}")
    if not 0.0 <= value <= 1.0:
        raise InvalidRequestError(f"{what} must be between 0 and 1, not {value}")
    return float(value)


def tag_thresholds_of(iteration: Iteration, project: Project, tags: list[str]) -> list[float]:
    """The threshold of each of `tags` for this iteration's predictions (its own, else the project's)."""
    own = iteration.tag_thresholds or {}
    return [float(own.get(tag, project.threshold)) for tag in tags]


def get_thresholds(ws: Workspace, project_id: str, iteration_id: str | None = None) -> ThresholdsView:
    """The thresholds of an iteration (default: the latest), with the suggested ones."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        iteration = _trained(session, project, iteration_id)
        return _view(project, iteration)


def set_thresholds(
    ws: Workspace,
    project_id: str,
    iteration_id: str | None = None,
    *,
    threshold: float | None = None,
    tags: Mapping[str, float] | None = None,
    suggested: str | None = None,
    target_precision: float | None = None,
    clear: bool = False,
) -> ThresholdsView:
    """Change thresholds in one transaction, in this order: `clear` drops the iteration's per-tag thresholds,
    `threshold` sets the project's one threshold, `suggested` ("best-f1", or "precision" with
    `target_precision`) sets every tag's from the evaluation, `tags` sets some tags' own.

    A tag name the iteration does not report, or a value outside [0, 1], is refused and nothing changes.
    """
    if suggested is not None and suggested not in SUGGESTIONS:
        raise InvalidRequestError(f"unknown suggestion {suggested!r}: use {' or '.join(SUGGESTIONS)}")
    if suggested == "precision":
        if target_precision is None:
            raise InvalidRequestError("thresholds for a target precision need the target (e.g. 0.95)")
        checked_threshold(target_precision, "target precision")
    if threshold is not None and not 0.0 < checked_threshold(threshold) < 1.0:
        raise InvalidRequestError(f"the project's threshold must be between 0 and 1, not {threshold}")
    with ws.session() as session:
        project = find_project_row(session, project_id)
        iteration = _trained(session, project, iteration_id)
        reported = _reported_tags(iteration)
        own = {} if clear else dict(iteration.tag_thresholds or {})
        if threshold is not None:
            project.threshold = float(threshold)
            project.modified = utcnow()
        if suggested is not None:
            own.update(_suggested(iteration, reported, target_precision if suggested == "precision" else None))
        for name, value in (tags or {}).items():
            if name not in reported:
                raise InvalidRequestError(
                    f"{iteration.name} has no tag {name!r}: its tags are {', '.join(reported)}",
                    ErrorCode.BadRequestInvalidTag,
                )
            own[name] = checked_threshold(value, f"the threshold of {name!r}")
        iteration.tag_thresholds = own or None
        session.flush()
        return _view(project, iteration)


def _trained(session: Session, project: Project, iteration_id: str | None) -> Iteration:
    iteration = find_iteration_row(session, project, iteration_id)
    if iteration.status != IterationStatus.COMPLETED or not iteration.report:
        raise NotTrainedError(f"{iteration.name} is {iteration.status}: it has thresholds once training has completed")
    return iteration


def _report(iteration: Iteration) -> StoredReport:
    return StoredReport.from_dict(iteration.report) or StoredReport()


def _reported_tags(iteration: Iteration) -> list[str]:
    return _report(iteration).tags


def _suggested(iteration: Iteration, tags: list[str], target_precision: float | None) -> dict[str, float]:
    """Per tag: the report's best-F1 threshold, or the lowest reaching `target_precision` out of fold."""
    report = _report(iteration)
    if target_precision is None:
        per_tag = {e.tag: e.suggested_threshold for e in report.per_tag}
        return {t: float(v) for t in tags if (v := per_tag.get(t)) is not None}
    import numpy as np

    from sightline.learn.decisions import suggest_thresholds

    images = [i for i in report.images if len(i.probabilities) == len(tags)]
    if not images:
        return {}
    truth = np.array([[t in i.true_tags for t in tags] for i in images], dtype=int)
    probs = np.array([i.probabilities for i in images], dtype=float)
    default = report.threshold if report.threshold is not None else float(iteration.project.threshold)
    values = suggest_thresholds(truth, probs, target_precision=target_precision, default=default)
    return {t: float(v) for t, v in zip(tags, values, strict=True)}


def _view(project: Project, iteration: Iteration) -> ThresholdsView:
    tags = _reported_tags(iteration)
    own = {t: float(v) for t, v in (iteration.tag_thresholds or {}).items()}
    per_tag_report = {e.tag: e.suggested_threshold for e in _report(iteration).per_tag}
    return ThresholdsView(
        project_id=project.id,
        iteration_id=iteration.id,
        iteration_name=iteration.name,
        threshold=float(project.threshold),
        tags=dict(zip(tags, tag_thresholds_of(iteration, project, tags), strict=True)),
        per_tag=own,
        suggested={t: float(v) for t, v in per_tag_report.items() if v is not None and t in tags},
    )
