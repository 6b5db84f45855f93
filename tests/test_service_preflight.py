"""Service helpers for the web UI: the checks before training, and tags by name created on demand."""

from __future__ import annotations

import pytest

from sightline.service import Workspace, images, projects, tags, training
from sightline.service.images import NewImage
from sightline.store import BlobStore
from sightline.synthetic import make_image, to_jpeg


@pytest.fixture
def ws(store, tmp_path) -> Workspace:
    return Workspace(store, BlobStore(str(tmp_path / "blobs")))


def _add(ws: Workspace, project_id: str, kind: str, count: int, seed: int = 0) -> None:
    batch = [NewImage(to_jpeg(make_image([kind], seed=seed + i, size=64)), tags=[kind]) for i in range(count)]
    assert {r.status for r in images.add_images(ws, project_id, batch)} == {"OK"}


def test_preflight_says_what_training_would_refuse_and_warn(ws: Workspace) -> None:
    project = projects.create_project(ws, "Shapes", domain="tiny")
    empty = training.preflight(ws, project.id)
    assert empty.refusal_code == "BadRequestTrainingValidationFailed" and empty.tag_counts == {}

    tags.create_tag(ws, project.id, "circle")
    tags.create_tag(ws, project.id, "square")
    _add(ws, project.id, "circle", 5)
    _add(ws, project.id, "square", 3, seed=100)
    short = training.preflight(ws, project.id)
    assert short.refusal_code == "BadRequestNotEnoughImagesPerTag" and "square (3)" in short.refusal
    assert short.tag_counts == {"circle": 5, "square": 3}

    _add(ws, project.id, "circle", 6, seed=200)
    _add(ws, project.id, "square", 2, seed=300)
    images.add_images(ws, project.id, [NewImage(to_jpeg(make_image(["star"], seed=9, size=64)))])
    ready = training.preflight(ws, project.id)
    assert ready.refusal is None and ready.tag_counts == {"circle": 11, "square": 5} and ready.untagged_images == 1
    few, imbalance = ready.warnings  # the engine's own wording (sightline.learn.training)
    assert "fewer than 15 images" in few and "imbalanced" in imbalance and "'circle' has 11" in imbalance

    training.start_training(ws, project.id)
    busy = training.preflight(ws, project.id)
    assert busy.refusal_code == "BadRequestTrainingAlreadyInProgress" and "Queued" in busy.refusal


def test_balanced_tags_with_enough_images_warn_of_nothing(ws: Workspace) -> None:
    project = projects.create_project(ws, "Balanced", domain="tiny")
    for kind in ("circle", "square"):
        tags.create_tag(ws, project.id, kind)
    _add(ws, project.id, "circle", 15)
    _add(ws, project.id, "square", 15, seed=100)
    assert training.preflight(ws, project.id).warnings == []


def test_ensure_tags_finds_or_creates_by_name(ws: Workspace) -> None:
    project = projects.create_project(ws, "Tags", domain="tiny")
    circle = tags.create_tag(ws, project.id, "circle")
    found = tags.ensure_tags(ws, project.id, ["Circle", " square ", "", "square", "circle"])
    assert [t.name for t in found] == ["circle", "square"] and found[0].id == circle.id
    assert [t.name for t in tags.list_tags(ws, project.id)] == ["circle", "square"]
