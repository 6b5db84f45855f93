"""Two `sightline serve` and two `sightline worker` processes on one PostgreSQL database and one S3 bucket.

The issue's promise for a scaled-out installation, tested with real processes: uploads through one
server, training by whichever worker claims it, predictions and signed image URLs from the other
server, publish and unpublish seen by both at once (nothing is cached per process but models by
content); then a SIGKILL of one server in the middle of an upload and of one worker in the middle of
a training. Afterwards both servers list the same images and tags, every row's blob is in the bucket
with the bytes its key names, the killed training was retried by the other worker, and a sweep with
no grace period finds only what the killed upload wrote before it died (no row points at a missing
blob, and after the sweep no blob lacks a row).
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from store_fixtures import fresh_pg_schema_url
from test_worker_crash import REPOSITORY, WorkerProcess, job_row, warm_model_cache  # noqa: F401 (its fixture)

from sightline.api import load_keys
from sightline.config import cache_dir
from sightline.http.domains import domain_id
from sightline.service import Workspace
from sightline.service.cleanup import collect_garbage
from sightline.store import BlobStore, Image, Iteration, IterationStatus, Prediction, open_store
from sightline.synthetic import make_image, to_jpeg

KINDS = ["circle", "square", "triangle"]
PER_KIND = 8
LEASE_SECONDS = 3  # the shortest lease `sightline worker --lease` accepts: a killed job is retried soon
DEADLINE_SECONDS = 300  # a safety net for anything a process has to do: normally seconds, but 4 processes
# importing at once on a shared 2-core machine took over 2 minutes to answer once
SEEN_WITHIN_SECONDS = 5  # publish/unpublish on one server is seen by the other within this


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    """The processes' shared environment, a workspace on the same database and bucket for the checks, and
    the processes started so far (all killed at the end)."""

    env: dict[str, str]
    ws: Workspace
    logs: Path
    started: list[WorkerProcess] = field(default_factory=list)

    def _spawn(self, name: str, arguments: list[str]) -> WorkerProcess:
        log = self.logs / f"{name}-{len(self.started) + 1}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "sightline.cli", *arguments],
                cwd=REPOSITORY,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.started.append(WorkerProcess(process, log))
        return self.started[-1]

    def worker(self) -> WorkerProcess:
        return self._spawn("worker", ["worker", "--lease", str(LEASE_SECONDS), "--poll", "0.2"])

    def server(self) -> Server:
        port = _free_port()
        arguments = ["serve", "--port", str(port), "--no-worker", "--backbone", "tiny", "--log-level", "warning"]
        return Server(self._spawn("server", arguments), f"http://127.0.0.1:{port}")


@dataclass
class Server:
    """A `sightline serve` process and its base URL."""

    handle: WorkerProcess
    url: str

    def wait_ready(self) -> None:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            assert self.handle.process.poll() is None, self.handle.output
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"{self.url} was not ready within {DEADLINE_SECONDS} s:\n{self.handle.output}")

    def training(self, key: str) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/customvision/v3.3/training", headers={"Training-Key": key}, timeout=60
        )

    def prediction(self, key: str) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/customvision/v3.0/prediction", headers={"Prediction-Key": key}, timeout=60
        )


@pytest.fixture
def cluster(
    request: pytest.FixtureRequest, pg_database_url: str, s3_blob_url: str, s3_env: dict[str, str], tmp_path: Path
) -> Iterator[Cluster]:
    request.getfixturevalue("warm_model_cache")
    database_url = fresh_pg_schema_url(pg_database_url)
    ws = Workspace(open_store(database_url), BlobStore(s3_blob_url))
    env = {
        **os.environ,
        **s3_env,
        "SIGHTLINE_DATABASE_URL": database_url,
        "SIGHTLINE_BLOB_URL": s3_blob_url,
        "SIGHTLINE_HOME": str(tmp_path / "home"),
        "SIGHTLINE_CACHE": str(cache_dir()),  # warmed: no process spends seconds exporting the tiny model
        "SIGHTLINE_AUTH_FAILURES_PER_MINUTE": "0",
        "HF_HUB_OFFLINE": "1",
    }
    running = Cluster(env, ws, tmp_path)
    try:
        yield running
    finally:
        for handle in running.started:
            if handle.process.poll() is None:
                os.kill(handle.process.pid, signal.SIGKILL)
                handle.process.wait()
        ws.close()


def _photo(kind: str, seed: int) -> str:
    return base64.b64encode(to_jpeg(make_image([kind], seed=seed))).decode()


def _upload(api: httpx.Client, project_id: str, tags: dict[str, str], seed: int) -> httpx.Response:
    batch = [
        {"name": f"{kind}-{i}.jpg", "contents": _photo(kind, seed + 100 * k + i), "tagIds": [tags[kind]]}
        for k, kind in enumerate(KINDS)
        for i in range(PER_KIND)
    ]
    return api.post(f"/projects/{project_id}/images/files", json={"images": batch})


def _listing(api: httpx.Client, project_id: str) -> dict[str, tuple[str, ...]]:
    """Image id -> its tag ids, as a server lists them."""
    response = api.get(f"/projects/{project_id}/images/tagged", params={"take": 256})
    assert response.status_code == 200, response.text
    return {image["id"]: tuple(sorted(t["tagId"] for t in image["tags"])) for image in response.json()}


def _wait_for_status(api: httpx.Client, project_id: str, iteration_id: str) -> dict:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        iteration = api.get(f"/projects/{project_id}/iterations/{iteration_id}").json()
        if iteration["status"] not in ("Queued", "Training"):
            return iteration
        time.sleep(0.2)
    pytest.fail(f"iteration {iteration_id} did not finish within {DEADLINE_SECONDS} s")


def _eventually(check: Callable[[], bool], what: str) -> float:
    """Seconds until `check()` held; fails after SEEN_WITHIN_SECONDS."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > SEEN_WITHIN_SECONDS:
            pytest.fail(f"{what} not seen within {SEEN_WITHIN_SECONDS} s")
        time.sleep(0.05)
    return time.monotonic() - started


def _blob_keys(ws: Workspace) -> set[str]:
    return {stored.name for stored in ws.blobs.listing()}


def _kill_mid_upload(server: Server, key: str, project_id: str, tags: dict[str, str], ws: Workspace) -> set[str]:
    """Post a batch upload to `server` and SIGKILL it once some of the batch's blobs are in the bucket.

    The server runs in short slices between SIGSTOP and SIGCONT, and the bucket is listed while it is
    stopped, so the kill lands after its first blob write and (this batch takes far longer than a slice)
    before its reply. Returns the files the upload had written at the kill.
    """
    before = _blob_keys(ws)
    outcome: list[object] = []

    def post() -> None:
        with server.training(key) as api:
            try:
                outcome.append(_upload(api, project_id, tags, seed=50_000))
            except httpx.TransportError as exc:
                outcome.append(exc)

    sender = threading.Thread(target=post)
    sender.start()
    pid = server.handle.process.pid
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        while time.monotonic() < deadline:
            os.kill(pid, signal.SIGSTOP)
            listed = _blob_keys(ws)
            if listed - before:
                os.kill(pid, signal.SIGKILL)
                assert server.handle.process.wait(timeout=10) == -signal.SIGKILL
                return listed - before
            assert not outcome, f"the upload ended before the kill: {outcome}"
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.02)
        pytest.fail(f"the server wrote no blob within {DEADLINE_SECONDS} s:\n{server.handle.output}")
    finally:
        sender.join(timeout=DEADLINE_SECONDS)
        assert outcome and isinstance(outcome[0], httpx.TransportError), outcome  # the client saw the crash


def _kill_mid_training(ws: Workspace, workers: list[WorkerProcess], iteration_id: str) -> WorkerProcess:
    """SIGKILL whichever worker claimed `iteration_id`, once it has reported a training phase.

    As in test_worker_crash, the workers run in short slices between SIGSTOP and SIGCONT and the row is
    read while both are stopped, so the kill lands in the first phase the job reports.
    """
    by_pid = {w.process.pid: w for w in workers}
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        for pid in by_pid:
            os.kill(pid, signal.SIGSTOP)
        row = job_row(ws, iteration_id)
        if row.status == IterationStatus.TRAINING and row.progress_phase:
            pid = int(row.claimed_by.split(":")[1])  # "host:pid:random", see Worker
            os.kill(pid, signal.SIGKILL)
            assert by_pid[pid].process.wait(timeout=10) == -signal.SIGKILL
            for other in by_pid:
                if other != pid:
                    os.kill(other, signal.SIGCONT)
            return by_pid[pid]
        assert row.status in (IterationStatus.QUEUED, IterationStatus.TRAINING), (row.status, row.error)
        for pid in by_pid:
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.1 if row.status == IterationStatus.QUEUED else 0.02)
    pytest.fail(f"no worker started training within {DEADLINE_SECONDS} s")


def test_two_servers_and_two_workers_share_one_database_and_bucket_and_survive_kills(cluster: Cluster):
    first, second = cluster.server(), cluster.server()
    workers = [cluster.worker(), cluster.worker()]
    first.wait_ready()
    second.wait_ready()
    keys = load_keys(cluster.ws)  # created by the first server to start; both read them from the database

    with first.training(keys.training_key) as api_a, second.training(keys.training_key) as api_b:
        # --- uploads through one server, seen by the other ------------------------------------------
        project = api_a.post("/projects", params={"name": "Shapes", "domainId": domain_id("tiny")}).json()
        pid = project["id"]
        tags = {kind: api_a.post(f"/projects/{pid}/tags", params={"name": kind}).json()["id"] for kind in KINDS}
        uploaded = _upload(api_a, pid, tags, seed=1)
        assert uploaded.status_code == 200 and uploaded.json()["isBatchSuccessful"], uploaded.text
        assert len(_listing(api_b, pid)) == len(KINDS) * PER_KIND
        assert _listing(api_b, pid) == _listing(api_a, pid)
        # a signed image URL from one server is valid on the other (the signing secret is in the database)
        image = api_a.get(f"/projects/{pid}/images/tagged", params={"take": 1}).json()[0]
        original = httpx.get(image["originalImageUri"].replace(first.url, second.url), timeout=60)
        assert original.status_code == 200 and hashlib.sha256(original.content).hexdigest() in _blob_keys(cluster.ws)

        # --- training by any worker, publish on one server, prediction from the other ----------------
        queued = api_a.post(f"/projects/{pid}/train").json()
        trained = _wait_for_status(api_b, pid, queued["id"])
        assert trained["status"] == "Completed", trained
        with cluster.ws.session() as session:
            trainer = session.get(Iteration, queued["id"]).claimed_by
        assert int(trainer.split(":")[1]) in {w.process.pid for w in workers}
        published = api_a.post(f"/projects/{pid}/iterations/{queued['id']}/publish", params={"publishName": "live"})
        assert published.json() is True
        photo = to_jpeg(make_image(["circle"], seed=4242))
        with second.prediction(keys.prediction_key) as predict_b, first.prediction(keys.prediction_key) as predict_a:
            route = f"/{pid}/classify/iterations/live/image"
            _eventually(lambda: predict_b.post(route, content=photo).status_code == 200, "publish on another server")
            answer = predict_b.post(route, content=photo).json()
            assert {p["tagName"] for p in answer["predictions"]} == set(KINDS)
            assert answer["iteration"] == queued["id"]
            assert api_b.delete(f"/projects/{pid}/iterations/{queued['id']}/publish").status_code == 204
            _eventually(lambda: predict_a.post(route, content=photo).status_code == 404, "unpublish elsewhere")

        # --- SIGKILL one server mid-upload -----------------------------------------------------------
        written = _kill_mid_upload(first, keys.training_key, pid, tags, cluster.ws)
        after_kill = _listing(api_b, pid)
        # one transaction per batch: all of it or none of it, never a part
        assert len(after_kill) in (len(KINDS) * PER_KIND, 2 * len(KINDS) * PER_KIND), len(after_kill)

        # --- SIGKILL one worker mid-training: the other retries it ------------------------------------
        again = api_b.post(f"/projects/{pid}/train", params={"forceTrain": "true"}).json()
        killed = _kill_mid_training(cluster.ws, workers, again["id"])
        survivor = next(w for w in workers if w is not killed)
        retried = _wait_for_status(api_b, pid, again["id"])
        assert retried["status"] == "Completed", retried
        row = job_row(cluster.ws, again["id"])
        assert row.attempts == 2 and int(row.claimed_by.split(":")[1]) == survivor.process.pid

        # --- afterwards: a restarted server sees what the survivor sees ------------------------------
        restarted = cluster.server()
        restarted.wait_ready()
        with restarted.training(keys.training_key) as api_c:
            assert _listing(api_c, pid) == _listing(api_b, pid) == after_kill
            iterations_b = {i["id"]: i["status"] for i in api_b.get(f"/projects/{pid}/iterations").json()}
            assert api_c.get(f"/projects/{pid}/iterations").json() == api_b.get(f"/projects/{pid}/iterations").json()
        assert iterations_b == {queued["id"]: "Completed", again["id"]: "Completed"}

    # --- and the store: every row's blob is there, and a sweep finds only what the killed upload left --
    for w in workers:
        if w.process.poll() is None:
            w.process.send_signal(signal.SIGTERM)  # they stop between jobs; no sweep runs meanwhile
    with cluster.ws.session() as session:
        image_keys = set(session.scalars(select(Image.blob_key).where(Image.project_id == pid)))
        artifacts = set(session.scalars(select(Iteration.artifact_key).where(Iteration.project_id == pid)))
        stored_predictions = set(session.scalars(select(Prediction.image_key).where(Prediction.project_id == pid)))
    assert len(artifacts) == 2 and None not in artifacts
    for key in image_keys | artifacts:
        assert cluster.ws.blobs.exists(key), key
    for key in image_keys:
        assert hashlib.sha256(cluster.ws.blobs.get(key)).hexdigest() == key
    assert len(stored_predictions) == 1  # the one stored prediction keeps its photo
    referenced = image_keys | artifacts | stored_predictions
    orphans = {stored.name for stored in cluster.ws.blobs.listing() if stored.base_key not in referenced}
    assert orphans <= written  # nothing unreferenced but what the killed server wrote before it died
    swept = collect_garbage(cluster.ws, grace_seconds=0)
    assert swept.removed == len(orphans)
    assert {stored.base_key for stored in cluster.ws.blobs.listing()} == referenced
    assert survivor.process.wait(timeout=DEADLINE_SECONDS) == 0, survivor.output
