"""Batch prediction jobs as the service sees them: queued for a worker, read back with their progress.

Where a job may read and write is checked before it is queued, by `sightline.batch.jobs` (the layer
that knows paths and URLs); here the project and publish name are checked and the row is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from sightline.errors import InvalidRequestError, NotFoundError
from sightline.service.projects import find_project_row
from sightline.service.workspace import Workspace
from sightline.store import BatchJob, Iteration, IterationStatus


@dataclass(frozen=True)
class BatchJobView:
    id: str
    project_id: str
    publish_name: str
    sources: list[str]
    output: str
    status: str
    total: int  # images the sources name (0 until a worker has expanded them)
    done: int  # rows written, errors included
    failed: int  # rows that are errors (unreadable or not images)
    error: str | None
    created: datetime
    started_at: datetime | None
    finished_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, row: BatchJob) -> BatchJobView:
        return cls(
            row.id,
            row.project_id,
            row.publish_name,
            list(row.sources),
            row.output,
            str(row.status),
            row.total,
            row.done,
            row.failed,
            row.error,
            row.created,
            row.started_at,
            row.finished_at,
        )


def queue_batch_job(
    ws: Workspace, project_id: str, publish_name: str, sources: Sequence[str], output: str
) -> BatchJobView:
    """Queue a job for the workers; NotFoundError when nothing is published under `publish_name`."""
    if not sources:
        raise InvalidRequestError("name at least one source", "BadRequestBatchSource")
    with ws.session() as session:
        project = find_project_row(session, project_id)
        published = session.scalar(
            select(Iteration).where(Iteration.project_id == project.id, Iteration.publish_name == publish_name)
        )
        if published is None or published.status != IterationStatus.COMPLETED:
            raise NotFoundError(
                f"nothing is published as {publish_name!r} in project {project.name!r}", "NotFoundIteration"
            )
        row = BatchJob(project_id=project.id, publish_name=publish_name, sources=list(sources), output=output)
        session.add(row)
        session.flush()
        return BatchJobView.of(row)


def get_batch_job(ws: Workspace, project_id: str, job_id: str) -> BatchJobView:
    with ws.session() as session:
        project = find_project_row(session, project_id)
        row = session.get(BatchJob, job_id)
        if row is None or row.project_id != project.id:
            raise NotFoundError(f"no batch prediction {job_id} in project {project.name!r}", "NotFound")
        return BatchJobView.of(row)
