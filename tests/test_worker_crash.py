"""A `sightline worker` process killed with SIGKILL mid-training, on SQLite and PostgreSQL.

The issue's promise: after a restart the iteration completes, or fails with a reason once it has
used up its attempts; the database stays consistent and no image is lost. Workers here are real
processes (`python -m sightline.cli worker`) sharing the test's database, blob folder and model cache.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from shapes_project import shapes_project
from sqlalchemy import select, text

from sightline.classifier import Classifier
from sightline.config import cache_dir
from sightline.service import Workspace, images, iterations, performance, predictions, training
from sightline.service.views import PredictionView
from sightline.store import BlobStore, Image, ImageTag, Iteration, IterationStatus, open_store, release_stale, utcnow
from sightline.synthetic import make_image, to_jpeg

KINDS = ["circle", "square", "triangle"]
PER_KIND = 15
LEASE_SECONDS = 3  # the shortest lease `sightline worker --lease` accepts
DEADLINE_SECONDS = 60  # for anything a worker process has to do; normally a few seconds
REPOSITORY = Path(__file__).resolve().parents[1]  # workers run this checkout's code, as the test does


@dataclass
class QueuedTraining:
    """A project with tagged images and one queued iteration; `env` points a worker process at it."""

    ws: Workspace
    project_id: str
    iteration_id: str
    env: dict[str, str]
    blob_folder: Path
    dialect: str


@pytest.fixture(scope="module")
def warm_model_cache(tiny_backbone) -> None:
    """Fill the shared cache as one training of these tags does (ONNX export, text embeddings of the tag names).

    Workers then find it all there, as on a machine that has trained before, and none spends seconds on it.
    """
    labels = [kind for kind in KINDS for _ in range(5)]
    photos = [to_jpeg(make_image([kind], seed=10_000 + i)) for i, kind in enumerate(labels)]
    Classifier(tiny_backbone, cache=None).fit(photos, labels)


@pytest.fixture
def queued(store_url: str, tmp_path: Path, warm_model_cache: None) -> Iterator[QueuedTraining]:
    blob_folder = tmp_path / "blobs"
    ws = Workspace(open_store(store_url), BlobStore(str(blob_folder)))
    project = shapes_project(ws, "Shapes", PER_KIND)
    iteration = training.start_training(ws, project.id)
    env = {
        **os.environ,
        "SIGHTLINE_DATABASE_URL": store_url,
        "SIGHTLINE_BLOB_URL": str(blob_folder),
        "SIGHTLINE_HOME": str(tmp_path / "home"),
        "SIGHTLINE_CACHE": str(cache_dir()),
        "HF_HUB_OFFLINE": "1",
    }
    try:
        yield QueuedTraining(ws, project.id, iteration.id, env, blob_folder, ws.store.dialect)
    finally:
        ws.close()


@dataclass
class WorkerProcess:
    """A `sightline worker` process and the file its output goes to (shown when an assertion fails)."""

    process: subprocess.Popen
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], WorkerProcess]]:
    """Start `sightline worker` processes; any still running at the end of the test are killed."""
    started: list[WorkerProcess] = []

    def start(env: dict[str, str]) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started) + 1}.log"
        command = [sys.executable, "-m", "sightline.cli", "worker", "--lease", str(LEASE_SECONDS), "--poll", "0.1"]
        with log.open("wb") as output:
            process = subprocess.Popen(command, cwd=REPOSITORY, env=env, stdout=output, stderr=subprocess.STDOUT)
        started.append(WorkerProcess(process, log))
        return started[-1]

    yield start
    for worker in started:
        if worker.process.poll() is None:
            os.kill(worker.process.pid, signal.SIGKILL)
            worker.process.wait()


def job_row(ws: Workspace, iteration_id: str) -> Iteration:
    with ws.session() as session:
        row = session.get(Iteration, iteration_id)
        session.expunge(row)
        return row


def kill_mid_training(ws: Workspace, worker: WorkerProcess, iteration_id: str, phase: str | None = None) -> Iteration:
    """SIGKILL `worker` once it is training `iteration_id` and has reported a training phase (`phase`, if given).

    The worker runs in short slices between SIGSTOP and SIGCONT, and the row is read while it is
    stopped: 100 ms while the job is queued, 20 ms once claimed (training takes it over a second from
    there), so however busy the machine, the kill lands in the first phase the job reports, never after
    the job has finished. Returns the row as it was at the kill.
    """
    pid = worker.process.pid
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        os.kill(pid, signal.SIGSTOP)
        row = job_row(ws, iteration_id)
        if row.status == IterationStatus.TRAINING and row.progress_phase and phase in (None, row.progress_phase):
            os.kill(pid, signal.SIGKILL)
            assert worker.process.wait(timeout=10) == -signal.SIGKILL
            return row
        assert row.status in (IterationStatus.QUEUED, IterationStatus.TRAINING), (row.status, row.error)
        assert worker.process.poll() is None, worker.output
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.1 if row.status == IterationStatus.QUEUED else 0.02)
    pytest.fail(f"the worker did not start training within {DEADLINE_SECONDS} s:\n{worker.output}")


def wait_until_finished(ws: Workspace, iteration_id: str, worker: WorkerProcess) -> Iteration:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        row = job_row(ws, iteration_id)
        if row.status.is_terminal:
            return row
        assert worker.process.poll() is None, worker.output
        time.sleep(0.1)
    pytest.fail(f"{iteration_id} did not finish within {DEADLINE_SECONDS} s:\n{worker.output}")


@dataclass(frozen=True)
class Snapshot:
    """What a crash must not change: image rows with their tags, and the bytes of every blob."""

    images: set[tuple[str, str, str]]  # (image id, blob key, tag id)
    blobs: dict[str, str]  # file name -> sha256 of its content

    @classmethod
    def take(cls, queued: QueuedTraining) -> Snapshot:
        with queued.ws.session() as session:
            rows = session.execute(
                select(Image.id, Image.blob_key, ImageTag.tag_id)
                .join(ImageTag, ImageTag.image_id == Image.id)
                .where(Image.project_id == queued.project_id)
            ).all()
        blobs = {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in queued.blob_folder.rglob("*") if p.is_file()
        }
        return cls({tuple(r) for r in rows}, blobs)


def assert_consistent(queued: QueuedTraining, before: Snapshot, *, new_blobs: set[str]) -> None:
    """No job left running, every image and tag link kept, blobs intact, only `new_blobs` added."""
    with queued.ws.session() as session:
        statuses = session.scalars(select(Iteration.status).where(Iteration.project_id == queued.project_id)).all()
        if queued.dialect == "sqlite":
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    assert all(IterationStatus(s).is_terminal for s in statuses), statuses
    after = Snapshot.take(queued)
    assert after.images == before.images
    assert len(after.images) == len(KINDS) * PER_KIND
    assert images.count_images(queued.ws, queued.project_id) == len(KINDS) * PER_KIND
    assert {name: after.blobs[name] for name in before.blobs} == before.blobs
    assert set(after.blobs) - set(before.blobs) == new_blobs
    for _, key, _ in after.images:
        assert hashlib.sha256(queued.ws.blobs.get(key)).hexdigest() == key


def test_a_killed_worker_is_replaced_and_the_iteration_completes(queued: QueuedTraining, start_worker):
    before = Snapshot.take(queued)
    killed = kill_mid_training(queued.ws, start_worker(queued.env), queued.iteration_id)
    # The row still says Training, under a lease that nobody renews any more.
    assert killed.attempts == 1 and killed.claimed_by
    assert killed.lease_expires_at <= utcnow() + timedelta(seconds=LEASE_SECONDS)
    after_kill = job_row(queued.ws, queued.iteration_id)
    assert after_kill.status == IterationStatus.TRAINING and after_kill.claimed_by == killed.claimed_by
    assert after_kill.lease_expires_at == killed.lease_expires_at

    replacement = start_worker(queued.env)
    done = wait_until_finished(queued.ws, queued.iteration_id, replacement)
    replacement.process.send_signal(signal.SIGTERM)  # it stops while the checks below run

    assert done.status == IterationStatus.COMPLETED, done.error
    assert done.error is None and done.attempts == 2
    assert done.claimed_by != killed.claimed_by and done.lease_expires_at is None
    assert done.started_at > killed.lease_expires_at  # taken over only once the lease had run out
    assert done.artifact_key and done.training_seconds > 0
    _, report = performance.iteration_report(queued.ws, queued.project_id, done.id)
    assert len(report.image_keys) == len(KINDS) * PER_KIND  # trained on every image
    assert_consistent(queued, before, new_blobs={done.artifact_key})

    circle, square = predictions.predict(
        queued.ws,
        queued.project_id,
        [to_jpeg(make_image(["circle"], seed=4242)), to_jpeg(make_image(["square"], seed=4243))],
        iteration_id=done.id,
    )
    assert isinstance(circle, PredictionView) and isinstance(square, PredictionView)
    assert circle.iteration_id == done.id
    assert circle.predictions[0].tag_name == "circle" and square.predictions[0].tag_name == "square"
    assert replacement.process.wait(timeout=30) == 0, replacement.output


def test_a_job_that_lost_its_last_attempt_fails_with_the_reason(queued: QueuedTraining, start_worker):
    before = Snapshot.take(queued)
    killed = kill_mid_training(queued.ws, start_worker(queued.env), queued.iteration_id)
    lease_end = killed.lease_expires_at
    # Clocks given explicitly: just before the lease ends the worker might still be alive, just after it is lost.
    with queued.ws.session() as session:
        assert release_stale(session, max_attempts=1, now=lease_end - timedelta(seconds=0.5)) == 0
    assert job_row(queued.ws, queued.iteration_id).status == IterationStatus.TRAINING
    with queued.ws.session() as session:
        assert release_stale(session, max_attempts=1, now=lease_end + timedelta(seconds=0.5)) == 1

    failed = job_row(queued.ws, queued.iteration_id)
    assert failed.status == IterationStatus.FAILED and failed.lease_expires_at is None
    assert failed.artifact_key is None and failed.finished_at > lease_end
    assert performance.iteration_report(queued.ws, queued.project_id, failed.id)[1] is None
    view = iterations.get_iteration(queued.ws, queued.project_id, queued.iteration_id)
    assert view.status == "Failed"
    assert "gave up after 1 attempt" in view.error and "worker stopped responding" in view.error
    assert_consistent(queued, before, new_blobs=set())
    # A failed iteration blocks nothing: the project can be trained again at once.
    assert training.start_training(queued.ws, queued.project_id).status == "Queued"
