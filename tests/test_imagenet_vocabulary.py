"""The ImageNet -> built-in vocabulary map: complete, consistent, and real photos tagged sensibly."""

from __future__ import annotations

from importlib import resources

import pytest
from conftest import SHARED_MODELS, needs_shared_models

from sightline.backbones.lite import imagenet_labels
from sightline.tagging import Tagger
from sightline.vocabulary import imagenet_vocabulary, load_default_vocabulary


def _rows() -> list[list[str]]:
    text = (resources.files("sightline") / "data" / "imagenet_vocabulary.tsv").read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")][1:]


def test_every_label_is_mapped_or_deliberately_dropped():
    rows = _rows()
    assert [int(r[0]) for r in rows] == list(range(1000))
    assert tuple(r[1] for r in rows) == imagenet_labels()
    assert all(len(r) == 3 for r in rows), "each row: index, label, tag (empty = dropped on purpose)"
    vocabulary = load_default_vocabulary()
    unknown = sorted({r[2] for r in rows if r[2] and vocabulary.get(r[2]) is None})
    assert not unknown, f"tags the vocabulary lacks: {unknown}"
    mapped = sum(1 for r in rows if r[2])
    assert mapped >= 750, f"only {mapped} labels mapped"
    animals = [r for r in rows if int(r[0]) < 398]
    assert all(vocabulary.get(r[2]).category == "animal" for r in animals), "the animal block maps to animals"


def test_parents_follow_and_parent_tags_sum_their_children():
    tags, labels, label_sets = imagenet_vocabulary()
    vocabulary = load_default_vocabulary()
    assert vocabulary.ancestors("macaw")[:3] == ["parrot", "bird", "animal"]
    assert "food" in vocabulary.ancestors("hot dog")
    sets = dict(zip(tags.names(), label_sets, strict=True))
    macaw = labels.index("macaw")
    assert macaw in sets["macaw"] and macaw in sets["parrot"] and macaw in sets["bird"] and macaw in sets["animal"]
    assert labels.index("hotdog, hot dog, red hot") in sets["food"]
    assert len(sets["dog"]) >= 118 and set(sets["dog"]) <= set(sets["mammal"])
    for tag in tags:  # every parent of a kept tag is kept too
        assert all(parent in tags for parent in vocabulary.ancestors(tag.name))


@needs_shared_models
@pytest.mark.parametrize(
    ("photo", "expected"),
    [
        ("parrot.jpg", {"macaw", "parrot", "bird", "animal"}),
        ("hot_dog.jpg", {"hot dog", "food"}),
        ("bird.bmp", {"bird", "animal"}),
        ("dragonfly.bmp", {"dragonfly", "insect", "animal"}),
        ("cat.bmp", {"cat", "mammal", "animal"}),
        ("pets.jpg", {"dog", "mammal", "animal"}),
    ],
)
def test_shared_photos_are_tagged_sensibly_offline(photo, expected, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tagger = Tagger("efficientnet-lite0", threshold=0.5)
    result = tagger.tag([SHARED_MODELS / "test_images" / photo])[0]
    found = {tag.name for tag in result.tags}
    assert expected <= found, f"{photo}: {sorted(found)}"
    assert all(tag.category == "animal" for tag in result.tags) or "food" in found
    assert [t.confidence for t in result.tags] == sorted((t.confidence for t in result.tags), reverse=True)


@needs_shared_models
def test_filters_apply_to_imagenet_tags():
    tagger = Tagger("efficientnet-lite0", threshold=0.3, categories=["food"])
    photos = [SHARED_MODELS / "test_images" / name for name in ("parrot.jpg", "hot_dog.jpg")]
    parrot, hot_dog = tagger.tag(photos)
    assert parrot.tags == [] and "hot dog" in {t.name for t in hot_dog.tags}
    no_birds = Tagger("efficientnet-lite0", threshold=0.3, exclude=["bird"]).tag(photos[:1])[0]
    assert "bird" not in {t.name for t in no_birds.tags} and "animal" in {t.name for t in no_birds.tags}


@needs_shared_models
def test_analyze_answers_like_azure_with_the_packaged_model(tmp_path):
    import httpx
    from api_server import sightline_server

    with sightline_server(tmp_path, backbones=["efficientnet-lite0"], start_worker=False, web=False) as server:
        response = httpx.post(
            f"{server.url}/computervision/imageanalysis:analyze",
            params={"api-version": "2024-02-01", "features": "tags"},
            content=(SHARED_MODELS / "test_images" / "parrot.jpg").read_bytes(),
            headers={"Ocp-Apim-Subscription-Key": server.prediction_key},
            timeout=120,
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["modelVersion"] == "efficientnet-lite0"
    tags = {t["name"]: t["confidence"] for t in body["tagsResult"]["values"]}
    assert {"macaw", "parrot", "bird", "animal"} <= set(tags)
    assert tags["animal"] >= tags["bird"] >= tags["parrot"] >= tags["macaw"] > 0.5
