"""Real Azure client code as a migrating user runs it: the URLs, statuses, domains and browser calls it relies on.

The Python SDK quickstart's loop (`while iteration.status == "Training"`) on a project made with the
spec's General domain id; the portal's capitalised prediction URL and an endpoint with a trailing slash
over raw HTTP; CORS preflight and a cross-origin `fetch` from Chromium; GET /domains' names and ids.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import time
import uuid
import zipfile
from collections.abc import Iterator

import httpx
import pytest
from api_server import RunningServer, sightline_server, static_http_server
from conftest import SHARED_MODELS, needs_shared_models
from web_fixtures import open_page

from sightline.http.domains import domain_id
from sightline.synthetic import make_image, single_label_dataset, to_jpeg

customvision = pytest.importorskip("azure.cognitiveservices.vision.customvision")

from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient  # noqa: E402
from azure.cognitiveservices.vision.customvision.training.models import (  # noqa: E402
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from msrest.authentication import ApiKeyCredentials  # noqa: E402

GENERAL = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"  # Training v3.3's GetDomains example
GENERAL_A2 = "2e37d7fb-3a54-486a-b4d6-cfc369af0018"
OBJECT_DETECTION_GENERAL = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"
KINDS = ["circle", "square"]
SQUARE = to_jpeg(make_image(["square"], seed=77_001))


@pytest.fixture(scope="module")
def page_host() -> Iterator[str]:
    """Another origin: a web page and an image, as a browser app that calls Sightline would have."""
    page = b'<!doctype html><html><head><title>app</title><link rel="icon" href="data:,"></head><body>app</body></html>'
    files = {
        "/index.html": (200, {"Content-Type": "text/html"}, page),
        "/square.jpg": (200, {"Content-Type": "image/jpeg"}, SQUARE),
    }
    with static_http_server(files) as url:
        yield url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, page_host: str) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("api-compat"), cors_origins=[page_host]) as running:
        yield running


@pytest.fixture(scope="module")
def trainer(server: RunningServer) -> CustomVisionTrainingClient:
    return CustomVisionTrainingClient(server.url, ApiKeyCredentials(in_headers={"Training-key": server.training_key}))


@pytest.fixture(scope="module")
def published(trainer: CustomVisionTrainingClient) -> dict:
    """The quickstart, as Microsoft wrote it: General domain looked up by name, poll while "Training", publish."""
    general = next(d for d in trainer.get_domains() if d.type == "Classification" and d.name == "General")
    assert general.id == GENERAL
    project = trainer.create_project("Quickstart", domain_id=general.id)
    tags = {kind: trainer.create_tag(project.id, kind) for kind in KINDS}
    data, labels = single_label_dataset(8, KINDS, seed=5)
    entries = [
        ImageFileCreateEntry(name=f"{i}.jpg", contents=d, tag_ids=[tags[label].id])
        for i, (d, label) in enumerate(zip(data, labels, strict=True))
    ]
    assert trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries)).is_batch_successful
    iteration = trainer.train_project(project.id)
    first_status = iteration.status
    deadline = time.monotonic() + 600  # a safety net only: the shared test machines can be very slow
    while iteration.status == "Training":
        assert time.monotonic() < deadline, "training never finished"
        time.sleep(0.5)
        iteration = trainer.get_iteration(project.id, iteration.id)
    trainer.publish_iteration(project.id, iteration.id, "Iteration1", "resource-id")
    return {"project": project, "iteration": iteration, "first_status": first_status, "tags": tags}


def test_train_answers_training_at_once_and_the_quickstart_loop_ends_completed(published: dict):
    assert published["first_status"] == "Training"
    assert published["iteration"].status == "Completed"


def test_the_spec_domain_ids_map_to_the_served_backbone(trainer: CustomVisionTrainingClient, server: RunningServer):
    domains = {d.name: d for d in trainer.get_domains()}
    assert domains["General"].id == GENERAL and domains["General [A2]"].id == GENERAL_A2
    assert {"Food", "Retail", "Landmarks", "General (compact)", "tiny"} <= set(domains)
    assert all(d.type == "Classification" and d.enabled for d in domains.values())
    assert trainer.get_domain(GENERAL).name == "General"
    project = trainer.create_project("Scenes A2", domain_id=GENERAL_A2, classification_type="Multilabel")
    assert server.ws and project.settings.classification_type == "Multilabel"
    assert project.settings.domain_id == domain_id("tiny")  # General [A2] trains with the first backbone here


def test_object_detection_domains_are_refused_by_name(trainer: CustomVisionTrainingClient):
    with pytest.raises(CustomVisionErrorException) as info:
        trainer.create_project("Boxes", domain_id=OBJECT_DETECTION_GENERAL)
    assert info.value.response.status_code == 400
    assert info.value.error.code == "BadRequestUnsupportedDomain"
    assert "object detection" in info.value.error.message


def test_domain_names_never_show_server_paths(tmp_path):
    backbones = ["tiny", "onnx:/srv/private/models/mobilenet_v1_embedding.onnx"]
    with sightline_server(tmp_path, backbones=backbones, azure_domains={"Food": backbones[1]}) as running:
        listed = httpx.get(f"{running.training_url()}/domains", headers={"Training-Key": running.training_key}).json()
    names = {d["name"]: d["id"] for d in listed}
    assert "mobilenet_v1_embedding" in names and not any("/" in name for name in names)
    assert names["mobilenet_v1_embedding"] == domain_id(backbones[1])
    food = next(d for d in listed if d["name"] == "Food")
    assert food["id"] == "c151d5b5-dd07-472a-acc8-15d29dea8518"


def test_the_portals_capitalised_url_and_a_doubled_slash_reach_the_routes(server: RunningServer, published: dict):
    project_id = published["project"].id
    prediction = f"customvision/v3.0/Prediction/{project_id}/classify/iterations/Iteration1/image"
    headers = {"Prediction-Key": server.prediction_key, "Content-Type": "application/octet-stream"}
    for url in (f"{server.url}/{prediction}", f"{server.url}//{prediction}"):
        answer = httpx.post(url, content=SQUARE, headers=headers)
        assert answer.status_code == 200, answer.text
        assert {p["tagName"] for p in answer.json()["predictions"]} == set(KINDS)
    training = {"Training-Key": server.training_key}
    for path in ("/customvision/v3.3/Training/domains", "//customvision/v3.4-preview/TRAINING/domains"):
        assert httpx.get(server.url + path, headers=training).status_code == 200
    # only the service prefix is case-free: a publish name keeps its case, as on Azure
    wrong_name = httpx.post(f"{server.url}/{prediction.replace('Iteration1', 'iteration1')}", content=SQUARE,
                            headers=headers)  # fmt: skip
    assert wrong_name.status_code == 404 and wrong_name.json()["code"] != "NotFound"


def test_cors_preflight_answers_the_configured_origin_only(server: RunningServer, page_host: str):
    url = f"{server.prediction_url()}/00000000-0000-0000-0000-000000000000/classify/iterations/x/image"
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "prediction-key,content-type"}
    allowed = httpx.options(url, headers={"Origin": page_host, **asked})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == page_host
    assert "prediction-key" in allowed.headers["access-control-allow-headers"].lower()
    other = httpx.options(url, headers={"Origin": "https://elsewhere.example", **asked})
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    # errors carry the header too, so that a browser script can read them
    refused = httpx.post(url, content=SQUARE, headers={"Origin": page_host})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == page_host


def test_no_cors_unless_configured(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SIGHTLINE_CORS_ORIGINS", raising=False)
    with sightline_server(tmp_path) as running:
        url = f"{running.training_url()}/domains"
        preflight = httpx.options(
            url, headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
        )
        plain = httpx.get(url, headers={"Origin": "https://app.example", "Training-Key": running.training_key})
    assert preflight.status_code == 405 and "access-control-allow-origin" not in preflight.headers
    assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


FETCH_PREDICTION = """async ([url, key]) => {
    const image = await (await fetch('/square.jpg')).blob();
    try {
        const answer = await fetch(url, {method: 'POST', body: image,
            headers: {'Prediction-Key': key, 'Content-Type': 'application/octet-stream'}});
        return {status: answer.status, body: await answer.json()};
    } catch (error) {
        return {error: String(error)};
    }
}"""


def test_a_browser_app_on_another_origin_calls_prediction(browser, server: RunningServer, page_host: str,
                                                          published: dict):  # fmt: skip
    url = f"{server.prediction_url('v3.1')}/{published['project'].id}/classify/iterations/Iteration1/image"
    context, page, errors = open_page(browser, page_host)
    try:
        page.goto("/index.html")
        answer = page.evaluate(FETCH_PREDICTION, [url, server.prediction_key])
        assert answer.get("status") == 200, answer
        assert {p["tagName"] for p in answer["body"]["predictions"]} == set(KINDS)
        assert not errors
        # the same page from an origin that is not configured: the browser withholds the answer
        page.goto(page_host.replace("127.0.0.1", "localhost") + "/index.html")
        refused = page.evaluate(FETCH_PREDICTION, [url, server.prediction_key])
        assert "error" in refused and "Failed to fetch" in refused["error"]
    finally:
        context.close()


@needs_shared_models
def test_analyze_tags_when_the_first_domain_is_an_embedding_model(tmp_path):
    """The README's `serve` example: an embedding backbone first; tagging picks a backbone that can tag."""
    embedding = f"onnx:{SHARED_MODELS / 'mobilenet_v1_embedding.onnx'}"
    imagenet = f"onnx:{SHARED_MODELS / 'mobilenet_v2_imagenet.onnx'}"
    photo = next(p for p in sorted((SHARED_MODELS / "test_images").iterdir()) if p.suffix.lower() in (".jpg", ".png"))
    for options in ({"backbones": [embedding, imagenet]}, {"backbones": [embedding], "tagger_backbone": imagenet}):
        with sightline_server(tmp_path / str(len(options)), **options) as running:
            answer = httpx.post(
                f"{running.url}/computervision/imageanalysis:analyze",
                params={"api-version": "2023-10-01", "features": "tags"},
                content=photo.read_bytes(),
                headers={"Ocp-Apim-Subscription-Key": running.prediction_key, "Content-Type": "image/jpeg"},
                timeout=120,
            )
        assert answer.status_code == 200, answer.text
        assert answer.json()["modelVersion"] == "mobilenet-v2-imagenet" and answer.json()["tagsResult"]["values"]


def _api(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.training_url(), headers={"Training-Key": server.training_key}, timeout=60)


def test_selected_tags_and_training_options_are_honoured_and_recorded(server: RunningServer):
    api = _api(server)
    project = api.post("/projects", params={"name": "Selected", "domainId": GENERAL}).json()
    kinds = ["circle", "square", "triangle"]
    tags = {k: api.post(f"/projects/{project['id']}/tags", params={"name": k}).json()["id"] for k in kinds}
    data, labels = single_label_dataset(5, kinds, seed=21)
    batch = {
        "images": [
            {"name": f"{i}.jpg", "contents": base64.b64encode(d).decode(), "tagIds": [tags[label]]}
            for i, (d, label) in enumerate(zip(data, labels, strict=True))
        ]
    }
    assert api.post(f"/projects/{project['id']}/images/files", json=batch).status_code == 200
    train = f"/projects/{project['id']}/train"
    selected = {"selectedTags": [tags["circle"], tags["square"]]}
    refusals = [
        ({"trainingType": "Advanced"}, selected, 400, "BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining"),
        # Advanced fine-tunes EfficientNet-Lite backbones; this project's `tiny` CLIP is used as it is
        ({"trainingType": "Advanced", "reservedBudgetInHours": 2}, selected, 400, "BadRequestTrainingValidationFailed"),
        ({"notificationEmailAddress": "not-an-address"}, selected, 400, "BadRequestInvalidEmailAddress"),
        ({}, {"selectedTags": [str(uuid.uuid4())]}, 404, "NotFoundTag"),
        ({}, {"customBaseModelInfo": {"projectId": project["id"], "iterationId": project["id"]}}, 400,
         "BadRequestNotSupported"),
    ]  # fmt: skip
    for params, body, status, code in refusals:
        answer = api.post(train, params=params, json=body)
        assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
    assert api.get(f"/projects/{project['id']}/iterations").json() == []  # nothing half-made
    params = {"trainingType": "Regular", "notificationEmailAddress": "me@example.com"}
    iteration = api.post(train, params=params, json=selected).json()
    assert (iteration["status"], iteration["trainingType"], iteration["reservedBudgetInHours"]) == (
        "Training",
        "Regular",
        0,
    )
    again = api.post(train, json=selected)  # a conflict, answered 400 as Custom Vision does
    codes = ("BadRequestTrainingAlreadyInProgress", "BadRequestTrainingNotNeeded")  # the latter if already done
    assert again.status_code == 400 and again.json()["code"] in codes, again.text
    deadline = time.monotonic() + 600
    while iteration["status"] == "Training":
        assert time.monotonic() < deadline
        time.sleep(0.5)
        iteration = api.get(f"/projects/{project['id']}/iterations/{iteration['id']}").json()
    assert iteration["status"] == "Completed" and iteration["trainingType"] == "Regular"
    performance = api.get(f"/projects/{project['id']}/iterations/{iteration['id']}/performance").json()
    assert {t["name"] for t in performance["perTagPerformance"]} == {"circle", "square"}
    trained_tags = api.get(f"/projects/{project['id']}/tags", params={"iterationId": iteration["id"]}).json()
    assert {t["name"] for t in trained_tags} == {"circle", "square"}


def test_project_settings_are_kept_and_echoed(server: RunningServer):
    api = _api(server)
    created = api.post("/projects", params={"name": "Settings", "targetExportPlatforms": "ONNX"}).json()
    assert created["settings"]["targetExportPlatforms"] == ["ONNX"]
    settings = {**created["settings"], "imageProcessingSettings": {"augmentationMethods": {"rotation": True}}}
    patched = api.patch(f"/projects/{created['id']}", json={**created, "settings": settings})
    assert patched.status_code == 200, patched.text
    again = api.get(f"/projects/{created['id']}").json()["settings"]
    assert again["targetExportPlatforms"] == ["ONNX"]
    assert again["imageProcessingSettings"] == {"augmentationMethods": {"rotation": True}}
    refused = api.post("/projects", params={"name": "Apple", "targetExportPlatforms": "CoreML"})
    assert (refused.status_code, refused.json()["code"]) == (400, "BadRequestProjectUnsupportedExportPlatform")


def test_exports_are_listed_only_once_made(server: RunningServer, published: dict):
    api = _api(server)
    exports = f"/projects/{published['project'].id}/iterations/{published['iteration'].id}/export"
    assert api.get(exports).json() == []
    made = api.post(exports, params={"platform": "ONNX"})
    assert made.status_code == 200 and made.json()["status"] == "Done"
    assert [(e["platform"], e["status"]) for e in api.get(exports).json()] == [("ONNX", "Done")]


def test_get_artifact_serves_the_stored_export_and_404s_the_rest(
    server: RunningServer, published: dict, trainer: CustomVisionTrainingClient
):
    api = _api(server)
    project_id, iteration_id = published["project"].id, published["iteration"].id
    made = api.post(f"/projects/{project_id}/iterations/{iteration_id}/export", params={"platform": "ONNX"}).json()
    download = httpx.get(made["downloadUri"], timeout=60).content
    whole = api.get(f"/projects/{project_id}/artifacts", params={"path": f"i-{iteration_id}/ONNX"})
    assert whole.status_code == 200 and whole.content == download
    with zipfile.ZipFile(io.BytesIO(download)) as archive:
        labels = archive.read("labels.txt")
    via_sdk = b"".join(trainer.get_artifact(project_id, f"i-{iteration_id}/ONNX/labels.txt"))
    assert via_sdk == labels
    for path in (f"i-{iteration_id}/CoreML", f"i-{iteration_id}/ONNX/secrets.txt", "i-nope/ONNX", "../etc/passwd"):
        missing = api.get(f"/projects/{project_id}/artifacts", params={"path": path})
        assert missing.status_code == 404 and missing.json()["code"].startswith("NotFound"), (path, missing.text)
        assert "artifact" in missing.json()["message"] or "iteration" in missing.json()["message"]


def test_tag_assignments_over_the_limit_are_listed_as_exceeded_and_conflicts_are_400(server: RunningServer):
    api = _api(server)
    project = api.post("/projects", params={"name": "Crowded", "classificationType": "Multilabel"}).json()
    tags = [api.post(f"/projects/{project['id']}/tags", params={"name": f"t{i}"}).json()["id"] for i in range(3)]
    batch = {"images": [{"name": "a.jpg", "contents": base64.b64encode(SQUARE).decode()}]}
    image = api.post(f"/projects/{project['id']}/images/files", json=batch).json()["images"][0]["image"]["id"]
    limits = server.ws.limits
    server.ws.limits = dataclasses.replace(limits, max_tags_per_image=2)
    try:
        answer = api.post(
            f"/projects/{project['id']}/images/tags", json={"tags": [{"imageId": image, "tagId": t} for t in tags]}
        )
    finally:
        server.ws.limits = limits
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert [e["tagId"] for e in summary["created"]] == tags[:2]
    assert [e["tagId"] for e in summary["exceeded"]] == tags[2:] and summary["duplicated"] == []
    stored = api.get(f"/projects/{project['id']}/images/id", params={"imageIds": image}).json()[0]
    assert {t["tagId"] for t in stored["tags"]} == set(tags[:2])


def test_stored_predictions_join_the_project_and_detection_is_refused_by_name(server: RunningServer, published: dict):
    project_id = published["project"].id
    classify = f"{server.prediction_url('v3.1')}/{project_id}/classify/iterations/Iteration1/image"
    prediction = httpx.post(classify, content=SQUARE, headers={"Prediction-Key": server.prediction_key}).json()
    api = _api(server)
    before = api.get(f"/projects/{project_id}/images/count").json()
    square = published["tags"]["square"].id
    batch = {"images": [{"id": prediction["id"], "tagIds": [square]}, {"id": str(uuid.uuid4())}]}
    answer = api.post(f"/projects/{project_id}/images/predictions", json=batch)
    assert answer.status_code == 207, answer.text
    first, second = answer.json()["images"]
    assert first["status"] == "OK" and [t["tagId"] for t in first["image"]["tags"]] == [square]
    assert second["status"] == "ErrorSource" and second["image"] is None
    assert api.get(f"/projects/{project_id}/images/count").json() == before + 1
    original = httpx.get(first["image"]["originalImageUri"])
    assert original.content == SQUARE

    refused = [
        api.post(f"/projects/{project_id}/images/regions", json={"regions": []}),
        api.post(f"/projects/{project_id}/images/{first['image']['id']}/regionproposals"),
        httpx.post(
            f"{server.prediction_url()}/{project_id}/detect/iterations/Iteration1/image",
            content=SQUARE,
            headers={"Prediction-Key": server.prediction_key},
        ),
    ]
    for answer in refused:
        assert answer.status_code == 400 and answer.json()["code"] == "BadRequestOperationNotSupported"
        assert "object detection" in answer.json()["message"]


def test_the_smart_labeler_suggests_tags_from_the_trained_iteration(server: RunningServer, published: dict):
    api = _api(server)
    project_id, iteration_id = published["project"].id, published["iteration"].id
    circle = to_jpeg(make_image(["circle"], seed=77_500))
    batch = {"images": [{"name": "new.jpg", "contents": base64.b64encode(circle).decode()}]}
    image = api.post(f"/projects/{project_id}/images/files", json=batch).json()["images"][0]["image"]["id"]
    answer = api.post(
        f"/projects/{project_id}/tagsandregions/suggestions", params={"iterationId": iteration_id, "imageIds": image}
    )
    assert answer.status_code == 200, answer.text
    (suggested,) = answer.json()
    assert (suggested["id"], suggested["iteration"]) == (image, iteration_id)
    probabilities = [p["probability"] for p in suggested["predictions"]]
    assert {p["tagName"] for p in suggested["predictions"]} == set(KINDS)
    assert suggested["predictionUncertainty"] == pytest.approx(1 - max(probabilities))
    missing = api.post(
        f"/projects/{project_id}/tagsandregions/suggestions",
        params={"iterationId": iteration_id, "imageIds": str(uuid.uuid4())},
    )
    assert missing.status_code == 404


def test_suggested_images_are_queried_and_counted_per_tag(server: RunningServer, published: dict):
    api = _api(server)
    project_id, iteration_id = published["project"].id, published["iteration"].id
    batch = {
        "images": [
            {"name": f"u{i}.jpg", "contents": base64.b64encode(to_jpeg(make_image([k], seed=77_600 + i))).decode()}
            for i, k in enumerate(KINDS)
        ]
    }
    assert api.post(f"/projects/{project_id}/images/files", json=batch).status_code == 200
    untagged = api.get(f"/projects/{project_id}/images/untagged/count").json()
    assert untagged >= 2
    tag_ids = [published["tags"][k].id for k in KINDS]
    params = {"iterationId": iteration_id}
    counts = api.post(f"/projects/{project_id}/images/suggested/count", params=params, json={"tagIds": tag_ids}).json()
    assert counts == {t: untagged for t in tag_ids}  # threshold 0: every untagged image is suggested for each tag
    strict = api.post(
        f"/projects/{project_id}/images/suggested/count", params=params, json={"tagIds": tag_ids, "threshold": 0.5}
    ).json()
    assert sum(strict.values()) >= untagged - 1 and all(n <= untagged for n in strict.values())  # Multiclass
    query = {"tagIds": tag_ids, "maxCount": 1, "sortBy": "UncertaintyAscending"}
    first = api.post(f"/projects/{project_id}/images/suggested", params=params, json=query).json()
    assert len(first["results"]) == 1 and first["token"]["continuation"] == "1"
    rest = api.post(f"/projects/{project_id}/images/suggested", params=params, json={**query, "maxCount": 50,
                    "continuation": "1"}).json()  # fmt: skip
    assert len(rest["results"]) == untagged - 1 and rest["token"]["continuation"] is None
    every = [first["results"][0], *rest["results"]]
    uncertainty = [r["predictionUncertainty"] for r in every]
    assert uncertainty == sorted(uncertainty)
    assert all(r["width"] == 128 and r["originalImageUri"] for r in every)


def test_a_project_exports_and_imports_on_the_same_server(server: RunningServer, published: dict):
    api = _api(server)
    project_id = published["project"].id
    exported = api.get(f"/projects/{project_id}/export").json()
    source_images = api.get(f"/projects/{project_id}/images/count").json()
    assert (exported["imageCount"], exported["tagCount"], exported["iterationCount"]) == (source_images, 2, 1)
    imported = api.post("/projects/import", params={"token": exported["token"], "name": "Imported"})
    assert imported.status_code == 200, imported.text
    copy = imported.json()
    assert copy["name"] == "Imported" and copy["id"] != project_id
    assert api.get(f"/projects/{copy['id']}/images/count").json() == source_images
    assert sorted((t["name"], t["imageCount"]) for t in api.get(f"/projects/{copy['id']}/tags").json()) == sorted(
        (t["name"], t["imageCount"]) for t in api.get(f"/projects/{project_id}/tags").json()
    )
    assert api.get(f"/projects/{copy['id']}/iterations").json() == []
    bad = api.post("/projects/import", params={"token": "not-a-token"})
    assert (bad.status_code, bad.json()["code"]) == (400, "BadRequestInvalidImportToken")
