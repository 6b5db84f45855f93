"""Batch prediction (`sightline predict-batch`, `sightline.batch.predict`): locally and on Ray Data, over
folders, a CSV manifest with bad images in it and an S3 prefix; JSON Lines and Parquet; resume after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from shapes_project import shapes_project

from sightline import batch
from sightline.errors import InvalidRequestError, NotFoundError
from sightline.service import Worker, Workspace, iterations, predictions, training
from sightline.store import BlobStore, open_store
from sightline.synthetic import make_image, to_jpeg

KINDS = ["circle", "square", "triangle"]


@dataclass
class Published:
    ws: Workspace
    project_id: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, tiny_backbone) -> Iterator[Published]:
    folder = tmp_path_factory.mktemp("batch-ws")
    database = f"sqlite:///{folder / 'sightline.db'}"
    ws = Workspace(open_store(database), BlobStore(str(folder / "blobs")))
    project = shapes_project(ws, "Shapes", 6)
    queued = training.start_training(ws, project.id)
    assert Worker(ws).run_once()
    assert iterations.get_iteration(ws, project.id, queued.id).status == "Completed"
    iterations.publish_iteration(ws, project.id, queued.id, "production")
    env = {**os.environ, "SIGHTLINE_DATABASE_URL": database, "SIGHTLINE_BLOB_URL": str(folder / "blobs")}
    yield Published(ws, project.id, env)
    ws.close()


def _photos(folder: Path, count: int, *, bad: bool = True) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"{KINDS[i % 3]}-{i:04d}.jpg"
        path.write_bytes(to_jpeg(make_image([KINDS[i % 3]], seed=90_000 + i, size=96)))
        paths.append(str(path))
    if bad:
        (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
        (folder / "empty.png").write_bytes(b"")
        paths += [str(folder / "broken.jpg"), str(folder / "empty.png")]
    return sorted(paths)


def _check_rows(rows: list[dict], paths: list[str]) -> None:
    assert sorted(row["path"] for row in rows) == sorted(paths)
    for row in rows:
        name = Path(row["path"]).name
        if name in ("broken.jpg", "empty.png"):
            assert row["error"]["reason"] in ("corrupt", "empty", "not_an_image"), row
            assert row["tags"] is None
            continue
        assert row["error"] is None
        assert {t["tag"] for t in row["tags"]} == set(KINDS)
        probabilities = [t["probability"] for t in row["tags"]]
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-6)
        assert all(t["above_threshold"] == (t["probability"] >= 0.5) for t in row["tags"])
        assert isinstance(row["uncertain"], bool) and 0.0 <= row["unknown_score"] <= 1.0


def test_local_folder_and_manifest_with_bad_images_to_jsonl(published, tmp_path):
    paths = _photos(tmp_path / "photos", 20)
    manifest = tmp_path / "manifest.csv"
    missing = str(tmp_path / "photos" / "missing.jpg")
    manifest.write_text("path,note\n" + "".join(f"photos/{Path(p).name},x\n" for p in paths[:5]) + f"{missing},gone\n")
    summary = batch.predict(
        published.ws, "Shapes", "production", [str(tmp_path / "photos"), str(manifest)], str(tmp_path / "r.jsonl")
    )
    rows = batch.read_results(tmp_path / "r.jsonl")
    assert summary.total == 23 and summary.failed == 3 and summary.predicted == 20
    by_path = {row["path"]: row for row in rows}
    assert by_path[missing]["error"]["reason"] == "not_found"
    _check_rows([row for row in rows if row["path"] != missing], paths)
    # the same model answers as the prediction API does
    good = next(p for p in paths if "-" in Path(p).name)
    (view,) = predictions.predict(
        published.ws, "Shapes", [Path(good).read_bytes()], publish_name="production", store=False
    )
    first = by_path[good]["tags"]
    assert [p.tag_name for p in view.predictions] == [t["tag"] for t in first]
    assert [p.probability for p in view.predictions] == pytest.approx([t["probability"] for t in first], abs=1e-6)


def test_parquet_output_and_clear_errors(published, tmp_path):
    paths = _photos(tmp_path / "photos", 6)
    out = tmp_path / "r.parquet"
    batch.predict(published.ws, "Shapes", "production", [str(tmp_path / "photos" / "*.*")], str(out))
    _check_rows(batch.read_results(out), paths)
    assert not (tmp_path / "r.parquet.partial.jsonl").exists()
    with pytest.raises(InvalidRequestError, match="--resume"):
        batch.predict(published.ws, "Shapes", "production", [str(tmp_path / "photos")], str(out))
    with pytest.raises(InvalidRequestError, match=r"jsonl or \.parquet"):
        batch.predict(published.ws, "Shapes", "production", [str(tmp_path / "photos")], str(tmp_path / "r.csv"))
    with pytest.raises(NotFoundError):
        batch.predict(published.ws, "Shapes", "staging", [str(tmp_path / "photos")], str(tmp_path / "x.jsonl"))
    with pytest.raises(InvalidRequestError, match="holds no images"):
        (tmp_path / "none").mkdir()
        batch.predict(published.ws, "Shapes", "production", [str(tmp_path / "none")], str(tmp_path / "y.jsonl"))


def test_an_s3_prefix_is_a_source(published, tmp_path, s3_blob_url):
    import fsspec

    from sightline.store import storage_options

    paths = _photos(tmp_path / "photos", 6)
    fs = fsspec.filesystem("s3", **storage_options("s3://x"))
    prefix = s3_blob_url + "/incoming"
    for path in paths:
        fs.pipe_file(f"{prefix}/{Path(path).name}".removeprefix("s3://"), Path(path).read_bytes())
    out = tmp_path / "r.jsonl"
    summary = batch.predict(published.ws, "Shapes", "production", [prefix], str(out))
    assert summary.total == len(paths)
    _check_rows(batch.read_results(out), [f"{prefix}/{Path(p).name}" for p in paths])


def test_resume_after_a_kill_predicts_each_image_once(published, tmp_path):
    paths = _photos(tmp_path / "photos", 240, bad=False)
    out = tmp_path / "r.jsonl"
    command = [sys.executable, "-m", "sightline.cli", "predict-batch", "Shapes", str(tmp_path / "photos")]
    command += ["--name", "production", "--out", str(out), "--batch-size", "4"]
    process = subprocess.Popen(command, env=published.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and out.stat().st_size > 0:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = len(batch.read_results(out)) if out.exists() else 0
    assert process.returncode == -signal.SIGKILL and before < len(paths), "the run ended before the kill"
    with out.open("ab") as file:
        file.write(b'{"path": "torn')  # a line cut short, as a kill mid-write leaves it
    done = subprocess.run([*command, "--resume"], env=published.env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "img/s" in done.stderr and "already done" in done.stderr
    rows = batch.read_results(out)
    assert sorted(row["path"] for row in rows) == paths  # each image exactly once
    refused = subprocess.run(command, env=published.env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "--resume" in refused.stderr and "Traceback" not in refused.stderr


@pytest.fixture(scope="session")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_on_ray_over_a_folder_with_bad_images_and_s3(published, tmp_path, ray_cluster, s3_blob_url):
    import fsspec

    from sightline.store import storage_options

    paths = _photos(tmp_path / "photos", 30)
    out = tmp_path / "ray.jsonl"
    summary = batch.predict(published.ws, "Shapes", "production", [str(tmp_path / "photos")], str(out), ray=True)
    assert summary.failed == 2
    rows = batch.read_results(out)
    _check_rows(rows, paths)
    local = tmp_path / "local.jsonl"
    batch.predict(published.ws, "Shapes", "production", [str(tmp_path / "photos")], str(local))
    on_ray = {row["path"]: row for row in rows}
    for row in batch.read_results(local):
        if row["error"] is None:
            assert [t["tag"] for t in row["tags"]] == [t["tag"] for t in on_ray[row["path"]]["tags"]]
            assert [t["probability"] for t in row["tags"]] == pytest.approx(
                [t["probability"] for t in on_ray[row["path"]]["tags"]], abs=1e-5
            )

    fs = fsspec.filesystem("s3", **storage_options("s3://x"))
    prefix = s3_blob_url + "/ray"
    for path in paths[:6]:
        fs.pipe_file(f"{prefix}/{Path(path).name}".removeprefix("s3://"), Path(path).read_bytes())
    s3_out = tmp_path / "s3.parquet"
    batch.predict(published.ws, "Shapes", "production", [prefix], str(s3_out), ray=True)
    assert sorted(row["path"] for row in batch.read_results(s3_out)) == sorted(
        f"{prefix}/{Path(p).name}" for p in paths[:6]
    )
