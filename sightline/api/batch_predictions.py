"""Sightline's own route for batch predictions: start one as a job that a worker runs, then follow it.

    POST /sightline/v1/projects/{projectId}/batch-predictions   {"publishName", "sources": [...], "output"}
    GET  /sightline/v1/projects/{projectId}/batch-predictions/{jobId}

Custom Vision has no such operation, hence a path of its own. Sources (folders, globs, CSV manifests,
`s3://` prefixes) and the output (.jsonl or .parquet) must lie under `SIGHTLINE_BATCH_ROOTS`; with it
unset every request is refused (400). The rows are those of `sightline predict-batch`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from sightline.api.context import WS, ProjectId
from sightline.api.keys import require_training_key
from sightline.api.models import CamelModel
from sightline.batch import jobs
from sightline.service.batch_jobs import BatchJobView, get_batch_job

router = APIRouter(dependencies=[Depends(require_training_key)], tags=["Batch predictions"])
JobId = Annotated[str, Path(alias="jobId")]


class BatchPredictionRequest(CamelModel):
    publish_name: str = Field(min_length=1, max_length=255)
    sources: list[Annotated[str, Field(min_length=1, max_length=4096)]] = Field(min_length=1, max_length=100)
    output: str = Field(min_length=1, max_length=4096)


class BatchPrediction(CamelModel):
    id: str
    project_id: str
    publish_name: str
    sources: list[str]
    output: str
    status: str  # Queued, Running, Completed, Failed
    total: int
    done: int
    failed: int
    error: str | None
    created: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, view: BatchJobView) -> BatchPrediction:
        return cls(**view.to_dict())


@router.post("/projects/{projectId}/batch-predictions", status_code=202, response_model_by_alias=True)
async def start_batch_prediction(ws: WS, project_id: ProjectId, body: BatchPredictionRequest) -> BatchPrediction:
    view = await run_in_threadpool(jobs.start, ws, project_id, body.publish_name, body.sources, body.output)
    return BatchPrediction.of(view)


@router.get("/projects/{projectId}/batch-predictions/{jobId}", response_model_by_alias=True)
async def get_batch_prediction(ws: WS, project_id: ProjectId, job_id: JobId) -> BatchPrediction:
    return BatchPrediction.of(await run_in_threadpool(get_batch_job, ws, project_id, job_id))
