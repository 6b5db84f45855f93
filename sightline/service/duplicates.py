"""The duplicate and leakage report of an iteration: near-duplicate pairs that disagree on their tags
(label conflicts) and test images that near-duplicate training images (leakage), as the images are now.

The pairs were found once, by the training job, when training started (`Iteration.duplicate_checks`);
iterations trained before that column existed fall back on their reports (`conflicting_images`,
and the test report's `leaked_images`). Nothing is recomputed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from sightline.service.images import image_view
from sightline.service.iterations import find_iteration_row
from sightline.service.projects import find_project_row
from sightline.service.training import iteration_view
from sightline.service.views import DuplicateChecks, ImageView, IterationView
from sightline.service.workspace import Workspace
from sightline.store import Image, ImageTag

CONFLICT = "conflict"
LEAK = "leak"


@dataclass(frozen=True)
class DuplicatePair:
    """Two near-duplicate images. `kind` CONFLICT: two training images with different tags; LEAK: a
    test image (`first`) and the training image it copies (`second`). An image deleted since is None."""

    kind: str
    first_key: str
    second_key: str
    first: ImageView | None
    second: ImageView | None


@dataclass(frozen=True)
class DuplicateReport:
    iteration: IterationView
    checks: DuplicateChecks | None  # None: the iteration has not reached its duplicate search
    pairs: list[DuplicatePair]

    @property
    def conflicts(self) -> list[DuplicatePair]:
        return [p for p in self.pairs if p.kind == CONFLICT]

    @property
    def leaks(self) -> list[DuplicatePair]:
        return [p for p in self.pairs if p.kind == LEAK]


def duplicate_report(ws: Workspace, project_id: str, iteration_id: str | None = None) -> DuplicateReport:
    """The iteration's (default: the latest) label conflicts and leaks, with the images as they are now."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        row = find_iteration_row(session, project, iteration_id)
        view = iteration_view(row)
        checks = view.duplicate_checks
        report, test_report = row.report or {}, row.test_report or {}
        if checks is None and ("conflicting_images" in report or "leaked_images" in test_report):
            # trained before the search was recorded when training started: its reports say the same
            checks = DuplicateChecks.from_json(
                {
                    "conflicting_images": report.get("conflicting_images"),
                    "leaked_images": test_report.get("leaked_images"),
                }
            )
        if checks is None:
            return DuplicateReport(view, None, [])
        keyed = [(CONFLICT, a, b) for a, b in checks.conflicting_images]
        keyed += [(LEAK, a, b) for a, b in checks.leaked_images]
        wanted = {key for _, a, b in keyed for key in (a, b)}
        rows = session.scalars(
            select(Image)
            .where(Image.project_id == project.id, Image.sha256.in_(wanted))
            .options(selectinload(Image.tag_links).selectinload(ImageTag.tag), selectinload(Image.metadata_entries))
        ).all()
        found = {image.sha256: image_view(image) for image in rows}
    pairs = [DuplicatePair(kind, a, b, found.get(a), found.get(b)) for kind, a, b in keyed]
    return DuplicateReport(view, checks, pairs)
