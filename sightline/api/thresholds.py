"""Sightline's addition to the Training API: the thresholds an iteration's predictions use.

    GET /customvision/v3.x/training/projects/{projectId}/iterations/{iterationId}/thresholds
    PUT /customvision/v3.x/training/projects/{projectId}/iterations/{iterationId}/thresholds

Custom Vision has one probability threshold per request; Sightline keeps a project's one threshold and,
per iteration, per-tag thresholds (see `sightline.service.thresholds`). Every prediction echoes the
threshold each tag was held to (`predictions[].threshold`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import Field

from sightline.api.context import WS, IterationId, ProjectId
from sightline.api.keys import require_training_key
from sightline.api.schemas import CamelModel
from sightline.service import tags as tag_service
from sightline.service import thresholds
from sightline.service.thresholds import ThresholdsView

router = APIRouter(dependencies=[Depends(require_training_key)], tags=["Iterations"])


class TagThreshold(CamelModel):
    tag_id: str | None
    tag_name: str
    threshold: float  # what the tag is held to
    own: bool  # set for this tag (else the project's threshold)
    suggested: float | None  # best F1 out of fold (optimistic: chosen on the same predictions)


class Thresholds(CamelModel):
    project_id: str
    iteration_id: str
    threshold: float  # the project's one threshold
    tags: list[TagThreshold]

    @classmethod
    def of(cls, view: ThresholdsView, tag_ids: dict[str, str]) -> Thresholds:
        return cls(
            project_id=view.project_id,
            iteration_id=view.iteration_id,
            threshold=view.threshold,
            tags=[
                TagThreshold(
                    tag_id=tag_ids.get(name),
                    tag_name=name,
                    threshold=value,
                    own=name in view.per_tag,
                    suggested=view.suggested.get(name),
                )
                for name, value in view.tags.items()
            ],
        )


class ThresholdsUpdate(CamelModel):
    """Applied in this order: `clear`, `threshold`, `suggested` (with `targetPrecision`), `tags`."""

    clear: bool = False  # drop the iteration's per-tag thresholds
    threshold: float | None = Field(default=None, gt=0.0, lt=1.0)  # the project's one threshold
    suggested: str | None = Field(default=None, pattern="^(best-f1|precision)$")
    target_precision: float | None = Field(default=None, ge=0.0, le=1.0)
    tags: dict[str, float] = Field(default_factory=dict)  # tag id or name -> its threshold


def _tag_ids(ws, project_id: str) -> dict[str, str]:
    return {t.name: t.id for t in tag_service.list_tags(ws, project_id)}


@router.get("/projects/{projectId}/iterations/{iterationId}/thresholds")
def get_thresholds(ws: WS, project_id: ProjectId, iteration_id: IterationId) -> Thresholds:
    """The project's threshold and each tag's for this iteration, with the suggested best-F1 ones."""
    return Thresholds.of(thresholds.get_thresholds(ws, project_id, iteration_id), _tag_ids(ws, project_id))


@router.put("/projects/{projectId}/iterations/{iterationId}/thresholds")
def set_thresholds(ws: WS, project_id: ProjectId, iteration_id: IterationId, body: ThresholdsUpdate) -> Thresholds:
    """Set thresholds; the next prediction uses them. Tags are named by id or by name."""
    tag_ids = _tag_ids(ws, project_id)
    names = {tag_id: name for name, tag_id in tag_ids.items()}
    view = thresholds.set_thresholds(
        ws,
        project_id,
        iteration_id,
        threshold=body.threshold,
        tags={names.get(key, key): value for key, value in body.tags.items()},
        suggested=body.suggested,
        target_precision=body.target_precision,
        clear=body.clear,
    )
    return Thresholds.of(view, tag_ids)
