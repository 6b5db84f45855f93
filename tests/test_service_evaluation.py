"""Evaluation that holds on new images, through the service layer on SQLite and PostgreSQL:
declared groups from a metadata key, test sets kept out of training, scoring on labelled folders."""

from __future__ import annotations

import pytest

from sightline.errors import InvalidRequestError
from sightline.service import Worker, Workspace, images, iterations, projects, tags, training
from sightline.service.images import NewImage
from sightline.service.performance import trained_report
from sightline.store import BlobStore
from sightline.synthetic import make_image, to_jpeg

KINDS = ["circle", "square", "triangle"]


@pytest.fixture
def ws(store, tmp_path) -> Workspace:
    return Workspace(store, BlobStore(str(tmp_path / "blobs")))


def _shapes(ws: Workspace, name: str, per_kind: int, *, group_key: str | None = None, item_size: int = 2):
    project = projects.create_project(ws, name, domain="tiny", group_key=group_key)
    for kind in KINDS:
        tags.create_tag(ws, project.id, kind)
    batch = [
        NewImage(
            to_jpeg(make_image([kind], seed=k * 100 + i)),
            name=f"{kind}-{i}.jpg",
            tags=[kind],
            metadata={"item": f"{kind}-{i // item_size}"},
        )
        for k, kind in enumerate(KINDS)
        for i in range(per_kind)
    ]
    assert all(r.ok for r in images.add_images(ws, project.id, batch))
    return project


def _train(ws: Workspace, project_id: str) -> str:
    queued = training.start_training(ws, project_id, force=True)
    assert Worker(ws).run_once() is True
    done = iterations.get_iteration(ws, project_id, queued.id)
    assert done.status == "Completed", done.error
    return done.id


def test_a_group_key_forms_cross_validation_groups(ws):
    project = _shapes(ws, "Grouped", 8, group_key=" item ")
    assert projects.get_project(ws, project.id).group_key == "item"
    _, report = trained_report(ws, project.id, _train(ws, project.id))
    assert report["n_declared_group_images"] == 24
    assert report["n_groups"] <= 12  # 4 items per tag, 2 shots each (near-duplicates may join more)
    assert projects.set_group_key(ws, project.id, "").group_key is None
    # a changed group key is a reason to train again; the images' groups are read again
    _, report = trained_report(ws, project.id, _train(ws, project.id))
    assert report["n_declared_group_images"] == 0
    with pytest.raises(InvalidRequestError, match="group key"):
        projects.set_group_key(ws, project.id, "bad\x00key")
