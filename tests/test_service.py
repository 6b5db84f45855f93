"""The service layer end to end, on SQLite and PostgreSQL: projects, tags, images, training, predictions."""

from __future__ import annotations

import io
import zipfile

import pytest

from sightline.errors import (
    ConflictError,
    InvalidRequestError,
    NotEnoughImagesError,
    NotFoundError,
    NotTrainedError,
)
from sightline.service import Worker, Workspace, images, iterations, predictions, projects, tags, training
from sightline.service.images import NewImage
from sightline.store import BlobStore
from sightline.synthetic import make_image, make_unrelated_image, to_jpeg

KINDS = ["circle", "square", "triangle"]


@pytest.fixture
def ws(store, tmp_path) -> Workspace:
    return Workspace(store, BlobStore(str(tmp_path / "blobs")))


def _upload(ws: Workspace, project_id: str, per_kind: int, kinds=KINDS, seed: int = 0) -> None:
    batch = [
        NewImage(to_jpeg(make_image([kind], seed=seed * 1000 + k * 100 + i)), name=f"{kind}-{i}.jpg", tags=[kind])
        for k, kind in enumerate(kinds)
        for i in range(per_kind)
    ]
    results = images.add_images(ws, project_id, batch)
    assert all(r.status == "OK" for r in results), [r for r in results if not r.ok]


def _project_with_tags(ws: Workspace, kind: str = "Multiclass"):
    project = projects.create_project(ws, "Shapes", classification_type=kind, domain="tiny")
    for name in KINDS:
        tags.create_tag(ws, project.id, name)
    return project


def test_projects_and_tags_follow_custom_vision_rules(ws):
    project = _project_with_tags(ws)
    assert projects.get_project(ws, "Shapes").id == project.id
    with pytest.raises(InvalidRequestError) as info:
        projects.create_project(ws, "Shapes")
    assert info.value.code == "BadRequestProjectNameNotUnique"
    with pytest.raises(InvalidRequestError, match="Multiclass or Multilabel"):
        projects.create_project(ws, "Other", classification_type="Detection")
    with pytest.raises(InvalidRequestError) as info:
        tags.create_tag(ws, project.id, "CIRCLE")
    assert info.value.code == "BadRequestTagNameNotUnique"
    tags.create_tag(ws, project.id, "nothing", type="Negative")
    with pytest.raises(InvalidRequestError) as info:
        tags.create_tag(ws, project.id, "void", type="Negative")
    assert info.value.code == "BadRequestMultipleNegativeTag"
    assert [t.name for t in tags.list_tags(ws, project.id)] == ["circle", "nothing", "square", "triangle"]
    with pytest.raises(NotFoundError):
        projects.get_project(ws, "missing")


@pytest.mark.parametrize("bad", ["a\x00b", "two\nlines", "bell\x07", "\x9b"])
def test_names_with_control_characters_are_refused_alike_on_every_database(ws, bad):
    project = _project_with_tags(ws)
    with pytest.raises(InvalidRequestError, match="control character") as info:
        projects.create_project(ws, bad)
    assert info.value.code == "BadRequestProjectName"
    with pytest.raises(InvalidRequestError, match="control character"):
        tags.create_tag(ws, project.id, bad)
    with pytest.raises(InvalidRequestError, match="control character"):
        tags.update_tag(ws, project.id, tags.list_tags(ws, project.id)[0].id, name=bad)
    assert [p.name for p in projects.list_projects(ws)] == ["Shapes"]
    assert [t.name for t in tags.list_tags(ws, project.id)] == KINDS


def test_iteration_names_are_checked_like_project_and_tag_names(ws):
    project = _project_with_tags(ws)
    _upload(ws, project.id, 5)
    iteration = training.start_training(ws, project.id)  # queued is enough to be renamed
    for bad, reason in [("a\x00b", "control character"), ("x" * 1000, "the limit is"), ("  ", "needs a name")]:
        with pytest.raises(InvalidRequestError, match=reason) as info:
            iterations.rename_iteration(ws, project.id, iteration.id, bad)
        assert info.value.code == "BadRequestIterationName"
    assert iterations.rename_iteration(ws, project.id, iteration.id, "  First  ").name == "First"


def test_upload_reports_each_image_and_keeps_going(ws):
    project = _project_with_tags(ws)
    good = to_jpeg(make_image(["circle"], seed=1))
    results = images.add_images(
        ws,
        project.id,
        [
            NewImage(good, name="a.jpg", tags=["circle"]),
            NewImage(good, name="same.jpg", tags=["circle"]),
            NewImage(b"not an image", name="b.txt", tags=["circle"]),
            NewImage(b"", name="empty.jpg"),
            NewImage(to_jpeg(make_image(["square"], seed=2)), name="two.jpg", tags=["circle", "square"]),
        ],
    )
    assert [r.status for r in results] == [
        "OK",
        "OKDuplicate",
        "ErrorImageFormat",
        "ErrorImageFormat",
        "ErrorInvalidTag",
    ]
    assert "one tag per image" in results[4].message
    assert images.count_images(ws, project.id) == 1
    (stored,) = images.list_images(ws, project.id, tagged=True)
    assert [t.name for t in stored.tags] == ["circle"] and stored.width == 128
    assert images.image_bytes(ws, project.id, stored.id) == good
    assert images.image_bytes(ws, project.id, stored.id, thumbnail=True)[:2] == b"\xff\xd8"


def test_negative_tag_cannot_join_a_regular_one(ws):
    project = _project_with_tags(ws, "Multilabel")
    tags.create_tag(ws, project.id, "nothing", type="Negative")
    (result,) = images.add_images(
        ws, project.id, [NewImage(to_jpeg(make_image([], seed=3)), tags=["nothing", "circle"])]
    )
    assert result.status == "ErrorNegativeAndRegularTagOnSameImage"


def test_tag_untag_filter_and_delete(ws):
    project = _project_with_tags(ws, "Multilabel")
    _upload(ws, project.id, 2, kinds=["circle"])
    first, second = images.list_images(ws, project.id, newest_first=False)
    assert images.tag_images(ws, project.id, [(first.id, "square")]) == 1
    assert images.count_images(ws, project.id, tag_ids=["square"]) == 1
    assert images.untag_images(ws, project.id, [(first.id, "circle"), (second.id, "circle")]) == 2
    assert images.count_images(ws, project.id, tagged=False) == 1
    updated = images.set_metadata(ws, project.id, first.id, {"camera": "line-3"})
    assert updated.metadata == {"camera": "line-3"}
    assert images.delete_images(ws, project.id, [second.id]) == 1
    assert images.count_images(ws, project.id) == 1


def test_training_is_validated_before_it_is_queued(ws):
    project = _project_with_tags(ws)
    _upload(ws, project.id, 5, kinds=["circle", "square"])
    _upload(ws, project.id, 2, kinds=["triangle"], seed=9)
    with pytest.raises(NotEnoughImagesError) as info:
        training.start_training(ws, project.id)
    assert info.value.short_tags == {"triangle": 2}
    assert "triangle (2)" in str(info.value)


def test_train_publish_predict_review(ws):
    project = _project_with_tags(ws)
    _upload(ws, project.id, 6)
    queued = training.start_training(ws, project.id)
    assert queued.status == "Queued"
    with pytest.raises(ConflictError):
        training.start_training(ws, project.id)
    assert Worker(ws).run_once() is True
    done = iterations.get_iteration(ws, project.id, queued.id)
    assert done.status == "Completed", done.error
    assert done.training_seconds > 0 and done.progress_total > 0
    with pytest.raises(InvalidRequestError) as info:
        training.start_training(ws, project.id)
    assert info.value.code == "BadRequestTrainingNotNeeded"
    assert training.start_training(ws, project.id, force=True).status == "Queued"
    iterations.cancel_training(ws, project.id)
    assert iterations.list_iterations(ws, project.id)[-1].status == "Cancelled"

    iterations.publish_iteration(ws, project.id, done.id, "production")
    with pytest.raises(ConflictError):
        iterations.delete_iteration(ws, project.id, done.id)
    circle, unrelated, broken = predictions.predict(
        ws,
        project.id,
        [to_jpeg(make_image(["circle"], seed=4242)), to_jpeg(make_unrelated_image(7)), b"junk"],
        publish_name="production",
    )
    assert circle.predictions[0].tag_name == "circle"
    assert [p.probability for p in circle.predictions] == sorted(
        (p.probability for p in circle.predictions), reverse=True
    )
    assert sum(p.probability for p in circle.predictions) == pytest.approx(1.0, abs=1e-6)
    assert unrelated.unknown_score > circle.unknown_score
    assert broken.reason == "not_an_image"
    stored = predictions.list_predictions(ws, project.id)
    assert {p.id for p in stored} == {circle.id, unrelated.id}
    image_id = predictions.review_prediction(ws, project.id, circle.id, ["circle"])
    assert images.get_images(ws, project.id, [image_id])[0].tags[0].name == "circle"
    assert predictions.list_predictions(ws, project.id, reviewed=False)[0].id == unrelated.id
    with pytest.raises(NotFoundError):
        predictions.predict(ws, project.id, [b"x"], publish_name="staging")
    iterations.unpublish_iteration(ws, project.id, done.id)
    iterations.delete_iteration(ws, project.id, done.id)


def test_multilabel_training_with_negative_images(ws):
    project = _project_with_tags(ws, "Multilabel")
    tags.create_tag(ws, project.id, "nothing", type="Negative")
    _upload(ws, project.id, 6)
    empty = [NewImage(to_jpeg(make_image([], seed=500 + i)), tags=["nothing"]) for i in range(6)]
    assert all(r.ok for r in images.add_images(ws, project.id, empty))
    queued = training.start_training(ws, project.id)
    Worker(ws).run_once()
    done = iterations.get_iteration(ws, project.id, queued.id)
    assert done.status == "Completed", done.error
    (view,) = predictions.predict(ws, project.id, [to_jpeg(make_image(["square"], seed=777))], store=False)
    names = [p.tag_name for p in view.predictions]
    assert set(names) >= {"circle", "square", "triangle"}
    assert view.stored is False and predictions.list_predictions(ws, project.id) == []


def test_an_onnx_export_is_built_once_and_kept_beside_the_model(ws, monkeypatch):
    project = _project_with_tags(ws)
    _upload(ws, project.id, 6)
    queued = training.start_training(ws, project.id)
    with pytest.raises(NotTrainedError):
        iterations.exported_model(ws, project.id, queued.id)
    Worker(ws).run_once()
    assert iterations.export_iteration(ws, project.id, queued.id, "ONNX", "ONNX10").status == "Completed"

    def rebuilt(*args, **kwargs):
        raise AssertionError("the export was built again")

    monkeypatch.setattr("sightline.export.export_onnx", rebuilt)
    data = iterations.exported_model(ws, project.id, queued.id)
    assert zipfile.ZipFile(io.BytesIO(data)).read("labels.txt").decode().splitlines() == KINDS
    with pytest.raises(InvalidRequestError) as info:
        iterations.exported_model(ws, project.id, queued.id, "CoreML")
    assert info.value.code == "BadRequestProjectUnsupportedExportPlatform"


def test_purge_deletes_predictions_older_than_the_retention(ws, monkeypatch):
    from datetime import timedelta

    from sightline.store import Prediction

    project = _project_with_tags(ws)
    _upload(ws, project.id, 6)
    queued = training.start_training(ws, project.id)
    Worker(ws).run_once()
    iterations.publish_iteration(ws, project.id, queued.id, "production")
    old, new = predictions.predict(
        ws,
        project.id,
        [to_jpeg(make_image(["circle"], seed=9001)), to_jpeg(make_image(["square"], seed=9002))],
        publish_name="production",
    )
    with ws.session() as session:
        row = session.get(Prediction, old.id)
        row.created = row.created - timedelta(days=31)
        old_key = row.image_key
    assert ws.blobs.exists(old_key)
    assert predictions.purge_predictions(ws) == 1  # default retention: 30 days
    assert [p.id for p in predictions.list_predictions(ws, project.id)] == [new.id]
    assert not ws.blobs.exists(old_key)
    monkeypatch.setenv("SIGHTLINE_PREDICTION_RETENTION_DAYS", "0")
    assert predictions.purge_predictions(ws) == 1
    with pytest.raises(InvalidRequestError):
        predictions.purge_predictions(ws, -1)
