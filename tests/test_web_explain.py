"""What the pages say about evaluation reports and predictions, without a browser: confusion cells, flags in words."""

from __future__ import annotations

from datetime import UTC, datetime

from sightline.reporting.performance import confusion_cell, mistakes
from sightline.service.views import PredictionView
from sightline.web.flags import explain

REPORT = {
    "multilabel": False,
    "tags": ["cat", "dog"],
    "image_keys": ["a" * 64, "b" * 64, "c" * 64],
    "images": [
        {"index": 0, "true_tags": ["cat"], "probabilities": [0.3, 0.7], "predicted_tags": ["dog"]},
        {"index": 1, "true_tags": ["cat"], "probabilities": [0.1, 0.9], "predicted_tags": ["dog"]},
        {"index": 2, "true_tags": ["dog"], "probabilities": [0.2, 0.8], "predicted_tags": ["dog"]},
        {"index": 9, "true_tags": ["cat"], "probabilities": [0.4, 0.6], "predicted_tags": ["dog"]},  # no key
    ],
}


def test_a_confusion_cell_lists_its_images_most_confident_first() -> None:
    cell = confusion_cell(REPORT, "cat", "dog")
    assert [(o.image_key, o.confidence) for o in cell] == [("b" * 64, 0.9), ("a" * 64, 0.7), (None, 0.6)]
    assert [o.image_key for o in confusion_cell(REPORT, "dog", "dog")] == ["c" * 64]
    assert confusion_cell(REPORT, "dog", "cat") == []
    assert confusion_cell({**REPORT, "multilabel": True}, "cat", "dog") == []
    assert confusion_cell({}, "cat", "dog") == []
    assert [m.image_key for m in mistakes(REPORT, 2)] == ["b" * 64, "a" * 64]


def _prediction(probabilities: dict[str, float], *, threshold=0.5, uncertain=False, unknown=False) -> PredictionView:
    ranked = sorted(probabilities.items(), key=lambda item: item[1], reverse=True)
    return PredictionView(
        id="p",
        project_id="x",
        iteration_id="i",
        created=datetime.now(UTC),
        predictions=[
            {"tag_id": name, "tag_name": name, "probability": p, "above_threshold": p >= threshold}
            for name, p in ranked
        ],
        threshold=threshold,
        uncertain=uncertain,
        unknown_score=0.995 if unknown else 0.2,
        unknown=unknown,
    )


def test_flags_say_why_in_plain_words() -> None:
    assert explain(_prediction({"cat": 0.9, "dog": 0.1}), multilabel=False) == []

    (close,) = explain(_prediction({"cat": 0.52, "dog": 0.48}, uncertain=True), multilabel=False)
    assert close.kind == "uncertain"
    assert close.text == "Uncertain: the top two tags are close (0.52 vs 0.48); a person should check."

    (low,) = explain(_prediction({"cat": 0.4, "dog": 0.35, "owl": 0.25}, uncertain=True), multilabel=False)
    assert "no tag reaches the threshold; the best is cat at 0.40 (threshold 0.50)" in low.text

    (edge,) = explain(_prediction({"cat": 0.9, "dog": 0.47}, uncertain=True), multilabel=True)
    assert edge.text.startswith("Uncertain: dog is close to the threshold (0.47 vs 0.50)")

    none_above, unknown = explain(_prediction({"cat": 0.2, "dog": 0.1}, unknown=True), multilabel=True)
    assert none_above.kind == "none-above" and "No tag reaches the threshold 0.50" in none_above.text
    assert unknown.kind == "unknown" and "unlike the training images (unknown score 0.99" in unknown.text
