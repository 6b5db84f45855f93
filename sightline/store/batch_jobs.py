"""Batch prediction jobs as rows that workers claim, keep alive while they report progress, and finish.

The same protocol as training jobs (`sightline.store.jobs`): a claim is one conditional UPDATE of the
oldest claimable row (`FOR UPDATE SKIP LOCKED` on PostgreSQL) under a lease; a worker that dies stops
renewing it and, once it has expired, another worker claims the job again, up to `max_attempts`
claims. Call each function in its own short session.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from sightline.store.jobs import DEFAULT_MAX_ATTEMPTS
from sightline.store.models import BatchJob, BatchJobStatus
from sightline.store.sqltypes import utcnow


def _claimable(now: datetime, max_attempts: int) -> ColumnElement[bool]:
    stale = and_(
        BatchJob.status == BatchJobStatus.RUNNING,
        BatchJob.lease_expires_at < now,
        BatchJob.attempts < max_attempts,
    )
    return or_(BatchJob.status == BatchJobStatus.QUEUED, stale)


def _owned_by(job_id: str, worker_id: str) -> ColumnElement[bool]:
    return and_(BatchJob.id == job_id, BatchJob.claimed_by == worker_id, BatchJob.status == BatchJobStatus.RUNNING)


def claim_next_batch_job(
    session: Session,
    worker_id: str,
    lease_seconds: float,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    now: datetime | None = None,
) -> BatchJob | None:
    """Take the oldest claimable batch job for `worker_id` (status Running), or None."""
    now = now or utcnow()
    candidate = (
        select(BatchJob.id)
        .where(_claimable(now, max_attempts))
        .order_by(BatchJob.created, BatchJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claim = (
        update(BatchJob)
        .where(BatchJob.id == candidate, _claimable(now, max_attempts))
        .values(
            status=BatchJobStatus.RUNNING,
            claimed_by=worker_id,
            started_at=now,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=BatchJob.attempts + 1,
        )
        .returning(BatchJob.id)
        .execution_options(synchronize_session=False)
    )
    claimed_id = session.execute(claim).scalar_one_or_none()
    return None if claimed_id is None else session.get(BatchJob, claimed_id, populate_existing=True)


def report_batch_progress(
    session: Session,
    job_id: str,
    worker_id: str,
    lease_seconds: float,
    *,
    total: int,
    done: int,
    failed: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Record progress (`failed`: None leaves it as it is) and renew the lease; False means another worker
    owns the job now: stop."""
    now = now or utcnow()
    values = {"total": total, "done": done, "lease_expires_at": now + timedelta(seconds=lease_seconds)}
    if failed is not None:
        values["failed"] = failed
    renew = (
        update(BatchJob)
        .where(_owned_by(job_id, worker_id))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return session.execute(renew).rowcount == 1  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult


def finish_batch_job(
    session: Session,
    job_id: str,
    worker_id: str,
    status: BatchJobStatus,
    *,
    error: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Move a job this worker owns to Completed or Failed; False (and no change) if it no longer owns it."""
    if not BatchJobStatus(status).is_terminal:
        raise ValueError(f"finish_batch_job needs a terminal status, not {status!r}")
    now = now or utcnow()
    finish = (
        update(BatchJob)
        .where(_owned_by(job_id, worker_id))
        .values(status=status, error=error, finished_at=now, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return session.execute(finish).rowcount == 1  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult


def fail_abandoned_batch_jobs(
    session: Session, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS, now: datetime | None = None
) -> int:
    """Fail expired jobs that have used up their attempts; returns how many."""
    now = now or utcnow()
    attempts = f"{max_attempts} attempt" + ("" if max_attempts == 1 else "s")
    statement = (
        update(BatchJob)
        .where(
            BatchJob.status == BatchJobStatus.RUNNING,
            BatchJob.lease_expires_at < now,
            BatchJob.attempts >= max_attempts,
        )
        .values(
            status=BatchJobStatus.FAILED,
            error=f"batch prediction gave up after {attempts}: the worker stopped responding each time",
            finished_at=now,
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).rowcount  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
