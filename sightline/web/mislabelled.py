"""The image gallery's "Likely mislabelled" view: the latest iteration's ranking of training images whose
tag is probably wrong (confident learning on group-aware out-of-fold probabilities, `learn.label_errors`),
as the images are now, each with the tag the model suggests, for one-click retagging."""

from __future__ import annotations

from dataclasses import dataclass

from sightline.reporting import performance as reporting
from sightline.service import Workspace, images, iterations, performance, tags
from sightline.service.views import ImageView, IterationView


@dataclass(frozen=True)
class Suspect:
    image: ImageView
    given: str
    suggested: str
    suggested_tag_id: str | None  # None: that tag was deleted since training
    self_confidence: float  # the model's probability of the given tag


def likely_mislabelled(ws: Workspace, project_id: str) -> tuple[IterationView | None, list[Suspect]]:
    """The latest completed iteration (None: none yet) and its suspects, most likely first. Images deleted,
    moved to the test set or retagged since that training are left out: there is nothing left to fix."""
    completed = iterations.completed_iterations(ws, project_id)
    if not completed:
        return None, []
    view, report = performance.iteration_report(ws, project_id, completed[-1].id)
    if report is None:  # a completed iteration has its report; an old one may have lost it
        return view, []
    issues = reporting.label_issues(report)
    ids = performance.image_ids_by_key(ws, project_id, [i.image_key for i in issues if i.image_key])
    found = {image.id: image for image in images.get_images(ws, project_id, list(ids.values()))}
    tag_ids = {tag.name: tag.id for tag in tags.list_tags(ws, project_id)}
    suspects = []
    for issue in issues:
        image = found.get(ids.get(issue.image_key or "", ""))
        if image is None or image.test_set or [t.name for t in image.tags] != [issue.given]:
            continue
        suspects.append(
            Suspect(image, issue.given, issue.suggested, tag_ids.get(issue.suggested), issue.self_confidence)
        )
    return view, suspects
