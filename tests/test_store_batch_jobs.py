"""Batch prediction jobs: claimed once, renewed while running, taken over after a lost lease, failed once
their attempts are used up; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sightline.store import (
    BatchJob,
    BatchJobStatus,
    Project,
    Store,
    claim_next_batch_job,
    fail_abandoned_batch_jobs,
    finish_batch_job,
    report_batch_progress,
    utcnow,
)

LEASE = 60.0


def _queue(store: Store, count: int) -> list[str]:
    start = utcnow() - timedelta(hours=1)
    with store.session() as session:
        project = Project(name="Shoes", domain="tiny")
        session.add(project)
        session.flush()
        jobs = [
            BatchJob(
                project_id=project.id,
                publish_name="production",
                sources=["/data/in"],
                output="/data/out.jsonl",
                created=start + timedelta(seconds=n),
            )
            for n in range(count)
        ]
        session.add_all(jobs)
        session.flush()
        return [job.id for job in jobs]


def _row(store: Store, job_id: str) -> BatchJob:
    with store.session() as session:
        row = session.get(BatchJob, job_id)
        session.expunge(row)
        return row


def test_jobs_are_claimed_oldest_first_and_each_once(store: Store):
    first, second = _queue(store, 2)
    with store.session() as session:
        assert claim_next_batch_job(session, "w1", LEASE).id == first
    with store.session() as session:
        assert claim_next_batch_job(session, "w2", LEASE).id == second
    with store.session() as session:
        assert claim_next_batch_job(session, "w3", LEASE) is None
    row = _row(store, first)
    assert row.status == BatchJobStatus.RUNNING and row.claimed_by == "w1" and row.attempts == 1


def test_progress_renews_the_lease_and_a_lost_lease_stops_the_old_worker(store: Store):
    (job,) = _queue(store, 1)
    now = utcnow()
    with store.session() as session:
        claim_next_batch_job(session, "w1", LEASE, now=now)
    with store.session() as session:
        assert report_batch_progress(session, job, "w1", LEASE, total=10, done=4, now=now + timedelta(seconds=30))
    row = _row(store, job)
    assert (row.total, row.done, row.failed) == (10, 4, 0)
    assert row.lease_expires_at == now + timedelta(seconds=30 + LEASE)
    later = row.lease_expires_at + timedelta(seconds=1)  # w1 went silent
    with store.session() as session:
        assert claim_next_batch_job(session, "w2", LEASE, now=later).id == job
    with store.session() as session:
        assert not report_batch_progress(session, job, "w1", LEASE, total=10, done=5)
        assert not finish_batch_job(session, job, "w1", BatchJobStatus.COMPLETED)
    with store.session() as session:
        assert finish_batch_job(session, job, "w2", BatchJobStatus.COMPLETED)
    row = _row(store, job)
    assert row.status == BatchJobStatus.COMPLETED and row.attempts == 2 and row.lease_expires_at is None


def test_a_job_whose_workers_keep_dying_fails_with_the_reason(store: Store):
    (job,) = _queue(store, 1)
    now = utcnow()
    for attempt in range(3):
        with store.session() as session:
            assert claim_next_batch_job(session, f"w{attempt}", LEASE, now=now).id == job
        now += timedelta(seconds=LEASE + 1)
    with store.session() as session:
        assert claim_next_batch_job(session, "w9", LEASE, now=now) is None
        assert fail_abandoned_batch_jobs(session, now=now) == 1
    row = _row(store, job)
    assert row.status == BatchJobStatus.FAILED and "gave up after 3 attempts" in row.error
