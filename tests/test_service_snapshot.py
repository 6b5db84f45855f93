"""Listings as of a trained iteration (Custom Vision's `iterationId`), on SQLite and PostgreSQL: the tags
and images it trained on, as they were then, whatever happened to the project since."""

from __future__ import annotations

import pytest
from shapes_project import shapes_project

from sightline.errors import NotFoundError, NotTrainedError
from sightline.service import Worker, Workspace, images, iterations, performance, snapshot, tags, training
from sightline.service.images import NewImage
from sightline.store import BlobStore, Iteration
from sightline.synthetic import make_image, to_jpeg

KINDS = ["circle", "square"]
TRAINED = {f"{kind}-{i}.jpg" for kind in KINDS for i in range(5)}


@pytest.fixture
def ws(store, tmp_path) -> Workspace:
    return Workspace(store, BlobStore(str(tmp_path / "blobs")))


def _trained(ws: Workspace) -> tuple[str, str, dict[str, str], dict[str, str]]:
    """A Multiclass project of 5 circles and 5 squares, trained: (project id, iteration id, {tag: id}, {name: id})."""
    project = shapes_project(ws, "Shapes", 5, kinds=KINDS)
    queued = training.start_training(ws, project.id)
    assert Worker(ws).run_once() is True
    assert iterations.get_iteration(ws, project.id, queued.id).status == "Completed"
    tag_ids = {t.name: t.id for t in tags.list_tags(ws, project.id)}
    image_ids = {v.original_name: v.id for v in images.list_images(ws, project.id, take=256)}
    return project.id, queued.id, tag_ids, image_ids


def _names(views) -> list[tuple[str, list[str]]]:
    return sorted((v.original_name, [t.name for t in v.tags]) for v in views)


def test_an_iteration_shows_its_tags_and_images_as_trained(ws):
    pid, it, tag_ids, ids = _trained(ws)
    circle, square = tag_ids["circle"], tag_ids["square"]
    # Since training: a tag renamed, an image re-tagged, one deleted, one added, a new tag.
    tags.update_tag(ws, pid, circle, name="round")
    images.untag_images(ws, pid, [(ids["square-0.jpg"], square)])
    images.tag_images(ws, pid, [(ids["square-0.jpg"], circle)])
    images.delete_images(ws, pid, [ids["circle-0.jpg"]])
    (late,) = images.add_images(
        ws, pid, [NewImage(to_jpeg(make_image(["square"], seed=999)), name="late.jpg", tags=[square])]
    )
    triangle = tags.create_tag(ws, pid, "triangle")

    assert [(t.id, t.name, t.image_count) for t in snapshot.list_tags(ws, pid, it)] == [
        (circle, "circle", 5),  # the name it had; the images it trained with (one deleted since)
        (square, "square", 5),
    ]
    assert [(t.name, t.image_count) for t in snapshot.list_tags(ws, pid, None)] == [
        ("round", 5),
        ("square", 5),
        ("triangle", 0),
    ]
    as_of = snapshot.get_tag(ws, pid, it, circle)
    assert (as_of.id, as_of.name, as_of.image_count) == (circle, "circle", 5)
    with pytest.raises(NotFoundError) as info:
        snapshot.get_tag(ws, pid, it, triangle.id)
    assert info.value.code == "NotFoundTag" and "did not train on the tag 'triangle'" in str(info.value)

    listed = snapshot.list_images(ws, pid, it, take=256)
    assert _names(listed) == sorted(
        (name, ["square" if name.startswith("square") else "circle"]) for name in TRAINED - {"circle-0.jpg"}
    )
    (retagged,) = [v for v in listed if v.id == ids["square-0.jpg"]]
    assert [(t.id, t.name) for t in retagged.tags] == [(square, "square")]
    assert [t.name for t in images.get_images(ws, pid, [ids["square-0.jpg"]])[0].tags] == ["round"]  # today's
    assert snapshot.count_images(ws, pid, it) == snapshot.count_images(ws, pid, it, tagged=True) == 9
    assert (
        snapshot.list_images(ws, pid, it, tagged=False) == [] and snapshot.count_images(ws, pid, it, tagged=False) == 0
    )
    assert {v.original_name for v in snapshot.list_images(ws, pid, it, tag_ids=[circle])} == {
        f"circle-{i}.jpg" for i in range(1, 5)
    }
    assert snapshot.count_images(ws, pid, it, tag_ids=[square]) == 5
    assert snapshot.count_images(ws, pid, it, tag_ids=[triangle.id]) == 0

    oldest = snapshot.list_images(ws, pid, it, newest_first=False, take=256)
    assert [v.id for v in oldest] == [v.id for v in reversed(listed)]
    assert [v.id for v in snapshot.list_images(ws, pid, it, take=3, skip=2)] == [v.id for v in listed[2:5]]

    images.update_metadata(ws, pid, [ids["square-0.jpg"], ids["circle-1.jpg"], late.image.id], {"camera": "line-3"})
    filtered = snapshot.list_images(ws, pid, it, metadata_filter="camera eq 'line-3'")
    assert _names(filtered) == [("circle-1.jpg", ["circle"]), ("square-0.jpg", ["square"])]
    assert filtered[0].metadata == {"camera": "line-3"}
    assert snapshot.count_images(ws, pid, it, metadata_filter="camera ne 'line-3'") == 7

    by_id = snapshot.get_images(ws, pid, it, [ids["square-0.jpg"], late.image.id, ids["circle-0.jpg"]])
    assert _names(by_id) == [("square-0.jpg", ["square"])]

    evaluated = performance.image_performances(ws, pid, it, tag_ids=[circle], take=256)
    assert len(evaluated) == 4 and {(t.id, t.name) for p in evaluated for t in p.trained_tags} == {(circle, "circle")}
    assert {p.tag_id for p in evaluated[0].predictions} == {circle, square}


def test_tags_deleted_since_are_left_out_and_older_reports_match_tags_by_name(ws):
    pid, it, tag_ids, _ids = _trained(ws)
    tags.delete_tag(ws, pid, tag_ids["square"])
    assert [(t.name, t.image_count) for t in snapshot.list_tags(ws, pid, it)] == [("circle", 5)]
    listed = snapshot.list_images(ws, pid, it, take=256)
    assert _names(listed) == sorted((name, ["circle"] if "circle" in name else []) for name in TRAINED)
    with pytest.raises(NotFoundError) as info:
        snapshot.get_tag(ws, pid, it, tag_ids["square"])
    assert info.value.code == "NotFoundTag"

    # A report from before tag ids were recorded: a tag renamed since cannot be found again.
    tags.update_tag(ws, pid, tag_ids["circle"], name="round")
    assert [t.name for t in snapshot.list_tags(ws, pid, it)] == ["circle"]
    with ws.session() as session:
        row = session.get(Iteration, it)
        row.report = {key: value for key, value in row.report.items() if key != "tag_ids"}
    assert snapshot.list_tags(ws, pid, it) == []
    assert snapshot.count_images(ws, pid, it) == 10 and all(v.tags == [] for v in snapshot.list_images(ws, pid, it))


def test_an_iteration_that_has_not_trained_is_refused(ws):
    project = shapes_project(ws, "Shapes", 5, kinds=KINDS)
    circle = tags.get_tag(ws, project.id, "circle").id
    queued = training.start_training(ws, project.id)
    calls = [
        lambda: snapshot.list_tags(ws, project.id, queued.id),
        lambda: snapshot.get_tag(ws, project.id, queued.id, circle),
        lambda: snapshot.list_images(ws, project.id, queued.id, tagged=False),
        lambda: snapshot.count_images(ws, project.id, queued.id),
        lambda: snapshot.get_images(ws, project.id, queued.id, ["x"]),
    ]
    for call in calls:
        with pytest.raises(NotTrainedError) as info:
            call()
        assert info.value.code == "BadRequestIterationIsNotTrained"
        assert str(info.value) == (
            "Iteration 1 is Queued: it has a view of the images and tags it trained on once training has completed"
        )
    with pytest.raises(NotFoundError) as info:
        snapshot.list_images(ws, project.id, "0" * 36)
    assert info.value.code == "NotFoundIteration"
