"""Batch predictions started over HTTP (POST /sightline/v1/projects/{id}/batch-predictions), run by a worker,
followed with GET; sources and output only under SIGHTLINE_BATCH_ROOTS, never elsewhere on the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_server import RunningServer, sightline_server
from shapes_project import shapes_project

from sightline.batch import jobs, read_results
from sightline.service import Worker, iterations, training
from sightline.store import BatchJob, claim_next_batch_job
from sightline.synthetic import make_image, to_jpeg


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_backbone) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("batch-api"), start_worker=False, web=False) as running:
        project = shapes_project(running.ws, "Shapes", 6)
        queued = training.start_training(running.ws, project.id)
        assert Worker(running.ws).run_once()
        iterations.publish_iteration(running.ws, project.id, queued.id, "production")
        running.app.state.project_id = project.id
        yield running


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    base = f"{server.url}/sightline/v1/projects/{server.app.state.project_id}"
    with httpx.Client(base_url=base, headers={"Training-Key": server.training_key}, timeout=60) as client:
        yield client


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    allowed = tmp_path / "allowed"
    (allowed / "photos").mkdir(parents=True)
    for i, kind in enumerate(["circle", "square", "triangle"]):
        (allowed / "photos" / f"{kind}.jpg").write_bytes(to_jpeg(make_image([kind], seed=900 + i)))
    (allowed / "photos" / "broken.jpg").write_bytes(b"not a photo")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret.jpg").write_bytes(to_jpeg(make_image(["circle"], seed=1)))
    monkeypatch.setenv("SIGHTLINE_BATCH_ROOTS", f"{allowed}, s3://bucket/batch")
    return allowed


def _refused(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == code, body
    return body["message"]


def test_a_job_is_queued_run_by_a_worker_and_followed_to_its_rows(server: RunningServer, api: httpx.Client, roots):
    output = roots / "out" / "rows.jsonl"
    body = {"publishName": "production", "sources": [str(roots / "photos")], "output": str(output)}
    started = api.post("/batch-predictions", json=body)
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["status"] == "Queued" and job["sources"] == body["sources"] and job["startedAt"] is None
    assert api.get(f"/batch-predictions/{job['id']}").json()["status"] == "Queued"

    assert Worker(server.ws, other_jobs=[jobs.run_next]).run_once() is True
    done = api.get(f"/batch-predictions/{job['id']}").json()
    assert done["status"] == "Completed", done
    assert (done["total"], done["done"], done["failed"]) == (4, 4, 1) and done["error"] is None
    assert done["startedAt"] and done["finishedAt"]
    rows = {Path(row["path"]).name: row for row in read_results(output)}
    assert set(rows) == {"circle.jpg", "square.jpg", "triangle.jpg", "broken.jpg"}
    assert rows["broken.jpg"]["error"]["reason"] == "not_an_image"
    assert {t["tag"] for t in rows["circle.jpg"]["tags"]} == {"circle", "square", "triangle"}
    assert Worker(server.ws, other_jobs=[jobs.run_next]).run_once() is False  # nothing left


def test_sources_and_outputs_outside_the_roots_are_refused(api: httpx.Client, roots: Path):
    inside = str(roots / "photos")
    out = str(roots / "rows.jsonl")
    elsewhere = str(roots.parent / "elsewhere")
    cases = [
        ([elsewhere], out),
        ([str(roots / "photos" / ".." / ".." / "elsewhere")], out),
        (["/etc/passwd"], out),
        (["photos"], out),  # relative: it would depend on where the worker runs
        (["s3://bucket/batch/../private/"], out),
        (["s3://bucket/batchy/"], out),
        (["s3://other/batch/"], out),
        ([inside], str(roots.parent / "elsewhere" / "rows.jsonl")),
    ]
    for sources, output in cases:
        response = api.post(
            "/batch-predictions", json={"publishName": "production", "sources": sources, "output": output}
        )
        assert "outside the places" in _refused(response, 400, "BadRequestBatchSource"), (sources, output)
    link = roots / "link"
    link.symlink_to(roots.parent / "elsewhere")  # a link inside the root that leads out of it
    response = api.post("/batch-predictions", json={"publishName": "production", "sources": [str(link)], "output": out})
    _refused(response, 400, "BadRequestBatchSource")
    bad_output = api.post(
        "/batch-predictions", json={"publishName": "production", "sources": [inside], "output": str(roots / "x.txt")}
    )
    _refused(bad_output, 400, "BadRequestBatchOutput")
    unknown = api.post("/batch-predictions", json={"publishName": "nope", "sources": [inside], "output": out})
    _refused(unknown, 404, "NotFoundIteration")
    _refused(api.get("/batch-predictions/00000000-0000-0000-0000-000000000000"), 404, "NotFound")


def test_with_no_roots_configured_every_job_is_refused(api: httpx.Client, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("SIGHTLINE_BATCH_ROOTS", raising=False)
    body = {"publishName": "production", "sources": [str(tmp_path)], "output": str(tmp_path / "rows.jsonl")}
    assert "are off" in _refused(api.post("/batch-predictions", json=body), 400, "BadRequestBatchSource")


def test_a_manifest_naming_a_file_outside_the_roots_fails_the_job_before_reading_it(
    server: RunningServer, api: httpx.Client, roots: Path
):
    manifest = roots / "images.csv"
    manifest.write_text(f"path\n{roots / 'photos' / 'circle.jpg'}\n{roots.parent / 'elsewhere' / 'secret.jpg'}\n")
    output = roots / "manifest.jsonl"
    body = {"publishName": "production", "sources": [str(manifest)], "output": str(output)}
    job = api.post("/batch-predictions", json=body).json()
    assert Worker(server.ws, other_jobs=[jobs.run_next]).run_once() is True
    failed = api.get(f"/batch-predictions/{job['id']}").json()
    assert failed["status"] == "Failed" and "secret.jpg" in failed["error"] and "outside" in failed["error"]
    assert not output.exists()  # nothing was read, nothing written


def test_a_job_whose_worker_died_is_taken_over_and_resumes_from_the_rows_written(
    server: RunningServer, api: httpx.Client, roots: Path
):
    output = roots / "resumed.jsonl"
    body = {"publishName": "production", "sources": [str(roots / "photos")], "output": str(output)}
    job = api.post("/batch-predictions", json=body).json()
    with server.ws.session() as session:  # a worker claims it, writes one row, and dies: its lease runs out
        claim_next_batch_job(session, "dead-worker", lease_seconds=-1)
    written = roots / "photos" / "circle.jpg"
    output.write_text(json.dumps({"path": str(written), "tags": [], "error": None, "marker": "first attempt"}) + "\n")

    assert Worker(server.ws, other_jobs=[jobs.run_next]).run_once() is True
    done = api.get(f"/batch-predictions/{job['id']}").json()
    assert done["status"] == "Completed" and (done["total"], done["done"], done["failed"]) == (4, 4, 1), done
    rows = read_results(output)
    assert sorted(Path(row["path"]).name for row in rows) == ["broken.jpg", "circle.jpg", "square.jpg", "triangle.jpg"]
    assert next(row for row in rows if row["path"] == str(written)).get("marker") == "first attempt"  # not redone
    with server.ws.session() as session:
        assert session.get(BatchJob, job["id"]).attempts == 2
