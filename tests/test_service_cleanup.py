"""Deleted data does not stay on disk: blobs go with the last row that refers to them; `gc` sweeps orphans."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sightline.service import Workspace, images, projects
from sightline.service.cleanup import collect_garbage, forget_unreferenced
from sightline.service.images import NewImage
from sightline.store import BlobStore
from sightline.synthetic import make_image, to_jpeg

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture
def ws(store, tmp_path) -> Workspace:
    return Workspace(store, BlobStore(str(tmp_path / "blobs")))


def _files(ws: Workspace) -> set[str]:
    return {f.name for f in ws.blobs.listing()}


def _photos(count: int, seed: int = 0) -> list[bytes]:
    return [to_jpeg(make_image(["circle"], seed=seed + i)) for i in range(count)]


def test_deleting_a_project_removes_its_blobs_and_thumbnails_but_not_shared_ones(ws: Workspace):
    shared, *own = _photos(5)
    doomed = projects.create_project(ws, "Doomed", domain="tiny")
    kept = projects.create_project(ws, "Kept", domain="tiny")
    images.add_images(ws, doomed.id, [NewImage(d) for d in [shared, *own]])
    images.add_images(ws, kept.id, [NewImage(shared)])
    assert len(_files(ws)) == 10  # five images, five thumbnails
    projects.delete_project(ws, doomed.id)
    key = BlobStore.key_for(shared)
    assert _files(ws) == {key, f"{key}.thumb"}
    (kept_image,) = images.list_images(ws, kept.id)
    images.delete_images(ws, kept.id, [kept_image.id])
    assert _files(ws) == set()


def test_a_blob_moved_aside_comes_back_when_a_row_appears_meanwhile(ws: Workspace, monkeypatch):
    """The race with an upload of the same bytes committing while the delete runs."""
    (photo,) = _photos(1, seed=9)
    first = projects.create_project(ws, "First", domain="tiny")
    other = projects.create_project(ws, "Other", domain="tiny")
    (added,) = images.add_images(ws, first.id, [NewImage(photo)])
    real_move_aside = ws.blobs.move_aside

    def upload_commits_meanwhile(key: str):
        moved = real_move_aside(key)
        images.add_images(ws, other.id, [NewImage(photo)])  # sees the blob gone after its commit: rewrites it
        return moved

    monkeypatch.setattr(ws.blobs, "move_aside", upload_commits_meanwhile)
    images.delete_images(ws, first.id, [added.image.id])
    (survivor,) = images.list_images(ws, other.id)
    assert images.image_bytes(ws, other.id, survivor.id) == photo
    assert not any(name.endswith(".tmp") for name in _files(ws))


def test_gc_sweeps_orphans_older_than_the_grace_period_only(ws: Workspace):
    project = projects.create_project(ws, "Live", domain="tiny")
    live, orphan, fresh = _photos(3, seed=20)
    images.add_images(ws, project.id, [NewImage(live)])
    orphan_key, fresh_key = ws.blobs.put(orphan), ws.blobs.put(fresh)  # as a killed upload leaves them
    ws.blobs.put_derived(orphan_key, "thumb", b"thumbnail")
    old = time.time() - 3600
    for key in (orphan_key, f"{orphan_key}.thumb"):
        os.utime(ws.blobs.path(key), (old, old))
    report = collect_garbage(ws, grace_seconds=600)
    assert (report.removed, report.kept_recent) == (2, 1)
    live_key = BlobStore.key_for(live)
    assert _files(ws) == {live_key, f"{live_key}.thumb", fresh_key}
    assert forget_unreferenced(ws, [live_key]) == 0  # still referenced


def test_gc_command(tmp_path: Path):
    env = {**os.environ, "SIGHTLINE_HOME": str(tmp_path)}
    blobs = BlobStore(str(tmp_path / "blobs"))
    key = blobs.put(b"orphan bytes")
    os.utime(blobs.path(key), (time.time() - 7200,) * 2)
    done = subprocess.run(
        [sys.executable, "-m", "sightline.cli", "gc", "--grace", "60"],
        cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("removed 1 unreferenced files (12 bytes)")
    assert not blobs.exists(key)


def test_a_worker_sweeps_orphans_when_it_starts_and_then_on_its_interval(ws: Workspace, monkeypatch):
    from sightline.service import worker as worker_module
    from sightline.service.worker import Worker

    orphan = ws.blobs.put(b"left by a killed upload")
    os.utime(ws.blobs.path(orphan), (time.time() - 7200,) * 2)
    sweeps = []
    monkeypatch.setattr(worker_module, "collect_garbage", lambda w: sweeps.append(collect_garbage(w)) or sweeps[-1])
    worker = Worker(ws, poll_seconds=0.01, gc_interval_seconds=0.05)
    stopper = threading.Timer(0.5, worker.stop)  # a few polls, then stop
    stopper.start()
    worker.run_forever()
    assert sweeps[0].removed == 1 and not ws.blobs.exists(orphan)  # the sweep at start removed it
    assert len(sweeps) >= 2  # and it swept again on its interval

    monkeypatch.setenv("SIGHTLINE_GC_INTERVAL_HOURS", "0")
    assert Worker(ws).gc_interval_seconds == 0  # 0: never
