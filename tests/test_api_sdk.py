"""Azure's own Python SDK (azure-cognitiveservices-vision-customvision 3.1.1), unchanged, against `sightline serve`.

The Custom Vision quickstart, for a Multiclass and a Multilabel project: create, tag, upload in
batches, train, poll, performance, publish, classify (bytes and URL), quick test, unpublish, delete.
The SDK's msrest deserialisation checks that every body has Custom Vision's shape.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from api_server import RunningServer, sightline_server, static_http_server

from sightline.http.domains import domain_id
from sightline.http.fetch import FetchPolicy
from sightline.synthetic import make_image, multi_label_dataset, single_label_dataset, to_jpeg

customvision = pytest.importorskip("azure.cognitiveservices.vision.customvision")

from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient  # noqa: E402
from azure.cognitiveservices.vision.customvision.prediction.models import (  # noqa: E402
    CustomVisionErrorException as PredictionError,
)
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient  # noqa: E402
from azure.cognitiveservices.vision.customvision.training.models import (  # noqa: E402
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from msrest.authentication import ApiKeyCredentials  # noqa: E402

KINDS = ["circle", "square", "triangle"]
BATCH = 64  # Custom Vision's largest upload batch


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("api-sdk"), fetch_policy=FetchPolicy(allow_private=True)) as running:
        yield running


@pytest.fixture(scope="module")
def trainer(server: RunningServer) -> CustomVisionTrainingClient:
    return CustomVisionTrainingClient(server.url, ApiKeyCredentials(in_headers={"Training-key": server.training_key}))


@pytest.fixture(scope="module")
def predictor(server: RunningServer) -> CustomVisionPredictionClient:
    credentials = ApiKeyCredentials(in_headers={"Prediction-key": server.prediction_key})
    return CustomVisionPredictionClient(server.url, credentials)


@pytest.fixture(scope="module")
def image_host() -> Iterator[str]:
    """A web server holding one square and one circle, for the URL routes."""
    files = {
        f"/{kind}.jpg": (200, {"Content-Type": "image/jpeg"}, to_jpeg(make_image([kind], seed=90_000 + i)))
        for i, kind in enumerate(KINDS)
    }
    with static_http_server(files) as url:
        yield url


def _upload(trainer, project_id: str, entries: list[ImageFileCreateEntry]) -> None:
    """In batches of at most 64, as the quickstart does; every image must be accepted."""
    for start in range(0, len(entries), BATCH):
        result = trainer.create_images_from_files(
            project_id, ImageFileCreateBatch(images=entries[start : start + BATCH])
        )
        assert result.is_batch_successful, [(i.source_url, i.status) for i in result.images if i.status != "OK"]
        assert all(i.image.id and i.image.width == 128 for i in result.images)


def _train(trainer, project_id: str):
    iteration = trainer.train_project(project_id)
    assert iteration.status in ("Queued", "Training", "Completed")
    deadline = time.monotonic() + 600  # a safety net: the shared test machines can be very slow
    while iteration.status not in ("Completed", "Failed"):
        assert time.monotonic() < deadline, f"training still {iteration.status}"
        time.sleep(0.2)
        iteration = trainer.get_iteration(project_id, iteration.id)
    assert iteration.status == "Completed", iteration.training_error_details
    return iteration


def test_multiclass_quickstart(trainer, predictor, server: RunningServer, image_host: str):
    tiny = next(d for d in trainer.get_domains() if d.name == "tiny")
    assert (tiny.id, tiny.type, tiny.exportable, tiny.enabled) == (domain_id("tiny"), "Classification", True, True)
    assert tiny.exportable_platforms == ["ONNX"]
    project = trainer.create_project("Shapes", description="quickstart", domain_id=tiny.id)
    assert project.settings.domain_id == tiny.id
    assert project.settings.classification_type == "Multiclass"
    assert project.created.tzinfo is not None

    tags = {kind: trainer.create_tag(project.id, kind) for kind in KINDS}
    data, labels = single_label_dataset(15, KINDS, seed=3)
    entries = [
        ImageFileCreateEntry(name=f"{label}-{i}.jpg", contents=image, tag_ids=[tags[label].id])
        for i, (image, label) in enumerate(zip(data, labels, strict=True))
    ]
    _upload(trainer, project.id, entries)
    assert trainer.get_tagged_image_count(project.id) == 45
    assert trainer.get_untagged_image_count(project.id) == 0
    assert {t.name: t.image_count for t in trainer.get_tags(project.id)} == dict.fromkeys(KINDS, 15)
    circles = trainer.get_tagged_images(project.id, tag_ids=[tags["circle"].id], take=100)
    assert len(circles) == 15 and all(i.tags[0].tag_name == "circle" for i in circles)

    iteration = _train(trainer, project.id)
    assert iteration.domain_id == tiny.id and iteration.classification_type == "Multiclass"
    assert iteration.trained_at is not None

    performance = trainer.get_iteration_performance(project.id, iteration.id, threshold=0.5)
    assert {p.name: p.id for p in performance.per_tag_performance} == {k: t.id for k, t in tags.items()}
    assert 0.8 <= performance.precision <= 1.0 and 0.8 <= performance.recall <= 1.0
    assert all(0.0 <= p.average_precision <= 1.0 for p in performance.per_tag_performance)

    assert trainer.publish_iteration(project.id, iteration.id, "shapes", "/subscriptions/any/prediction") is True
    assert trainer.get_iteration(project.id, iteration.id).publish_name == "shapes"

    result = predictor.classify_image(project.id, "shapes", to_jpeg(make_image(["square"], seed=77_001)))
    assert result.project == project.id and result.iteration == iteration.id
    probabilities = [p.probability for p in result.predictions]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) == pytest.approx(1.0, abs=1e-3)
    assert result.predictions[0].tag_name == "square" and result.predictions[0].tag_id == tags["square"].id

    by_url = predictor.classify_image_url(project.id, "shapes", url=f"{image_host}/triangle.jpg")
    assert by_url.predictions[0].tag_name == "triangle"
    unstored = predictor.classify_image_with_no_store(project.id, "shapes", to_jpeg(make_image(["circle"], seed=5)))
    assert unstored.predictions[0].tag_name == "circle"

    quick = trainer.quick_test_image(
        project.id, to_jpeg(make_image(["circle"], seed=77_002)), iteration_id=iteration.id
    )
    assert quick.iteration == iteration.id and quick.predictions[0].tag_name == "circle"
    quick_url = trainer.quick_test_image_url(project.id, url=f"{image_host}/square.jpg", store=False)
    assert quick_url.predictions[0].tag_name == "square"

    trainer.unpublish_iteration(project.id, iteration.id)
    with pytest.raises(PredictionError) as info:
        predictor.classify_image(project.id, "shapes", to_jpeg(make_image(["circle"], seed=6)))
    assert info.value.error.code == "NotFoundIteration"

    trainer.delete_project(project.id)
    assert project.id not in {p.id for p in trainer.get_projects()}
    with pytest.raises(CustomVisionErrorException) as info:
        trainer.get_project(project.id)
    assert info.value.response.status_code == 404 and info.value.error.code == "NotFoundProject"


def test_multilabel_quickstart(trainer, predictor):
    project = trainer.create_project("Scenes", domain_id=domain_id("tiny"), classification_type="Multilabel")
    assert project.settings.classification_type == "Multilabel"
    tags = {kind: trainer.create_tag(project.id, kind) for kind in KINDS}
    data, labels = multi_label_dataset(80, KINDS, seed=4)  # two upload batches
    assert all(sum(kind in present for present in labels) >= 15 for kind in KINDS)
    entries = [
        ImageFileCreateEntry(name=f"scene-{i}.jpg", contents=image, tag_ids=[tags[k].id for k in present])
        for i, (image, present) in enumerate(zip(data, labels, strict=True))
    ]
    _upload(trainer, project.id, entries)
    assert trainer.get_tagged_image_count(project.id) == 80
    newest = trainer.get_tagged_images(project.id, take=2)
    again = trainer.get_images_by_ids(project.id, image_ids=[i.id for i in newest])
    assert {i.id for i in again} == {i.id for i in newest} and all(len(i.tags) >= 1 for i in again)

    iteration = _train(trainer, project.id)
    assert iteration.classification_type == "Multilabel"
    performance = trainer.get_iteration_performance(project.id, iteration.id)
    assert sorted(p.name for p in performance.per_tag_performance) == KINDS
    strict = trainer.get_iteration_performance(project.id, iteration.id, threshold=0.9)
    assert strict.recall <= performance.recall

    trainer.publish_iteration(project.id, iteration.id, "scenes", "/subscriptions/any/prediction")
    both = to_jpeg(make_image(["circle", "triangle"], seed=55_000))
    result = predictor.classify_image(project.id, "scenes", both)
    assert {p.tag_name for p in result.predictions} == set(KINDS)
    assert all(0.0 <= p.probability <= 1.0 for p in result.predictions)
    trainer.unpublish_iteration(project.id, iteration.id)
    trainer.delete_iteration(project.id, iteration.id)
    assert trainer.get_iterations(project.id) == []
    trainer.delete_project(project.id)
