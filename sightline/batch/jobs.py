"""Batch predictions started over HTTP and run by workers, kept to the places an operator allowed.

`SIGHTLINE_BATCH_ROOTS` lists, comma-separated, the folders and URL prefixes (`s3://bucket/batch/`) such
a job may read images from and write its output to. Unset, the HTTP route refuses every job: a client
never names an arbitrary path on the server. Every image path a job expands to (a CSV manifest's
entries included) is checked again by the worker before anything is read.

`start` checks and queues a job; `run_next` (a worker's hook, see `Worker(other_jobs=...)`) claims one,
runs `sightline.batch.predict` with `resume=True` (so a job retried after a worker died continues where
it stopped), reports progress and renews its lease after each batch, and records the outcome.
"""

from __future__ import annotations

import logging
import os
import posixpath
import time
from collections.abc import Sequence

from sightline.config import env_text
from sightline.errors import InvalidRequestError, SightlineError
from sightline.service.batch_jobs import BatchJobView, queue_batch_job
from sightline.service.workspace import Workspace
from sightline.store import (
    BatchJobStatus,
    claim_next_batch_job,
    fail_abandoned_batch_jobs,
    finish_batch_job,
    report_batch_progress,
)

log = logging.getLogger(__name__)

ROOTS_SETTING = "SIGHTLINE_BATCH_ROOTS"
OUTPUT_SUFFIXES = (".jsonl", ".parquet")


class _LeaseLost(Exception):
    """Another worker owns the job now (this one was presumed dead): stop without writing its outcome."""


def allowed_roots() -> list[str]:
    """The configured roots: local folders resolved (symlinks included), URL prefixes ending in `/`."""
    roots = []
    for entry in (env_text(ROOTS_SETTING) or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        if "://" in entry:
            roots.append(entry.rstrip("/") + "/")
        elif os.path.isabs(entry):
            roots.append(os.path.realpath(entry))
        # a relative folder would depend on where the worker starts: ignored
    return roots


def check_allowed(location: str, roots: Sequence[str], what: str) -> None:
    """InvalidRequestError unless `location` (a path, URL, glob or manifest) lies under one of `roots`."""
    if not roots:
        raise InvalidRequestError(
            f"batch predictions over HTTP are off: set {ROOTS_SETTING} to the folders or URL prefixes they may use",
            "BadRequestBatchSource",
        )
    if not _inside(location, roots):
        raise InvalidRequestError(
            f"{what} {location!r} is outside the places batch predictions may use ({ROOTS_SETTING})",
            "BadRequestBatchSource",
        )


def _inside(location: str, roots: Sequence[str]) -> bool:
    if "://" in location:
        scheme, rest = location.split("://", 1)
        if "\\" in rest or any(part in (".", "..") for part in rest.split("/")):
            return False
        normal = f"{scheme}://{posixpath.normpath(rest)}"
        return any("://" in root and (normal + "/").startswith(root) for root in roots)
    if not os.path.isabs(location):
        return False
    resolved = os.path.realpath(location)
    return any("://" not in root and os.path.commonpath([resolved, root]) == root for root in roots)


def start(ws: Workspace, project_id: str, publish_name: str, sources: Sequence[str], output: str) -> BatchJobView:
    """Check where the job would read and write, then queue it for the workers."""
    roots = allowed_roots()
    for source in sources:
        check_allowed(source, roots, "source")
    check_allowed(output, roots, "output")
    if "://" in output:
        raise InvalidRequestError(
            "output must be a path the workers can write (a shared folder); URLs are not supported yet",
            "BadRequestBatchOutput",
        )
    if not output.lower().endswith(OUTPUT_SUFFIXES):
        raise InvalidRequestError("output must end in .jsonl or .parquet", "BadRequestBatchOutput")
    return queue_batch_job(ws, project_id, publish_name, sources, output)


def run_next(ws: Workspace, worker_id: str, lease_seconds: float) -> bool:
    """Claim and run one batch job; False when there was none."""
    with ws.session() as session:
        fail_abandoned_batch_jobs(session)
    with ws.session() as session:
        job = claim_next_batch_job(session, worker_id, lease_seconds)
        if job is None:
            return False
        job_id, project_id, publish_name = job.id, job.project_id, job.publish_name
        sources, output = list(job.sources), job.output
    status, error = BatchJobStatus.COMPLETED, None
    try:
        _run(ws, job_id, worker_id, lease_seconds, project_id, publish_name, sources, output)
    except _LeaseLost:
        log.warning("batch prediction %s was taken over by another worker", job_id)
        return True
    except SightlineError as exc:
        status, error = BatchJobStatus.FAILED, str(exc)
    except Exception as exc:  # a bug or an environment failure: recorded, the worker lives on
        log.exception("batch prediction %s failed", job_id)
        status, error = BatchJobStatus.FAILED, f"internal error: {type(exc).__name__}: {exc}"
    with ws.session() as session:
        finish_batch_job(session, job_id, worker_id, status, error=error)
    log.info("batch prediction %s: %s%s", job_id, status, f" ({error})" if error else "")
    return True


def _run(
    ws: Workspace,
    job_id: str,
    worker_id: str,
    lease_seconds: float,
    project_id: str,
    publish_name: str,
    sources: list[str],
    output: str,
) -> None:
    from sightline import batch

    roots = allowed_roots()
    for path in batch.expand_sources(sources):  # a manifest may name anything: each entry is checked
        check_allowed(path, roots, "image")
    last_report = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last_report
        if time.monotonic() - last_report < min(1.0, lease_seconds / 3) and done < total:
            return
        last_report = time.monotonic()
        with ws.session() as session:
            alive = report_batch_progress(session, job_id, worker_id, lease_seconds, total=total, done=done)
        if not alive:
            raise _LeaseLost()

    summary = batch.predict(ws, project_id, publish_name, sources, output, resume=True, progress=progress)
    rows = batch.read_results(output)  # this attempt's rows and those of the attempts before it
    failed = sum(1 for row in rows if row.get("error"))
    with ws.session() as session:
        if not report_batch_progress(
            session, job_id, worker_id, lease_seconds, total=summary.total, done=len(rows), failed=failed
        ):
            raise _LeaseLost()
