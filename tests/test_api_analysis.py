"""Image Analysis 4.0 (`tags`) with Azure's own SDK (azure-ai-vision-imageanalysis), unchanged, and httpx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from api_server import RunningServer, sightline_server, static_http_server

from sightline.http.fetch import FetchPolicy
from sightline.synthetic import make_image, to_jpeg
from sightline.tagging import Tagger

imageanalysis = pytest.importorskip("azure.ai.vision.imageanalysis")

from azure.ai.vision.imageanalysis.models import VisualFeatures  # noqa: E402
from azure.core.credentials import AzureKeyCredential  # noqa: E402
from azure.core.exceptions import HttpResponseError  # noqa: E402

VOCABULARY = ["circle", "square", "shape", "stripes"]
JPEG = to_jpeg(make_image(["circle"], seed=1))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A small vocabulary keeps the tiny tagger quick to build (the shipped one has 1,506 tags)."""
    tagger = Tagger("tiny", vocabulary=VOCABULARY, threshold=0.0)
    folder = tmp_path_factory.mktemp("api-analysis")
    with sightline_server(folder, tagger=tagger, fetch_policy=FetchPolicy(allow_private=True)) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: RunningServer):
    return imageanalysis.ImageAnalysisClient(server.url, AzureKeyCredential(server.prediction_key))


def test_the_sdk_gets_tags_for_bytes_and_urls(client):
    result = client.analyze(image_data=JPEG, visual_features=[VisualFeatures.TAGS])
    assert (result.metadata.width, result.metadata.height) == (128, 128)
    assert result.model_version == "tiny"
    confidences = [t.confidence for t in result.tags.list]
    assert {t.name for t in result.tags.list} == set(VOCABULARY) and confidences == sorted(confidences, reverse=True)
    with static_http_server({"/a.png": (200, {}, JPEG)}) as host:
        by_url = client.analyze_from_url(image_url=f"{host}/a.png", visual_features=[VisualFeatures.TAGS])
    assert [(t.name, t.confidence) for t in by_url.tags.list] == [(t.name, t.confidence) for t in result.tags.list]


def test_unsupported_features_and_bad_images_are_400s_the_sdk_understands(client):
    with pytest.raises(HttpResponseError) as info:
        client.analyze(image_data=JPEG, visual_features=[VisualFeatures.TAGS, VisualFeatures.CAPTION])
    assert info.value.status_code == 400 and "only the 'tags' feature" in info.value.message
    with pytest.raises(HttpResponseError) as info:
        client.analyze(image_data=b"not an image", visual_features=[VisualFeatures.TAGS])
    assert info.value.status_code == 400 and info.value.error.code == "InvalidRequest"


def test_keys_versions_and_languages_are_checked(server: RunningServer):
    url = f"{server.url}/computervision/imageanalysis:analyze"
    params = {"api-version": "2024-02-01", "features": "tags"}
    ok = httpx.post(url, params=params, content=JPEG, headers={"Ocp-Apim-Subscription-Key": server.training_key})
    assert ok.status_code == 200 and set(ok.json()) == {"modelVersion", "metadata", "tagsResult"}
    refused = httpx.post(url, params=params, content=JPEG)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "401"
    headers = {"Ocp-Apim-Subscription-Key": server.prediction_key}
    for bad in ({"api-version": "2022-01-01"}, {"language": "fr"}, {"features": "colors"}, {"features": ""}):
        response = httpx.post(url, params={**params, **bad}, content=JPEG, headers=headers)
        assert response.status_code == 400 and response.json()["error"]["code"] == "InvalidRequest", bad
    not_json = httpx.post(url, params=params, content=b"{", headers={**headers, "Content-Type": "application/json"})
    assert not_json.status_code == 400
