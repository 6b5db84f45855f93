"""The pre-built tagger: independent scores, thresholds, hierarchy, filters, calibration, the CLI.

Semantics are checked on `ColourBackbone`, a test double whose image vector is the mean colour and
whose text vector is the colour a prompt names, so the right answer is known. Mechanics (text
embedded once, bad images, the CLI) run on the `tiny` backbone, the same code path as real models.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_MODELS, needs_shared_models
from PIL import Image
from typer.testing import CliRunner

from sightline import cli
from sightline.backbones import Backbone
from sightline.errors import ImageError, InvalidLabelsError, ModelError, ModelFileError, VocabularyError
from sightline.imaging import PreprocessSpec
from sightline.synthetic import make_image, to_jpeg
from sightline.tagging import TagCalibration, Tagger, suggest_tags
from sightline.vocabulary import Vocabulary, VocabularyTag

COLOURS = {
    "crimson": (1.0, 0.0, 0.0),
    "red": (1.0, 0.3, 0.3),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "colour": (0.6, 0.5, 0.5),
}


class ColourBackbone(Backbone):
    """Image vector = mean RGB; text vector = the colour the prompt names (grey when it names none)."""

    name = "colour-test"
    zero_shot_scale = 10.0

    def __init__(self, sigmoid: bool = False):
        self.sigmoid_zero_shot = sigmoid
        self.zero_shot_bias = -3.0 if sigmoid else 0.0
        self.texts_embedded: list[str] = []

    @property
    def preprocess(self) -> PreprocessSpec:
        return PreprocessSpec(height=8, width=8)

    @property
    def dim(self) -> int:
        return 3

    @property
    def fingerprint(self) -> str:
        return f"colour-test-{self.sigmoid_zero_shot}"

    @property
    def has_text(self) -> bool:
        return True

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return pixels.mean(axis=(2, 3)).astype(np.float32)

    def embed_text(self, texts):
        self.texts_embedded += texts
        named = [next((rgb for word, rgb in COLOURS.items() if word in text), (1.0, 1.0, 1.0)) for text in texts]
        return np.asarray(named, dtype=np.float32)


def png(rgb: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), rgb).save(buffer, "PNG")
    return buffer.getvalue()


RED, GREEN, BLUE = png((255, 0, 0)), png((0, 255, 0)), png((0, 0, 255))


def colour_vocabulary() -> Vocabulary:
    return Vocabulary(
        [
            VocabularyTag("colour", "color"),
            VocabularyTag("red", "color", parent="colour"),
            VocabularyTag("crimson", "color", parent="red"),
            VocabularyTag("green", "color", parent="colour"),
            VocabularyTag("blue", "color", parent="colour"),
        ]
    )


def tagger(**options) -> Tagger:
    options.setdefault("vocabulary", colour_vocabulary())
    return Tagger(ColourBackbone(), cache=None, **options)


def names(result) -> list[str]:
    return [t.name for t in result.tags]


# --- scores ---------------------------------------------------------------------------------------


def test_each_tag_scores_on_its_own_so_adding_tags_changes_nothing():
    small = tagger(vocabulary=["red", "blue"]).predict_proba([RED, BLUE])
    large = tagger(vocabulary=["red", "blue", "green", "crimson", "colour"]).predict_proba([RED, BLUE])
    np.testing.assert_allclose(small, large[:, :2], rtol=1e-6)
    assert small[0, 0] > 0.9 and small[0, 1] < 0.1  # a red image is red and not blue
    assert small[1, 1] > 0.9 and small[1, 0] < 0.1


def test_clip_style_scores_against_the_neutral_caption_and_siglip_style_uses_the_models_bias():
    red_cos, neutral_cos = 1.0, 1 / np.sqrt(3)
    clip = tagger(vocabulary=["crimson"]).predict_proba([RED])[0, 0]
    siglip = Tagger(ColourBackbone(sigmoid=True), vocabulary=["crimson"], cache=None).predict_proba([RED])[0, 0]
    assert clip == pytest.approx(1 / (1 + np.exp(-10 * (red_cos - neutral_cos))), rel=1e-4)
    assert siglip == pytest.approx(1 / (1 + np.exp(-(10 * red_cos - 3))), rel=1e-4)


def test_threshold_and_top_keep_the_best_tags_above_the_line():
    everything = tagger(threshold=0.0, add_parents=False).tag([RED])[0]
    confidences = [t.confidence for t in everything.tags]
    assert len(confidences) == 5 and confidences == sorted(confidences, reverse=True)
    cut = (confidences[1] + confidences[2]) / 2
    assert names(tagger(threshold=cut, add_parents=False).tag([RED])[0]) == names(everything)[:2]
    assert names(tagger(threshold=0.0, top=3, add_parents=False).tag([RED])[0]) == names(everything)[:3]
    assert tagger(threshold=1.0).tag([RED])[0].tags == []


def test_a_confident_tag_brings_its_ancestors_with_inferred_from():
    result = tagger(threshold=0.975).tag(RED)[0]  # crimson 0.986 passes; red 0.968 and colour 0.67 do not
    by_name = {t.name: t for t in result.tags}
    assert set(by_name) == {"crimson", "red", "colour"}
    assert by_name["crimson"].inferred_from is None
    assert by_name["red"].inferred_from == by_name["colour"].inferred_from == "crimson"
    assert by_name["red"].confidence == by_name["colour"].confidence == by_name["crimson"].confidence
    assert by_name["colour"].category == "color"
    assert names(tagger(threshold=0.975, add_parents=False).tag(RED)[0]) == ["crimson"]


def test_an_ancestor_more_confident_than_its_child_keeps_its_own_score():
    vocabulary = Vocabulary([VocabularyTag("red", "color"), VocabularyTag("crimson", "color", parent="red")])
    pink = png((255, 90, 90))  # closer to "red" (1, .3, .3) than to "crimson" (1, 0, 0)
    result = tagger(vocabulary=vocabulary, threshold=0.5).tag(pink)[0]
    assert names(result) == ["red", "crimson"]
    assert result.tags[0].inferred_from is None


def test_category_include_and_exclude_filter_the_vocabulary():
    vocabulary = Vocabulary([*colour_vocabulary(), VocabularyTag("red car", "vehicle")])
    assert tagger(vocabulary=vocabulary, categories=["vehicle"]).tag_names == ["red car"]
    assert tagger(vocabulary=vocabulary, include=["red"]).tag_names == ["red", "crimson"]
    assert tagger(vocabulary=vocabulary, exclude=["colour"]).tag_names == ["red car"]
    with pytest.raises(VocabularyError, match="no tags left"):
        tagger(vocabulary=vocabulary, categories=["food"])


def test_filters_on_the_default_vocabulary(tiny_backbone):
    dogs = Tagger(tiny_backbone, include=["dog"], threshold=0.0, cache=None)
    assert "dog" in dogs.tag_names and "cat" not in dogs.tag_names
    assert all(dogs.vocabulary.get(name).category == "animal" for name in dogs.tag_names)
    assert "puppy" not in Tagger(tiny_backbone, include=["dog"], exclude=["puppy"], cache=None).tag_names


def test_custom_vocabulary_from_a_list_and_from_a_file(tmp_path):
    path = tmp_path / "tags.txt"
    path.write_text("Blue\ngreen\n")
    from_file = tagger(vocabulary=path)
    assert from_file.tag_names == ["blue", "green"]
    assert names(from_file.tag([GREEN])[0]) == ["green"]
    assert names(tagger(vocabulary=["Blue", "green"]).tag([BLUE])[0]) == ["blue"]
    with pytest.raises(VocabularyError):
        tagger(vocabulary={"blue": ["navy"]})  # mappings are for classification backbones


def test_single_mode_is_a_softmax_over_the_given_tags():
    single = tagger(vocabulary=["red", "green", "blue"], mode="single", threshold=0.0)
    probs = single.predict_proba([RED, GREEN, BLUE])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert list(probs.argmax(axis=1)) == [0, 1, 2]
    assert sum(t.confidence for t in single.tag([BLUE])[0].tags) == pytest.approx(1.0)


def test_suggest_tags_ranks_a_projects_own_names():
    ranked = suggest_tags([GREEN, b"not an image"], ["Red", "Green", "Blue"], backbone=ColourBackbone())
    assert [name for name, _ in ranked[0]] == ["Green", "Red", "Blue"]  # red (1, .3, .3) is nearer green
    assert ranked[0][0][1] > 0.9 and ranked[1] == []


def test_a_backbone_that_cannot_tag_says_so():
    class EmbeddingOnly(ColourBackbone):
        @property
        def has_text(self) -> bool:
            return False

    with pytest.raises(ModelError, match="cannot tag"):
        Tagger(EmbeddingOnly())


# --- calibration ----------------------------------------------------------------------------------


def shades(n: int, seed: int) -> tuple[list[bytes], list[list[str]]]:
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(n):
        base = [0, 0, 0]
        base[i % 3] = 255
        noise = rng.integers(0, 120, size=3)
        images.append(png(tuple(int(min(255, b + v)) for b, v in zip(base, noise, strict=True))))
        labels.append([("red", "green", "blue")[i % 3]])
    return images, labels


def test_calibrate_changes_confidences_and_round_trips_through_json(tmp_path):
    images, labels = shades(30, seed=0)
    raw = tagger(vocabulary=["red", "green", "blue"])
    calibrated = tagger(vocabulary=["red", "green", "blue"]).calibrate(images, labels)
    assert calibrated.calibration_.images == 30 and calibrated.calibration_.tags == ("blue", "green", "red")
    before, after = raw.predict_proba(images), calibrated.predict_proba(images)
    assert not np.allclose(before, after)
    positives = np.array([[name in tags for name in raw.tag_names] for tags in labels])
    assert after[positives].mean() > 0.5 > after[~positives].mean()

    path = calibrated.calibration_.save(tmp_path / "calibration.json")
    assert json.loads(path.read_text())["format"] == "sightline-tag-calibration"
    assert TagCalibration.load(path) == calibrated.calibration_
    reloaded = tagger(vocabulary=["red", "green", "blue"], calibration=path)
    np.testing.assert_allclose(reloaded.predict_proba(images), after, rtol=1e-6)

    with pytest.raises(ModelFileError, match="fitted on backbone"):
        Tagger(ColourBackbone(sigmoid=True), vocabulary=["red"], cache=None, calibration=path)
    with pytest.raises(ModelFileError, match="multilabel mode"):
        tagger(vocabulary=["red"], mode="single", calibration=path)


def test_single_mode_calibration_is_a_temperature():
    images, labels = shades(30, seed=1)
    single = tagger(vocabulary=["red", "green", "blue"], mode="single").calibrate(images, labels)
    assert single.calibration_.intercept == 0.0 and single.calibration_.slope != 1.0
    np.testing.assert_allclose(single.predict_proba(images).sum(axis=1), 1.0, rtol=1e-6)


def test_calibrate_refuses_labels_it_cannot_use():
    with pytest.raises(InvalidLabelsError, match="not a tag"):
        tagger().calibrate([RED], [["purple"]])
    with pytest.raises(InvalidLabelsError, match="2 tag lists"):
        tagger().calibrate([RED], [["red"], ["blue"]])
    with pytest.raises(InvalidLabelsError, match="both cases"):
        tagger().calibrate([RED, RED], [["red"], ["red"]])


# --- mechanics on the tiny backbone -------------------------------------------------------------


def test_text_embeddings_are_computed_once_per_vocabulary(tiny_backbone, monkeypatch):
    calls: list[int] = []
    embed_text = tiny_backbone.embed_text
    monkeypatch.setattr(tiny_backbone, "embed_text", lambda texts: calls.append(len(texts)) or embed_text(texts))
    image = to_jpeg(make_image(["circle"], seed=3))
    vocabulary = ["quokka 17", "wombat 17"]  # names no other test embeds
    first = Tagger(tiny_backbone, vocabulary=vocabulary, threshold=0.0, cache=None)
    first.tag([image])
    assert len(calls) == 1
    first.tag([image])
    Tagger(tiny_backbone, vocabulary=vocabulary, threshold=0.0, cache=None).tag([image])
    assert len(calls) == 1


def test_a_bad_image_is_reported_while_the_others_are_tagged(tiny_backbone):
    good = to_jpeg(make_image(["star"], seed=4))
    results = Tagger(tiny_backbone, vocabulary=["star", "circle"], threshold=0.0).tag([good, b"\x00" * 64, good])
    assert [r.index for r in results] == [0, 1, 2]
    assert results[0].ok and results[2].ok and len(results[0].tags) == 2
    assert isinstance(results[1].error, ImageError) and results[1].tags == []
    assert results[1].to_dict()["error"]["reason"] == results[1].error.reason
    assert results[0].to_dict()["tags"][0].keys() == {"name", "confidence", "category", "inferred_from"}


# --- the CLI ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    (folder / "nested").mkdir()
    make_image(["circle"], seed=5).save(folder / "a.jpg")
    make_image(["square"], seed=6).save(folder / "nested" / "b.png")
    (folder / "notes.txt").write_text("not a photo, and not an image suffix: skipped")
    return folder


def run(*args: str):
    return CliRunner().invoke(cli.app, ["tag", *args])


def test_cli_tags_a_folder_one_line_per_image(photo_folder, tiny_backbone):
    result = run(str(photo_folder), "--backbone", "tiny", "--tag", "circle", "-t", "square", "--threshold", "0")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [str(photo_folder / "a.jpg"), str(photo_folder / "nested/b.png")]
    assert all(sorted(part.split()[0] for part in line.split(": ")[1].split(", ")) == ["circle", "square"]
               for line in lines)  # fmt: skip


def test_cli_json_and_a_bad_file_exit_1_with_the_others_printed(photo_folder, tmp_path, tiny_backbone):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff truncated")
    args = (str(photo_folder / "a.jpg"), str(bad), "--backbone", "tiny", "--tags", "circle,square")
    result = run(*args, "--json", "--single", "--threshold", "0")
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["path"] for row in rows] == [str(photo_folder / "a.jpg"), str(bad)]
    assert sum(tag["confidence"] for tag in rows[0]["tags"]) == pytest.approx(1.0)
    assert "error" in rows[1] and "tags" not in rows[1]

    human = run(*args)
    assert human.exit_code == 1
    assert human.stdout.startswith(f"{photo_folder / 'a.jpg'}: ")
    assert f"{bad}: error:" in human.stderr


def test_cli_refuses_both_tags_and_a_tags_file(photo_folder, tmp_path):
    result = run(str(photo_folder), "--tags", "a", "--tags-file", str(tmp_path / "f.txt"))
    assert result.exit_code == 2


def test_cli_says_which_model_is_missing_instead_of_falling_back(photo_folder, monkeypatch, capsys):
    monkeypatch.setenv("SIGHTLINE_BACKBONE", "hf:sightline-tests/no-such-model")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(sys, "argv", ["sightline", "tag", str(photo_folder)])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 1
    assert "sightline-tests/no-such-model" in capsys.readouterr().err


# --- a real fixed-vocabulary tagger ----------------------------------------------------------------


@needs_shared_models
def test_the_imagenet_classifier_is_a_tagger():
    backbone = f"onnx:{SHARED_MODELS / 'mobilenet_v2_imagenet.onnx'}"
    parrot = SHARED_MODELS / "test_images" / "parrot.jpg"
    imagenet = Tagger(backbone, threshold=0.05, cache=None)  # ImageNet labels speak the built-in vocabulary
    assert {"macaw", "parrot", "bird", "animal"} <= set(names(imagenet.tag([str(parrot)])[0]))
    assert "crane (517)" not in imagenet.tag_names
    labels = Tagger(backbone, vocabulary=["macaw", "crane (517)"], threshold=0.05, cache=None)  # its own labels
    assert names(labels.tag([str(parrot)])[0]) == ["macaw"]

    clothing = Tagger(backbone, vocabulary={"bird": ["macaw", "lorikeet", "toucan"], "shoes": ["running shoe"]},
                      threshold=0.0, cache=None)  # fmt: skip
    probs = clothing.predict_proba([str(parrot)])[0]
    assert probs[0] > 0.9 > 0.01 > probs[1]
    with pytest.raises(VocabularyError, match="not a label"):
        Tagger(backbone, vocabulary=["quokka"])
