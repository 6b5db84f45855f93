"""The training worker: claims queued iterations, keeps their lease alive, records the outcome.

The embedded default runs one in a thread of the serving process; `sightline worker` runs the same
loop as its own process, and any number may share one PostgreSQL. A worker killed mid-training
stops renewing its lease, so another worker retries the job (or it is failed with the reason).
Between jobs, a worker also sweeps the blobs no row refers to (what a killed upload left), when it
starts and then every `SIGHTLINE_GC_INTERVAL_HOURS` (24 by default; 0: never), as `sightline gc` does.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence

from sightline import telemetry
from sightline.config import check_environment, env_float
from sightline.errors import SightlineError
from sightline.service.cleanup import collect_garbage
from sightline.service.training import TrainingCancelled, run_training_job
from sightline.service.workspace import Workspace
from sightline.store import Iteration, IterationStatus, claim_next_job, finish_job, heartbeat, release_stale

log = logging.getLogger(__name__)


class Worker:
    """One training worker. `run_once()` does at most one job; `run_forever()` polls until stopped."""

    def __init__(
        self,
        ws: Workspace,
        *,
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
        worker_id: str | None = None,
        gc_interval_seconds: float | None = None,
        other_jobs: Sequence[Callable[[Workspace, str, float], bool]] = (),
    ):
        """`other_jobs`: more kinds of job, each a `run(ws, worker_id, lease_seconds) -> bool` that claims and
        runs one (True) or finds none (False), tried when no training is queued (batch predictions)."""
        check_environment()  # a worker started from code, not the CLI, refuses a bad setting as the CLI does
        self.ws = ws
        self.other_jobs = tuple(other_jobs)
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        if gc_interval_seconds is None:
            gc_interval_seconds = env_float("SIGHTLINE_GC_INTERVAL_HOURS") * 3600
        self.gc_interval_seconds = gc_interval_seconds
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stop_event = threading.Event()

    def run_forever(self) -> None:
        log.info("worker %s waiting for training jobs", self.worker_id)
        next_sweep = time.monotonic()  # at start: what a kill left behind goes first
        while not self.stop_event.is_set():
            if self.gc_interval_seconds > 0 and time.monotonic() >= next_sweep:
                self.sweep()
                next_sweep = time.monotonic() + self.gc_interval_seconds
            if not self.run_once():
                self.stop_event.wait(self.poll_seconds)

    def sweep(self) -> None:
        """Remove unreferenced blobs older than the grace period; a failure is logged, never fatal."""
        try:
            report = collect_garbage(self.ws)
        except Exception:  # a storage hiccup: the next sweep tries again
            log.warning("sweeping unreferenced blobs failed", exc_info=True)
            return
        if report.removed:
            log.info("removed %d unreferenced blob files (%d bytes)", report.removed, report.removed_bytes)

    def stop(self) -> None:
        self.stop_event.set()

    def run_once(self) -> bool:
        """Claim and run one job; False when there was nothing to do."""
        with self.ws.session() as session:
            release_stale(session)
        with self.ws.session() as session:
            job = claim_next_job(session, self.worker_id, self.lease_seconds)
            job_id = job.id if job else None
        if job_id is None:
            return any(run(self.ws, self.worker_id, self.lease_seconds) for run in self.other_jobs)
        self._run(job_id)
        return True

    def _run(self, iteration_id: str) -> None:
        finished, cancelled = threading.Event(), threading.Event()
        beating = threading.Thread(target=self._heartbeat, args=(iteration_id, finished, cancelled), daemon=True)
        beating.start()
        outcome: dict = {}
        status, error = IterationStatus.COMPLETED, None
        started = time.monotonic()
        try:
            outcome = run_training_job(self.ws, iteration_id, should_continue=lambda: not cancelled.is_set())
        except TrainingCancelled:
            status = IterationStatus.CANCELLED
        except SightlineError as exc:
            status, error = IterationStatus.FAILED, str(exc)
        except Exception as exc:  # a bug or an environment failure: record it, keep the worker alive
            log.error("training %s failed:\n%s", iteration_id, traceback.format_exc())
            status, error = IterationStatus.FAILED, f"internal error: {type(exc).__name__}: {exc}"
        finally:
            finished.set()
            beating.join()
        with self.ws.session() as session:
            if finish_job(session, iteration_id, self.worker_id, status, error=error) and outcome:
                iteration = session.get(Iteration, iteration_id)
                for key, value in outcome.items():
                    setattr(iteration, key, value)
        telemetry.TRAINING_SECONDS.labels(str(status)).observe(time.monotonic() - started)
        log.info("training %s: %s%s", iteration_id, status, f" ({error})" if error else "")

    def _heartbeat(self, iteration_id: str, finished: threading.Event, cancelled: threading.Event) -> None:
        """Renew the lease every third of it; a refused renewal (cancelled, taken over) stops the job."""
        while not finished.wait(self.lease_seconds / 3):
            try:
                with self.ws.session() as session:
                    alive = heartbeat(session, iteration_id, self.worker_id, self.lease_seconds)
            except Exception:  # a database hiccup: try again on the next beat, the lease has slack
                log.warning("heartbeat for %s failed", iteration_id, exc_info=True)
                continue
            if not alive:
                cancelled.set()
                return


def start_background_worker(ws: Workspace, **options) -> Worker:
    """The embedded default: a worker thread inside this process."""
    worker = Worker(ws, **options)
    threading.Thread(target=worker.run_forever, name="sightline-worker", daemon=True).start()
    return worker
