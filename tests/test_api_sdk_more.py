"""The rest of the Training API with Azure's own SDK against `sightline serve`: image URIs, metadata,
listings as of an iteration and metadata filters, image performances, stored-prediction queries and
export; and the signed URLs those answers carry.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator

import httpx
import numpy as np
import onnxruntime
import pytest
from api_server import RunningServer, sightline_server
from PIL import Image as PILImage

from sightline.api.keys import KeyRing, rotate_keys
from sightline.api.links import image_resource, sign
from sightline.http.domains import domain_id
from sightline.imaging import PreprocessSpec, decode_for_model
from sightline.synthetic import make_image, single_label_dataset, to_jpeg

customvision = pytest.importorskip("azure.cognitiveservices.vision.customvision")

from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient  # noqa: E402
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient  # noqa: E402
from azure.cognitiveservices.vision.customvision.training.models import (  # noqa: E402
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
    ImageTagCreateEntry,
    PredictionQueryTag,
    PredictionQueryToken,
)
from azure.cognitiveservices.vision.customvision.training.models import Tag as TagModel  # noqa: E402
from msrest.authentication import ApiKeyCredentials  # noqa: E402

KINDS = ["circle", "square"]
PER_KIND = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("api-sdk-more")) as running:
        yield running


@pytest.fixture(scope="module")
def trainer(server: RunningServer) -> CustomVisionTrainingClient:
    return CustomVisionTrainingClient(server.url, ApiKeyCredentials(in_headers={"Training-key": server.training_key}))


@pytest.fixture(scope="module")
def trained(trainer: CustomVisionTrainingClient, server: RunningServer) -> dict:
    """A trained, published Multiclass project with three stored predictions (two squares, one circle)."""
    project = trainer.create_project("More", domain_id=domain_id("tiny"))
    tags = {kind: trainer.create_tag(project.id, kind) for kind in KINDS}
    data, labels = single_label_dataset(PER_KIND, KINDS, seed=21)
    entries = [
        ImageFileCreateEntry(name=f"{label}-{i}.jpg", contents=image, tag_ids=[tags[label].id])
        for i, (image, label) in enumerate(zip(data, labels, strict=True))
    ]
    summary = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
    assert summary.is_batch_successful
    iteration = _train(trainer, project.id)
    trainer.publish_iteration(project.id, iteration.id, "live", "/subscriptions/any/prediction")
    predictor = CustomVisionPredictionClient(
        server.url, ApiKeyCredentials(in_headers={"Prediction-key": server.prediction_key})
    )
    stored = [
        predictor.classify_image(project.id, "live", to_jpeg(make_image([kind], seed=31_000 + i)))
        for i, kind in enumerate(["square", "circle", "square"])
    ]
    return {"project": project, "tags": tags, "iteration": iteration, "stored": stored}


def _train(trainer: CustomVisionTrainingClient, project_id: str):
    """Train the project and wait until the iteration is Completed."""
    iteration = trainer.train_project(project_id)
    deadline = time.monotonic() + 600  # a safety net: the shared test machines can be very slow
    while iteration.status != "Completed":
        assert iteration.status in ("Queued", "Training") and time.monotonic() < deadline, iteration.status
        time.sleep(0.2)
        iteration = trainer.get_iteration(project_id, iteration.id)
    return iteration


def _fetch_image(url: str) -> PILImage.Image:
    """A signed URL, fetched as a browser would: no key header."""
    response = httpx.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    assert "max-age=" in response.headers["cache-control"]
    return PILImage.open(io.BytesIO(response.content))


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == code, body
    return body["message"]


def test_images_carry_signed_uris_of_their_bytes(trainer, trained):
    project = trained["project"]
    (image,) = trainer.get_tagged_images(project.id, take=1)
    assert image.original_image_uri.startswith("http://127.0.0.1:")
    assert _fetch_image(image.original_image_uri).size == (image.width, image.height)
    assert max(_fetch_image(image.thumbnail_uri).size) <= 256
    assert max(_fetch_image(image.resized_image_uri).size) <= 1024
    again = trainer.get_images_by_ids(project.id, image_ids=[image.id])[0]
    assert again.thumbnail_uri == image.thumbnail_uri  # stable within the hour, so browsers can cache


def test_metadata_can_be_updated_per_image(trainer, trained, server: RunningServer):
    project = trained["project"]
    first, second = trainer.get_tagged_images(project.id, take=2)
    summary = trainer.update_image_metadata(project.id, [first.id, second.id], {"camera": "line-3", "shift": "night"})
    assert summary.is_batch_successful and {i.status for i in summary.images} == {"OK"}
    assert summary.images[0].metadata == {"camera": "line-3", "shift": "night"}
    assert trainer.get_images_by_ids(project.id, image_ids=[first.id])[0].metadata["shift"] == "night"

    partial = trainer.update_image_metadata(project.id, [first.id, "0" * 36], {"shift": "day"})
    assert not partial.is_batch_successful
    assert [(i.image_id, i.status) for i in partial.images] == [(first.id, "OK"), ("0" * 36, "ErrorImageNotFound")]

    url = f"{server.training_url()}/projects/{project.id}/images/metadata"
    headers = {"Training-Key": server.training_key}
    long_key = httpx.post(url, params={"imageIds": first.id}, json={"k" * 129: "v"}, headers=headers)
    assert "128" in _error(long_key, 400, "BadRequestImageMetadataKey")
    long_value = httpx.post(url, params={"imageIds": first.id}, json={"k": "v" * 257}, headers=headers)
    _error(long_value, 400, "BadRequestImageMetadataValue")
    too_many = httpx.post(
        url, params={"imageIds": ",".join(f"id{i}" for i in range(65))}, json={"k": "v"}, headers=headers
    )
    _error(too_many, 400, "BadRequestImageBatch")
    _error(httpx.post(url, params={"imageIds": first.id}, json=["k"], headers=headers), 400, "BadRequest")


def test_listings_as_of_an_iteration_and_metadata_filters(trainer):
    """After training, a tag is renamed, an image re-tagged and another deleted: `iteration_id` still shows
    what the iteration trained on. `filter` selects images by metadata, with or without an iteration."""
    project = trainer.create_project("As of", domain_id=domain_id("tiny"))
    tags = {kind: trainer.create_tag(project.id, kind) for kind in KINDS}
    circle, square = tags["circle"].id, tags["square"].id
    data, labels = single_label_dataset(5, KINDS, seed=41)
    entries = [
        ImageFileCreateEntry(name=f"{label}-{i}.jpg", contents=image, tag_ids=[tags[label].id])
        for i, (image, label) in enumerate(zip(data, labels, strict=True))
    ]
    assert trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries)).is_batch_successful
    iteration = _train(trainer, project.id)
    before = trainer.get_tagged_images(project.id, take=256)
    squares = [i.id for i in before if i.tags[0].tag_id == square]
    circles = [i.id for i in before if i.tags[0].tag_id == circle]
    retagged, deleted = squares[0], circles[0]

    trainer.update_tag(project.id, circle, TagModel(name="round", description="", type="Regular"))
    trainer.delete_image_tags(project.id, [retagged], [square])
    trainer.create_image_tags(project.id, [ImageTagCreateEntry(image_id=retagged, tag_id=circle)])
    trainer.delete_images(project.id, image_ids=[deleted])

    as_of = trainer.get_tags(project.id, iteration_id=iteration.id)
    assert [(t.id, t.name, t.image_count) for t in as_of] == [(circle, "circle", 5), (square, "square", 5)]
    assert [(t.name, t.image_count) for t in trainer.get_tags(project.id)] == [("round", 5), ("square", 4)]
    assert trainer.get_tag(project.id, circle, iteration_id=iteration.id).name == "circle"
    trained = trainer.get_tagged_images(project.id, iteration_id=iteration.id, take=256)
    assert {i.id for i in trained} == {i.id for i in before} - {deleted}
    assert {i.id: i.tags[0].tag_id for i in trained} == {i: square for i in squares} | {i: circle for i in circles[1:]}
    assert {i.id: i.tags[0].tag_name for i in trained}[retagged] == "square"
    assert trainer.get_tagged_image_count(project.id, iteration_id=iteration.id) == 9
    assert trainer.get_tagged_image_count(project.id, iteration_id=iteration.id, tag_ids=[circle]) == 4
    assert trainer.get_untagged_images(project.id, iteration_id=iteration.id) == []
    assert trainer.get_untagged_image_count(project.id, iteration_id=iteration.id) == 0
    (by_id,) = trainer.get_images_by_ids(project.id, image_ids=[retagged, deleted], iteration_id=iteration.id)
    assert (by_id.id, by_id.tags[0].tag_name) == (retagged, "square")
    assert trainer.get_images_by_ids(project.id, image_ids=[retagged])[0].tags[0].tag_name == "round"

    trainer.update_image_metadata(project.id, [retagged, squares[1]], {"camera": "line-3", "shift": "night"})
    trainer.update_image_metadata(project.id, [circles[1]], {"camera": "line-3", "shift": "day"})
    night = "camera eq 'line-3' and shift ne 'day'"
    assert {i.id for i in trainer.get_images(project.id, filter=night)} == {retagged, squares[1]}
    assert trainer.get_image_count(project.id, filter=night) == 2
    assert trainer.get_image_count(project.id, filter="shift eq 'day' or camera ne 'line-3'") == 7
    assert trainer.get_image_count(project.id, filter=night, tag_ids=[circle]) == 1  # today's tags: retagged
    as_trained = trainer.get_images(project.id, iteration_id=iteration.id, filter=night, tag_ids=[square])
    assert {(i.id, i.tags[0].tag_name) for i in as_trained} == {(retagged, "square"), (squares[1], "square")}
    assert trainer.get_image_count(project.id, iteration_id=iteration.id, filter=night, tag_ids=[circle]) == 0
    with pytest.raises(CustomVisionErrorException) as info:
        trainer.get_images(project.id, filter="camera eq line-3")
    assert info.value.response.status_code == 400 and info.value.error.code == "BadRequest"
    assert info.value.error.message == (
        "$filter: expected a value in single quotes after 'eq', such as 'value1', found 'line-3' at character 11"
    )


def test_image_performances_show_out_of_fold_probabilities(trainer, trained):
    project, iteration, tags = trained["project"], trained["iteration"], trained["tags"]
    assert trainer.get_image_performance_count(project.id, iteration.id) == PER_KIND * len(KINDS)
    assert trainer.get_image_performance_count(project.id, iteration.id, tag_ids=[tags["circle"].id]) == PER_KIND
    circles = trainer.get_image_performances(project.id, iteration.id, tag_ids=[tags["circle"].id], take=100)
    assert len(circles) == PER_KIND
    for performance in circles:
        assert [t.tag_name for t in performance.tags] == ["circle"] and performance.tags[0].tag_id == tags["circle"].id
        probabilities = [p.probability for p in performance.predictions]
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-3)
        assert {p.tag_id for p in performance.predictions} == {t.id for t in tags.values()}
    assert sum(p.predictions[0].tag_name == "circle" for p in circles) >= PER_KIND - 2
    newest = trainer.get_image_performances(project.id, iteration.id, take=3)
    oldest = trainer.get_image_performances(project.id, iteration.id, order_by="Oldest", take=100)
    assert [p.id for p in newest] == [p.id for p in reversed(oldest)][:3]
    assert max(_fetch_image(newest[0].thumbnail_uri).size) <= 256
    with pytest.raises(CustomVisionErrorException) as info:
        trainer.get_image_performances(project.id, iteration.id, tag_ids=["0" * 36])
    assert info.value.error.code == "NotFoundTag"


def test_stored_predictions_can_be_queried_page_by_page(trainer, trained):
    project, tags, stored = trained["project"], trained["tags"], trained["stored"]
    first = trainer.query_predictions(project.id, PredictionQueryToken(order_by="Newest", max_count=2))
    assert [r.id for r in first.results] == [stored[2].id, stored[1].id]
    assert first.token.continuation and first.token.max_count == 2
    rest = trainer.query_predictions(project.id, first.token)
    assert [r.id for r in rest.results] == [stored[0].id] and rest.token.continuation is None
    result = first.results[0]
    assert (result.project, result.iteration, result.domain) == (project.id, trained["iteration"].id, domain_id("tiny"))
    assert result.predictions[0].tag_name == "square" and result.predictions[0].tag_id == tags["square"].id
    assert max(_fetch_image(result.thumbnail_uri).size) <= 256
    assert _fetch_image(result.original_image_uri).size == (128, 128)

    oldest = trainer.query_predictions(project.id, PredictionQueryToken(order_by="Oldest"))
    assert [r.id for r in oldest.results] == [p.id for p in stored]
    squares = trainer.query_predictions(
        project.id, PredictionQueryToken(tags=[PredictionQueryTag(id=tags["square"].id, min_threshold=0.5)])
    )
    assert {r.id for r in squares.results} == {stored[0].id, stored[2].id}
    suspected = trainer.query_predictions(project.id, PredictionQueryToken(order_by="Suspected"))
    assert {r.id for r in suspected.results} == {p.id for p in stored}
    later = trainer.query_predictions(project.id, PredictionQueryToken(start_time=stored[1].created))
    assert {r.id for r in later.results} == {stored[1].id, stored[2].id}

    with pytest.raises(CustomVisionErrorException) as info:
        trainer.query_predictions(project.id, PredictionQueryToken(continuation="not-mine"))
    assert info.value.error.code == "BadRequestPredictionInvalidQueryParameters"
    with pytest.raises(CustomVisionErrorException) as info:
        trainer.query_predictions(
            project.id, PredictionQueryToken(tags=[PredictionQueryTag(id=t.id) for t in tags.values()] * 2)
        )
    assert info.value.error.code == "BadRequestPredictionTagsExceededCount"


def test_an_iteration_exports_a_runnable_onnx_model(trainer, trained, server: RunningServer):
    project, iteration = trained["project"], trained["iteration"]
    assert (iteration.exportable, iteration.exportable_to) == (True, ["ONNX"])
    assert trainer.get_exports(project.id, iteration.id) == []  # nothing exported until asked, as on Azure
    export = trainer.export_iteration(project.id, iteration.id, "ONNX", flavor="ONNX12")
    assert (export.platform, export.status, export.flavor) == ("ONNX", "Done", "ONNX12")
    (listed,) = trainer.get_exports(project.id, iteration.id)
    assert (listed.platform, listed.status, listed.newer_version_available) == ("ONNX", "Done", False)
    download = httpx.get(export.download_uri)
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    assert "attachment" in download.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert set(archive.namelist()) == {"model.onnx", "labels.txt", "sightline.json", "README.md"}
    assert archive.read("labels.txt").decode().splitlines() == sorted(KINDS)
    description = json.loads(archive.read("sightline.json"))
    assert description["classification_type"] == "Multiclass" and description["backbone"] == "tiny"

    image = to_jpeg(make_image(["square"], seed=32_000))
    spec = description["input"]
    preprocess = PreprocessSpec(
        height=spec["height"], width=spec["width"], resize=spec["resize"], resample=spec["resample"],
        layout=spec["layout"], color=spec["channel_order"], mean=tuple(spec["mean"]), std=tuple(spec["std"]),
        crop_fraction=spec["crop_fraction"],
    )  # fmt: skip
    session = onnxruntime.InferenceSession(archive.read("model.onnx"), providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(["probabilities"], {spec["name"]: decode_for_model(image, preprocess)[None]})
    predictor = CustomVisionPredictionClient(
        server.url, ApiKeyCredentials(in_headers={"Prediction-key": server.prediction_key})
    )
    served = predictor.classify_image_with_no_store(project.id, "live", image).predictions
    served_by_tag = {p.tag_name: p.probability for p in served}
    np.testing.assert_allclose(probabilities[0], [served_by_tag[tag] for tag in sorted(KINDS)], atol=1e-4)
    assert sorted(KINDS)[int(probabilities[0].argmax())] == "square"

    for platform in ("CoreML", "TensorFlow", "DockerFile"):
        with pytest.raises(CustomVisionErrorException) as info:
            trainer.export_iteration(project.id, iteration.id, platform)
        assert info.value.response.status_code == 400
        assert info.value.error.code == "BadRequestProjectUnsupportedExportPlatform"
        assert "ONNX" in info.value.error.message
    with pytest.raises(CustomVisionErrorException) as info:
        trainer.export_iteration(project.id, iteration.id, "ONNX", flavor="TensorFlowLite")
    assert info.value.response.status_code == 400

    onnx_project = trainer.create_project("Exportable", domain_id=domain_id("tiny"), target_export_platforms=["ONNX"])
    trainer.delete_project(onnx_project.id)
    with pytest.raises(CustomVisionErrorException) as info:
        trainer.create_project("CoreML", domain_id=domain_id("tiny"), target_export_platforms=["CoreML"])
    assert info.value.error.code == "BadRequestProjectUnsupportedExportPlatform"


def test_signed_urls_refuse_tampering_expiry_and_missing_signatures(trainer, trained, server: RunningServer):
    project = trained["project"]
    (image,) = trainer.get_tagged_images(project.id, take=1)
    url = httpx.URL(image.thumbnail_uri)
    sig = url.params["sig"]
    tampered = url.copy_set_param("sig", ("B" if sig[0] == "A" else "A") + sig[1:])  # never the same signature
    _error(httpx.get(tampered), 403, "Forbidden")
    other_image = url.copy_with(
        path=url.path.replace(image.id, trainer.get_tagged_images(project.id, skip=1, take=1)[0].id)
    )
    _error(httpx.get(other_image), 403, "Forbidden")
    later = url.copy_set_param("se", int(url.params["se"]) + 3600)
    _error(httpx.get(later), 403, "Forbidden")
    _error(httpx.get(url.copy_with(query=None)), 403, "Forbidden")
    past = int(time.time()) - 10
    expired = url.copy_with(
        params={"se": past, "sig": sign(server.training_key, image_resource(project.id, image.id, "thumbnail"), past)}
    )
    assert "expired" in _error(httpx.get(expired), 403, "Forbidden")
    _error(httpx.get(url.copy_with(path=url.path.replace("thumbnail", "huge"))), 400, "BadRequest")


def test_rotating_the_keys_invalidates_signed_urls(tmp_path):
    with sightline_server(tmp_path, start_worker=False) as running:
        running.app.state.key_ring = KeyRing(running.ws, refresh_seconds=0)
        headers = {"Training-Key": running.training_key}
        api = f"{running.training_url()}/projects"
        project = httpx.post(api, params={"name": "Keys", "domainId": domain_id("tiny")}, headers=headers).json()
        upload = httpx.post(
            f"{api}/{project['id']}/images", content=to_jpeg(make_image(["circle"], seed=1)), headers=headers
        )
        uri = upload.json()["images"][0]["image"]["originalImageUri"]
        assert httpx.get(uri).status_code == 200
        rotate_keys(running.ws)
        _error(httpx.get(uri), 403, "Forbidden")
