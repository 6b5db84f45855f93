"""Training jobs as iteration rows that any number of workers claim, keep alive, and finish.

A worker claims the oldest claimable iteration and holds it under a lease that it renews with
`heartbeat`. A worker that dies stops renewing; once its lease has expired the job can be claimed
again (up to `max_attempts` claims, so a job that kills every worker does not loop forever).
Every state change is one conditional UPDATE, so two workers can never both believe they own a
job: on PostgreSQL the candidate row is locked with `FOR UPDATE SKIP LOCKED` (concurrent workers
skip to the next job instead of queueing behind each other); SQLite runs one writer at a time.

Call each function in its own short session (`with store.session() as s: ...`): the changes are
committed, and other workers see them, when that session ends. Times come from the caller's
clock (`now`, default `utcnow()`); keep worker clocks in sync to well under the lease length.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, CursorResult, Executable, and_, or_, select, update
from sqlalchemy.orm import Session

from sightline.store.models import Iteration, IterationStatus
from sightline.store.sqltypes import utcnow

DEFAULT_MAX_ATTEMPTS = 3


def _claimable(now: datetime, max_attempts: int) -> ColumnElement[bool]:
    """Queued jobs, and Training jobs whose worker stopped renewing its lease (killed, lost)."""
    stale = and_(
        Iteration.status == IterationStatus.TRAINING,
        Iteration.lease_expires_at < now,
        Iteration.attempts < max_attempts,
    )
    return and_(
        Iteration.cancel_requested.is_(False),
        or_(Iteration.status == IterationStatus.QUEUED, stale),
    )


def _owned_by(iteration_id: str, worker_id: str) -> ColumnElement[bool]:
    return and_(
        Iteration.id == iteration_id,
        Iteration.claimed_by == worker_id,
        Iteration.status == IterationStatus.TRAINING,
    )


def claim_next_job(
    session: Session,
    worker_id: str,
    lease_seconds: float,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    now: datetime | None = None,
) -> Iteration | None:
    """Take the oldest claimable job for `worker_id` and return it (status Training), or None."""
    now = now or utcnow()
    candidate = (
        select(Iteration.id)
        .where(_claimable(now, max_attempts))
        .order_by(Iteration.created, Iteration.id)
        .limit(1)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL only; SQLite has one writer anyway
        .scalar_subquery()
    )
    claim = (
        update(Iteration)
        # Repeat the condition: the row must still be claimable when the UPDATE itself runs.
        .where(Iteration.id == candidate, _claimable(now, max_attempts))
        .values(
            status=IterationStatus.TRAINING,
            claimed_by=worker_id,
            started_at=now,
            heartbeat_at=now,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=Iteration.attempts + 1,
            modified=now,
            # a retried job must not show the progress of the worker that died on it
            progress_phase=None,
            progress_done=0,
            progress_total=0,
        )
        .returning(Iteration.id)
        .execution_options(synchronize_session=False)
    )
    claimed_id = session.execute(claim).scalar_one_or_none()
    if claimed_id is None:
        return None
    return session.get(Iteration, claimed_id, populate_existing=True)


def heartbeat(
    session: Session,
    iteration_id: str,
    worker_id: str,
    lease_seconds: float,
    *,
    now: datetime | None = None,
) -> bool:
    """Renew the lease. False means stop working: the job was cancelled or another worker owns it."""
    now = now or utcnow()
    renew = (
        update(Iteration)
        .where(_owned_by(iteration_id, worker_id), Iteration.cancel_requested.is_(False))
        .values(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return _changed(session, renew) == 1


def finish_job(
    session: Session,
    iteration_id: str,
    worker_id: str,
    status: IterationStatus,
    *,
    error: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Move a job this worker owns to a terminal status; False (and no change) if it no longer owns it.

    The caller records its results (artifact, report, trained_at) in the same session only when
    this returns True, so a worker whose lease was lost never overwrites the new owner's work.
    """
    if not IterationStatus(status).is_terminal:
        raise ValueError(f"finish_job needs a terminal status, not {status!r}")
    now = now or utcnow()
    finish = (
        update(Iteration)
        .where(_owned_by(iteration_id, worker_id))
        .values(status=status, error=error, finished_at=now, lease_expires_at=None, modified=now)
        .execution_options(synchronize_session=False)
    )
    if _changed(session, finish) != 1:
        return False
    session.get(Iteration, iteration_id, populate_existing=True)  # refresh a copy the caller may hold
    return True


def request_cancel(session: Session, iteration_id: str, *, now: datetime | None = None) -> IterationStatus | None:
    """Cancel a job: a Queued one at once, a Training one by asking its worker (see `heartbeat`).

    Returns the status after the request (Cancelled, Training, or the terminal status it already
    had), or None when there is no such iteration.
    """
    now = now or utcnow()
    cancel_queued = (
        update(Iteration)
        .where(Iteration.id == iteration_id, Iteration.status == IterationStatus.QUEUED)
        .values(status=IterationStatus.CANCELLED, finished_at=now, modified=now)
        .execution_options(synchronize_session=False)
    )
    if _changed(session, cancel_queued) == 1:
        return IterationStatus.CANCELLED
    # Claimed between the two statements, or already running: flag it for its worker.
    flag_running = (
        update(Iteration)
        .where(Iteration.id == iteration_id, Iteration.status == IterationStatus.TRAINING)
        .values(cancel_requested=True, modified=now)
        .execution_options(synchronize_session=False)
    )
    if _changed(session, flag_running) == 1:
        return IterationStatus.TRAINING
    return session.scalar(select(Iteration.status).where(Iteration.id == iteration_id))


def release_stale(session: Session, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS, now: datetime | None = None) -> int:
    """Close expired jobs that no worker may claim again; return how many changed.

    An expired job whose cancellation was requested becomes Cancelled; one that has used up
    `max_attempts` becomes Failed. Other expired jobs are left for `claim_next_job` to retry.
    """
    now = now or utcnow()
    expired = and_(Iteration.status == IterationStatus.TRAINING, Iteration.lease_expires_at < now)
    attempts = f"{max_attempts} attempt" + ("" if max_attempts == 1 else "s")
    closed = 0
    for condition, values in (
        (Iteration.cancel_requested.is_(True), {"status": IterationStatus.CANCELLED}),
        (
            Iteration.attempts >= max_attempts,
            {
                "status": IterationStatus.FAILED,
                "error": f"training gave up after {attempts}: the worker stopped responding each time "
                "(killed, or out of memory); see the worker's log",
            },
        ),
    ):
        statement = (
            update(Iteration)
            .where(expired, condition)
            .values(**values, finished_at=now, lease_expires_at=None, modified=now)
            .execution_options(synchronize_session=False)
        )
        closed += _changed(session, statement)
    return closed


def _changed(session: Session, statement: Executable) -> int:
    """Rows an UPDATE changed (its result is a CursorResult; `Session.execute` is typed as any Result)."""
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount
