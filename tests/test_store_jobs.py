"""Training jobs: claiming, leases, heartbeats, cancellation, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from sightline.store import (
    Iteration,
    IterationStatus,
    Project,
    Store,
    claim_next_job,
    finish_job,
    heartbeat,
    release_stale,
    request_cancel,
    utcnow,
)

pytest_plugins = ["store_fixtures"]  # store, store_url, pg_store: SQLite and PostgreSQL

LEASE = 60.0


def _queue(store: Store, count: int) -> list[str]:
    """`count` queued iterations, oldest first, each of its own project (one may be active per project)."""
    start = utcnow() - timedelta(hours=1)
    with store.session() as session:
        projects = [Project(name=f"Shoes {n}", domain="tiny") for n in range(count)]
        session.add_all(projects)
        session.flush()
        iterations = [
            Iteration(
                project_id=project.id,
                name="Iteration 1",
                classification_type=project.classification_type,
                domain=project.domain,
                created=start + timedelta(seconds=n),
            )
            for n, project in enumerate(projects)
        ]
        session.add_all(iterations)
    return [iteration.id for iteration in iterations]


def _claim(store: Store, worker: str, **kwargs) -> Iteration | None:
    with store.session() as session:
        return claim_next_job(session, worker, LEASE, **kwargs)


def _status(store: Store, iteration_id: str) -> Iteration:
    with store.session() as session:
        return session.get(Iteration, iteration_id)


def test_claim_takes_the_oldest_queued_job_and_leases_it(store):
    first, second = _queue(store, 2)
    now = utcnow()
    job = _claim(store, "worker-a", now=now)
    assert job.id == first
    assert (job.status, job.claimed_by, job.attempts) == (IterationStatus.TRAINING, "worker-a", 1)
    assert job.lease_expires_at == now + timedelta(seconds=LEASE)
    assert job.started_at == job.heartbeat_at == now
    stored = _status(store, first)
    assert (stored.status, stored.claimed_by) == ("Training", "worker-a")
    assert _claim(store, "worker-b").id == second
    assert _claim(store, "worker-c") is None


def test_two_workers_never_claim_the_same_job(store):
    ids = _queue(store, 8)
    claimed: dict[str, list[str]] = {"worker-a": [], "worker-b": []}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(worker: str) -> None:
        barrier.wait()
        try:
            while (job := _claim(store, worker)) is not None:
                claimed[worker].append(job.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    together = claimed["worker-a"] + claimed["worker-b"]
    assert sorted(together) == sorted(ids)  # every job once: none lost, none twice


def test_a_locked_job_is_skipped_not_waited_for(pg_store):
    """PostgreSQL: while one worker's claim is uncommitted, another takes the next job at once."""
    first, second = _queue(pg_store, 2)
    with pg_store.session() as worker_a:
        assert claim_next_job(worker_a, "worker-a", LEASE).id == first
        with pg_store.session() as worker_b:
            worker_b.execute(text("SET LOCAL lock_timeout = '3s'"))  # fail, rather than hang, if it waits
            assert claim_next_job(worker_b, "worker-b", LEASE).id == second
    assert _status(pg_store, first).claimed_by == "worker-a"
    assert _status(pg_store, second).claimed_by == "worker-b"


def test_an_expired_lease_is_reclaimed_by_another_worker(store):
    (job_id,) = _queue(store, 1)
    start = utcnow()
    _claim(store, "dead-worker", now=start)
    assert _claim(store, "worker-b", now=start + timedelta(seconds=LEASE / 2)) is None
    reclaimed = _claim(store, "worker-b", now=start + timedelta(seconds=LEASE + 1))
    assert (reclaimed.id, reclaimed.claimed_by, reclaimed.attempts) == (job_id, "worker-b", 2)
    with store.session() as session:
        assert heartbeat(session, job_id, "dead-worker", LEASE) is False  # it lost the job
        assert heartbeat(session, job_id, "worker-b", LEASE) is True


def test_heartbeat_extends_the_lease(store):
    (job_id,) = _queue(store, 1)
    start = utcnow()
    _claim(store, "worker-a", now=start)
    later = start + timedelta(seconds=LEASE - 1)
    with store.session() as session:
        assert heartbeat(session, job_id, "worker-a", LEASE, now=later)
    assert _status(store, job_id).lease_expires_at == later + timedelta(seconds=LEASE)
    assert _claim(store, "worker-b", now=start + timedelta(seconds=LEASE + 1)) is None


def test_heartbeat_returns_false_once_cancel_is_requested(store):
    (job_id,) = _queue(store, 1)
    _claim(store, "worker-a")
    with store.session() as session:
        assert request_cancel(session, job_id) == IterationStatus.TRAINING
    with store.session() as session:
        assert heartbeat(session, job_id, "worker-a", LEASE) is False
        assert finish_job(session, job_id, "worker-a", IterationStatus.CANCELLED)
    job = _status(store, job_id)
    assert (job.status, job.lease_expires_at) == (IterationStatus.CANCELLED, None)
    assert job.finished_at is not None


def test_cancelling_a_queued_job_cancels_it_at_once(store):
    (job_id,) = _queue(store, 1)
    with store.session() as session:
        assert request_cancel(session, job_id) == IterationStatus.CANCELLED
        assert request_cancel(session, job_id) == IterationStatus.CANCELLED  # again: unchanged
        assert request_cancel(session, "no-such-id") is None
    assert _claim(store, "worker-a") is None


def test_only_the_owner_can_finish_a_job(store):
    (job_id,) = _queue(store, 1)
    _claim(store, "worker-a")
    with store.session() as session:
        assert finish_job(session, job_id, "worker-b", IterationStatus.COMPLETED) is False
        assert finish_job(session, job_id, "worker-a", IterationStatus.FAILED, error="out of memory")
        assert finish_job(session, job_id, "worker-a", IterationStatus.COMPLETED) is False  # already over
    job = _status(store, job_id)
    assert (job.status, job.error) == (IterationStatus.FAILED, "out of memory")
    with store.session() as session, pytest.raises(ValueError, match="terminal"):
        finish_job(session, job_id, "worker-a", IterationStatus.QUEUED)


def test_a_job_that_keeps_killing_workers_is_failed_not_retried_forever(store):
    poison, cancelled = _queue(store, 2)
    start = utcnow()
    _claim(store, "worker-a", now=start, max_attempts=1)
    _claim(store, "worker-b", now=start, max_attempts=1)
    with store.session() as session:
        request_cancel(session, cancelled)
    expired = start + timedelta(seconds=LEASE + 1)
    assert _claim(store, "worker-c", now=expired, max_attempts=1) is None
    with store.session() as session:
        assert release_stale(session, max_attempts=1, now=start) == 0  # leases still valid then
        assert release_stale(session, max_attempts=1, now=expired) == 2
    failed, stopped = _status(store, poison), _status(store, cancelled)
    assert failed.status == IterationStatus.FAILED
    assert "gave up after 1 attempt:" in failed.error
    assert stopped.status == IterationStatus.CANCELLED
