"""`sightline migrate` against a second Sightline server acting as the Azure source (it speaks the same API).

Counts, tags (name, description, type), metadata and image bytes identical; a re-run copies nothing; a
CLI process killed mid-copy and run again completes the copy; a wrong key or endpoint is one clear line.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_server import RunningServer, sightline_server

from sightline import migration
from sightline.errors import NotFoundError
from sightline.service import Worker, Workspace, images, iterations, projects, tags, training
from sightline.service.images import NewImage
from sightline.store import BlobStore, open_store
from sightline.synthetic import make_image, to_jpeg

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A Multilabel project with two regular tags, a Negative one, metadata, and untagged images."""
    with sightline_server(tmp_path_factory.mktemp("migrate-source")) as running:
        ws = running.ws
        project = projects.create_project(ws, "Shapes", classification_type="Multilabel", domain="tiny")
        circle = tags.create_tag(ws, project.id, "circle", description="round things")
        square = tags.create_tag(ws, project.id, "square")
        nothing = tags.create_tag(ws, project.id, "Nothing", type="Negative")
        plan = [[circle.id]] * 4 + [[square.id]] * 3 + [[circle.id, square.id]] * 2 + [[nothing.id]] * 2 + [[]] * 3
        new = [
            NewImage(
                to_jpeg(make_image(["circle"], seed=50_000 + i)),
                tags=own,
                metadata={"camera": f"c{i % 3}", "line": "north"} if i % 2 else {},
            )
            for i, own in enumerate(plan)
        ]
        assert all(r.ok for r in images.add_images(ws, project.id, new))
        projects.create_project(ws, "Other", domain="tiny")
        yield running


def _target(folder: Path) -> Workspace:
    return Workspace(open_store(f"sqlite:///{folder / 'target.db'}"), BlobStore(str(folder / "blobs")))


def _snapshot(ws: Workspace, project: str) -> dict:
    """Everything that must be identical: tags, and per image its bytes' hash, tag names and metadata."""
    rows = images.list_images(ws, project, take=1000)
    return {
        "tags": sorted((t.name, t.description, t.type) for t in tags.list_tags(ws, project)),
        "images": sorted(
            (
                hashlib.sha256(images.image_bytes(ws, project, r.id)).hexdigest(),
                tuple(sorted(t.name for t in r.tags)),
                tuple(sorted(r.metadata.items())),
            )
            for r in rows
        ),
    }


def test_a_project_is_copied_identically_and_a_rerun_copies_nothing(
    source: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(migration, "PAGE", 4)  # several pages of take/skip
    target = _target(tmp_path)
    try:
        seen: list[int] = []
        (report,) = migration.migrate(
            target,
            source.url,
            source.training_key,
            projects_wanted=["Shapes"],
            backbone="tiny",
            progress=lambda _name, done, total: seen.append(done),
        )
        assert (report.copied, report.already, report.errors) == (14, 0, [])
        assert seen == list(range(1, 15))
        copied = projects.get_project(target, "Shapes")
        assert (copied.classification_type, copied.domain) == ("Multilabel", "tiny")
        assert _snapshot(target, "Shapes") == _snapshot(source.ws, "Shapes")
        assert images.count_images(target, "Shapes", tagged=False) == 3

        (again,) = migration.migrate(target, source.url, source.training_key, projects_wanted=["Shapes"])
        assert (again.copied, again.already, again.errors) == (0, 14, [])
        assert _snapshot(target, "Shapes") == _snapshot(source.ws, "Shapes")
        with pytest.raises(NotFoundError):
            projects.get_project(target, "Other")  # only what was asked for
    finally:
        target.close()


def _cli(folder: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "SIGHTLINE_HOME": str(folder), "PYTHONPATH": str(ROOT)}
    for name in ("SIGHTLINE_DATABASE_URL", "SIGHTLINE_BLOB_URL"):
        env.pop(name, None)
    return subprocess.Popen(
        [sys.executable, "-m", "sightline.cli", "migrate", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _home_ws(home: Path) -> Workspace:
    return Workspace(open_store(f"sqlite:///{home / 'sightline.db'}"), BlobStore(str(home / "blobs")))


def _copied_so_far(home: Path) -> int:
    if not (home / "sightline.db").exists():
        return 0
    ws = _home_ws(home)
    try:
        return images.count_images(ws, "Shapes")
    except NotFoundError:
        return 0
    finally:
        ws.close()


def test_a_killed_migration_completes_when_run_again(source: RunningServer, tmp_path: Path):
    home = tmp_path / "home"
    args = ("--endpoint", source.url, "--training-key", source.training_key, "--project", "Shapes")
    args = (*args, "--backbone", "tiny")
    process = _cli(home, *args)
    try:
        deadline = time.monotonic() + 300
        while _copied_so_far(home) < 3:
            assert process.poll() is None, "the copy ended before it could be killed: " + process.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    partial = _copied_so_far(home)
    assert 3 <= partial < 14, partial
    rerun = _cli(home, *args)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert f"{14 - partial} image(s) copied, {partial} already here, 0 failed" in out
    target = _home_ws(home)
    try:
        assert _snapshot(target, "Shapes") == _snapshot(source.ws, "Shapes")
    finally:
        target.close()


def test_a_wrong_key_or_endpoint_is_one_clear_line(source: RunningServer, tmp_path: Path):
    wrong_key = _cli(tmp_path, "--endpoint", source.url, "--training-key", "not-the-key")
    _out, err = wrong_key.communicate(timeout=120)
    assert wrong_key.returncode == 1 and "refused the training key" in err and "Traceback" not in err
    nowhere = _cli(tmp_path, "--endpoint", "http://127.0.0.1:9", "--training-key", "k")
    _out, err = nowhere.communicate(timeout=120)
    assert nowhere.returncode == 1 and "cannot reach http://127.0.0.1:9" in err and "Traceback" not in err


def _wait_completed(ws: Workspace, project: str, deadline_s: float = 300) -> str:
    deadline = time.monotonic() + deadline_s
    while True:
        (latest,) = iterations.list_iterations(ws, project)[-1:]
        if latest.status == "Completed":
            return latest.id
        assert latest.status in ("Queued", "Training"), latest.error
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_the_azure_baseline_is_kept_and_shown_beside_sightlines_figures(source: RunningServer, tmp_path: Path):
    ws = source.ws
    project = projects.create_project(ws, "Trained", domain="tiny")
    for seed, name in ((70_000, "circle"), (71_000, "square")):
        tag = tags.create_tag(ws, project.id, name)
        new = [NewImage(to_jpeg(make_image([name], seed=seed + i)), tags=[tag.id]) for i in range(5)]
        assert all(r.ok for r in images.add_images(ws, project.id, new))
    training.start_training(ws, project.id)
    published = iterations.publish_iteration(ws, project.id, _wait_completed(ws, project.id), "azure-model")
    figures = httpx.get(
        f"{source.training_url()}/projects/{project.id}/iterations/{published.id}/performance",
        headers={"Training-Key": source.training_key},
    ).json()

    home = tmp_path / "home"
    run = _cli(home, "--endpoint", source.url, "--training-key", source.training_key, "--project", "Trained",
               "--backbone", "tiny", "--train")  # fmt: skip
    _out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    target = _home_ws(home)
    try:
        (kept,) = projects.get_project(target, "Trained").settings["azureBaseline"]
        assert kept["publishName"] == "azure-model"
        assert (kept["precision"], kept["recall"]) == (figures["precision"], figures["recall"])
        _wait_after_worker(target)
    finally:
        target.close()
    env = {**os.environ, "SIGHTLINE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    for name in ("SIGHTLINE_DATABASE_URL", "SIGHTLINE_BLOB_URL"):
        env.pop(name, None)
    shown = subprocess.run(
        [sys.executable, "-m", "sightline.cli", "iterations", "show", "Trained"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    line = f'Azure baseline ({published.name}, published as "azure-model"): precision {figures["precision"]:.1%}'
    assert line in shown.stdout and f"recall {figures['recall']:.1%}" in shown.stdout
    assert "precision" in shown.stdout.split("Azure baseline")[0]  # Sightline's own figures come first


def _wait_after_worker(target: Workspace) -> None:
    """The migration queued training; run it here (no server holds this workspace)."""
    assert Worker(target).run_once()
    assert iterations.list_iterations(target, "Trained")[-1].status == "Completed"
