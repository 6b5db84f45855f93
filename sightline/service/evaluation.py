"""Scoring an iteration on labelled images that are not in the project (`sightline evaluate`).

The images are read, embedded and scored, never stored. An image that cannot be read, or whose tags
the iteration did not train on, is reported on its own and left out; the rest are scored.
"""

from __future__ import annotations

from dataclasses import dataclass

from sightline.service.importing import ImportItem
from sightline.service.iterations import trained_iteration, trained_model
from sightline.service.report import StoredReport
from sightline.service.views import IterationView
from sightline.service.workspace import Workspace
from sightline.store import Iteration


@dataclass(frozen=True)
class Evaluation:
    """An iteration's report on outside images, and the images left out with the reason."""

    iteration: IterationView
    report: dict  # EvaluationReport.to_dict() with `image_paths`; {} when no image could be scored
    errors: list[tuple[str, str]]  # (path, why it was left out)

    @property
    def summary(self) -> StoredReport | None:
        """The report typed, as the front ends read every report (None when no image could be scored)."""
        return StoredReport.from_dict(self.report)

    def to_dict(self) -> dict:
        return {
            "iteration": {"id": self.iteration.id, "name": self.iteration.name},
            "report": self.report,
            "errors": [{"path": path, "error": message} for path, message in self.errors],
        }


def evaluate_items(
    ws: Workspace, project_id: str, items: list[ImportItem], iteration_id: str | None = None
) -> Evaluation:
    """Score the iteration (default: the latest) on `items`, each with its tags."""
    view = trained_iteration(ws, project_id, iteration_id)
    with ws.session() as session:
        artifact_key = session.get_one(Iteration, view.id).artifact_key
    assert artifact_key is not None  # a trained iteration has its model
    classifier = trained_model(ws, artifact_key, view.domain)
    labels = [item.tags if classifier.multilabel or len(item.tags) != 1 else item.tags[0] for item in items]
    score = classifier.score([str(item.path) for item in items], labels)
    report = score.report.to_dict() if score.report is not None else {}
    if report:
        report["image_paths"] = [str(items[i].path) for i in score.scored]
    return Evaluation(view, report, [(str(items[i].path), message) for i, message in score.errors])
