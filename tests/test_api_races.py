"""Races against a real server, on SQLite and PostgreSQL: concurrent trainings and concurrent uploads.

Each request runs on its own thread with its own connection, so the server really handles them at
once; the outcome must be what one-at-a-time would give, settled by constraints and locks.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from api_server import RunningServer, sightline_server
from store_fixtures import DIALECTS, fresh_pg_schema_url

from sightline.http.domains import domain_id
from sightline.synthetic import single_label_dataset

KINDS = ["circle", "square"]
CLIENTS = 10


@pytest.fixture(params=DIALECTS)
def server(request: pytest.FixtureRequest, tmp_path) -> Iterator[RunningServer]:
    """No training worker: queued iterations stay queued, so every request meets the same state."""
    url = None
    if request.param == "postgresql":
        url = fresh_pg_schema_url(request.getfixturevalue("pg_database_url"))
    with sightline_server(tmp_path, url, start_worker=False) as running:
        yield running


def _client(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.training_url(), headers={"Training-Key": server.training_key}, timeout=60)


def _all_at_once(server: RunningServer, call) -> list[httpx.Response]:
    clients = [_client(server) for _ in range(CLIENTS)]
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            return list(pool.map(call, clients))
    finally:
        for client in clients:
            client.close()


def _project(api: httpx.Client, *, tagged: bool) -> str:
    project = api.post("/projects", params={"name": "Race", "domainId": domain_id("tiny")}).json()
    if tagged:
        tags = {k: api.post(f"/projects/{project['id']}/tags", params={"name": k}).json() for k in KINDS}
        data, labels = single_label_dataset(6, KINDS, seed=3)
        images = [
            {"name": f"{i}.jpg", "contents": base64.b64encode(d).decode(), "tagIds": [tags[label]["id"]]}
            for i, (d, label) in enumerate(zip(data, labels, strict=True))
        ]
        assert api.post(f"/projects/{project['id']}/images/files", json={"images": images}).status_code == 200
    return project["id"]


def test_concurrent_forced_trainings_queue_one_iteration(server: RunningServer):
    with _client(server) as api:
        project_id = _project(api, tagged=True)
        answers = _all_at_once(server, lambda c: c.post(f"/projects/{project_id}/train", params={"forceTrain": True}))
        iterations = api.get(f"/projects/{project_id}/iterations").json()
    statuses = sorted(r.status_code for r in answers)
    # Training v3.3 answers BadRequestTrainingAlreadyInProgress with 400, as every BadRequest* code
    assert statuses == [200] + [400] * (CLIENTS - 1), [r.text for r in answers]
    refused = [r.json()["code"] for r in answers if r.status_code == 400]
    assert set(refused) == {"BadRequestTrainingAlreadyInProgress"}
    assert [i["name"] for i in iterations] == ["Iteration 1"]


def test_concurrent_uploads_of_the_same_bytes_store_one_image(server: RunningServer):
    data, _ = single_label_dataset(1, KINDS, seed=5)
    body = {"images": [{"name": "same.jpg", "contents": base64.b64encode(data[0]).decode()}]}
    with _client(server) as api:
        project_id = _project(api, tagged=False)
        answers = _all_at_once(server, lambda c: c.post(f"/projects/{project_id}/images/files", json=body))
        count = api.get(f"/projects/{project_id}/images/count").json()
    # 207: Custom Vision's answer to a batch with a duplicate (isBatchSuccessful false); never a 500
    assert sorted(r.status_code for r in answers) == [200] + [207] * (CLIENTS - 1), [r.text for r in answers]
    statuses = sorted(r.json()["images"][0]["status"] for r in answers)
    assert statuses == ["OK"] + ["OKDuplicate"] * (CLIENTS - 1)
    assert count == 1
