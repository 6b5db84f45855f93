"""Advanced training through the product: the Custom Vision API, a worker killed mid-epoch, the CLI.

Projects here are on `tiny-lite` (the EfficientNet-Lite network code with random weights, 32 px).
"""

from __future__ import annotations

import base64
import io
import os
import signal
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import onnxruntime
import pytest
import test_worker_crash
from api_server import RunningServer, sightline_server
from test_worker_crash import QueuedTraining, WorkerProcess, job_row, kill_mid_training, start_worker  # noqa: F401

from sightline.config import cache_dir
from sightline.http.domains import domain_id
from sightline.service import Workspace, images, performance, predictions, projects, tags, training
from sightline.service.images import NewImage
from sightline.store import BlobStore, IterationStatus, open_store
from sightline.synthetic import make_image, single_label_dataset, to_jpeg

KINDS = ["circle", "square", "triangle"]
PER_KIND = 8


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGHTLINE_THREADS", "1")  # two torch threads on a busy 2-core machine are 10x slower


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("advanced"), backbones=["tiny-lite", "tiny"]) as running:
        yield running


def _api(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.training_url(), headers={"Training-Key": server.training_key}, timeout=60)


def _upload(api: httpx.Client, project_id: str) -> None:
    ids = {k: api.post(f"/projects/{project_id}/tags", params={"name": k}).json()["id"] for k in KINDS}
    data, labels = single_label_dataset(PER_KIND, KINDS, seed=5)
    batch = {
        "images": [
            {"name": f"{i}.jpg", "contents": base64.b64encode(d).decode(), "tagIds": [ids[label]]}
            for i, (d, label) in enumerate(zip(data, labels, strict=True))
        ]
    }
    assert api.post(f"/projects/{project_id}/images/files", json=batch).status_code == 200


def _wait(api: httpx.Client, project_id: str, iteration: dict) -> dict:
    deadline = time.monotonic() + 600
    while iteration["status"] == "Training":
        assert time.monotonic() < deadline
        time.sleep(0.5)
        iteration = api.get(f"/projects/{project_id}/iterations/{iteration['id']}").json()
    return iteration


def test_advanced_training_through_the_api_fine_tunes_predicts_and_exports(server: RunningServer):
    api = _api(server)
    project = api.post("/projects", params={"name": "Lite", "domainId": domain_id("tiny-lite")}).json()
    _upload(api, project["id"])
    train = f"/projects/{project['id']}/train"
    iteration = api.post(train, params={"trainingType": "Advanced", "reservedBudgetInHours": 1}).json()
    assert (iteration["trainingType"], iteration["reservedBudgetInHours"]) == ("Advanced", 1)
    iteration = _wait(api, project["id"], iteration)
    assert iteration["status"] == "Completed", iteration

    _, report = performance.iteration_report(server.ws, project["id"], iteration["id"])
    fine_tune = report.fine_tune
    assert fine_tune["base"] == "tiny-lite" and fine_tune["validation_images"] > 0
    assert fine_tune["history"][0]["epoch"] == 0 and fine_tune["epochs_run"] >= 1
    assert isinstance(fine_tune["beat_frozen"], bool)

    publish = f"/projects/{project['id']}/iterations/{iteration['id']}/publish"
    assert api.post(publish, params={"publishName": "lite", "predictionId": "x"}).status_code == 200
    photo = to_jpeg(make_image(["square"], seed=90_001))
    answer = httpx.post(
        f"{server.prediction_url()}/{project['id']}/classify/iterations/lite/image",
        headers={"Prediction-Key": server.prediction_key, "Content-Type": "application/octet-stream"},
        content=photo,
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    probabilities = {p["tagName"]: p["probability"] for p in answer.json()["predictions"]}
    assert set(probabilities) == set(KINDS) and abs(sum(probabilities.values()) - 1) < 1e-4

    made = api.post(f"/projects/{project['id']}/iterations/{iteration['id']}/export", params={"platform": "ONNX"})
    assert made.status_code == 200 and made.json()["status"] == "Done", made.text
    with zipfile.ZipFile(io.BytesIO(httpx.get(made.json()["downloadUri"], timeout=60).content)) as archive:
        session = onnxruntime.InferenceSession(archive.read("model.onnx"))
    pixels = np.zeros((1, 3, 32, 32), dtype=np.float32)
    assert session.run(None, {session.get_inputs()[0].name: pixels})[0].shape[-1] == len(KINDS)

    # Regular on the same images is not "training not needed": it is the comparison the performance page offers
    regular = api.post(train)
    assert regular.status_code == 200, regular.text
    assert _wait(api, project["id"], regular.json())["status"] == "Completed"
    again = api.post(train)
    assert again.status_code == 400 and again.json()["code"] == "BadRequestTrainingNotNeeded"


def test_advanced_training_is_refused_for_a_backbone_it_cannot_fine_tune(server: RunningServer):
    api = _api(server)
    project = api.post("/projects", params={"name": "Clip", "domainId": domain_id("tiny")}).json()
    _upload(api, project["id"])
    answer = api.post(
        f"/projects/{project['id']}/train", params={"trainingType": "Advanced", "reservedBudgetInHours": 1}
    )
    assert answer.status_code == 400 and answer.json()["code"] == "BadRequestTrainingValidationFailed"
    assert "EfficientNet-Lite" in answer.json()["message"]
    assert api.get(f"/projects/{project['id']}/iterations").json() == []


def _wait_for_worker(queued: QueuedTraining, worker: WorkerProcess, seconds: float = 600) -> object:
    """The row once terminal: fine-tuning takes longer than a regular job on a busy machine."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = job_row(queued.ws, queued.iteration_id)
        if row.status.is_terminal:
            return row
        assert worker.process.poll() is None, worker.output
        time.sleep(0.2)
    pytest.fail(f"{queued.iteration_id} did not finish within {seconds} s:\n{worker.output}")


@pytest.fixture
def queued_advanced(store_url: str, tmp_path: Path) -> Iterator[QueuedTraining]:
    blob_folder = tmp_path / "blobs"
    ws = Workspace(open_store(store_url), BlobStore(str(blob_folder)))
    project = projects.create_project(ws, "Lite shapes", domain="tiny-lite")
    for kind in KINDS:
        tags.create_tag(ws, project.id, kind)
    photos, labels = single_label_dataset(PER_KIND, KINDS, seed=8)
    added = images.add_images(ws, project.id, [NewImage(p, tags=[t]) for p, t in zip(photos, labels, strict=True)])
    assert all(r.status == "OK" for r in added)
    options = training.TrainingOptions(training_type="Advanced", reserved_budget_in_hours=1, budget_seconds=600)
    iteration = training.start_training(ws, project.id, options=options)
    env = {
        **os.environ,
        "SIGHTLINE_DATABASE_URL": store_url,
        "SIGHTLINE_BLOB_URL": str(blob_folder),
        "SIGHTLINE_HOME": str(tmp_path / "home"),
        "SIGHTLINE_CACHE": str(cache_dir()),
        "SIGHTLINE_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    try:
        yield QueuedTraining(ws, project.id, iteration.id, env, blob_folder, ws.store.dialect)
    finally:
        ws.close()


def test_a_worker_killed_while_fine_tuning_is_replaced_and_the_iteration_completes(
    queued_advanced,
    start_worker,  # noqa: F811  (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
):
    queued = queued_advanced
    # a fine-tuning worker imports torch before its first progress report: slower to start than a regular one
    monkeypatch.setattr(test_worker_crash, "DEADLINE_SECONDS", 600)
    killed = kill_mid_training(queued.ws, start_worker(queued.env), queued.iteration_id, phase="fine_tuning")
    assert killed.progress_phase == "fine_tuning" and killed.attempts == 1  # killed mid fine-tuning
    replacement = start_worker(queued.env)
    done = _wait_for_worker(queued, replacement)
    replacement.process.send_signal(signal.SIGTERM)
    assert done.status == IterationStatus.COMPLETED, done.error
    assert done.attempts == 2 and done.lease_expires_at is None
    _, report = performance.iteration_report(queued.ws, queued.project_id, done.id)
    assert report.fine_tune["epochs_run"] >= 1
    (square,) = predictions.predict(
        queued.ws, queued.project_id, [to_jpeg(make_image(["square"], seed=4243))], iteration_id=done.id
    )
    assert {p.tag_name for p in square.predictions} == set(KINDS)
    assert job_row(queued.ws, queued.iteration_id).status == IterationStatus.COMPLETED
    assert replacement.process.wait(timeout=30) == 0, replacement.output
