"""What the pages say about evaluation reports and predictions, without a browser: confusion cells, flags in words."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from sightline.learn.decisions import decide
from sightline.reporting.performance import confusion_cell, mistakes
from sightline.service.report import StoredReport
from sightline.service.views import PredictionView
from sightline.web.flags import explain

STORED = {
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
REPORT = StoredReport.from_dict(STORED)


def test_a_confusion_cell_lists_its_images_most_confident_first() -> None:
    cell = confusion_cell(REPORT, "cat", "dog")
    assert [(o.image_key, o.confidence) for o in cell] == [("b" * 64, 0.9), ("a" * 64, 0.7), (None, 0.6)]
    assert [o.image_key for o in confusion_cell(REPORT, "dog", "dog")] == ["c" * 64]
    assert confusion_cell(REPORT, "dog", "cat") == []
    assert confusion_cell(StoredReport.from_dict({**STORED, "multilabel": True}), "cat", "dog") == []
    assert confusion_cell(StoredReport(), "cat", "dog") == []
    assert [m.image_key for m in mistakes(REPORT, 2)] == ["b" * 64, "a" * 64]


def _prediction(probabilities: dict[str, float], *, multilabel=False, threshold=0.5, unknown=False) -> PredictionView:
    """A prediction as the service builds it: decided (and its reasons recorded) by `learn.decisions.decide`."""
    decision = decide(
        np.array(list(probabilities.values())),
        list(probabilities),
        multilabel=multilabel,
        threshold=threshold,
        unknown_score=0.995 if unknown else 0.2,
        unknown_threshold=0.99,
    )
    return PredictionView(
        id="p",
        project_id="x",
        iteration_id="i",
        created=datetime.now(UTC),
        predictions=[
            {"tag_id": t.tag, "tag_name": t.tag, "probability": t.probability, "above_threshold": t.above_threshold}
            for t in decision.tags
        ],
        threshold=threshold,
        uncertain=decision.uncertain,
        unknown_score=0.995 if unknown else 0.2,
        unknown=unknown,
        reasons=[r.to_dict() for r in decision.reasons],
    )


def test_flags_say_why_in_plain_words() -> None:
    assert explain(_prediction({"cat": 0.9, "dog": 0.1}), multilabel=False) == []

    (close,) = explain(_prediction({"cat": 0.54, "dog": 0.46}), multilabel=False)
    assert close.kind == "close_runner_up"
    assert close.text.startswith("Close runner-up: cat (0.54) and dog (0.46) are within 0.10 of each other")

    low, coin = explain(_prediction({"cat": 0.4, "dog": 0.35, "owl": 0.25}), multilabel=False)
    assert low.kind == "below_threshold" and coin.kind == "close_runner_up"
    assert "the best tag, cat, has 0.40, under its threshold 0.50" in low.text

    (edge,) = explain(_prediction({"cat": 0.9, "dog": 0.47}, multilabel=True), multilabel=True)
    assert edge.kind == "near_threshold" and edge.text.startswith(
        "Near the threshold: dog has 0.47 against its threshold 0.50"
    )

    (none_above,) = explain(_prediction({"cat": 0.2, "dog": 0.1}, multilabel=True), multilabel=True)
    assert none_above.kind == "none-above"


def test_an_unknown_image_is_explained_as_unknown_not_as_close_tags() -> None:
    """The web once said "the top two tags are close (0.74 vs 0.20)" for an unknown image."""
    flags = explain(_prediction({"dress": 0.74, "shirt": 0.20, "hat": 0.06}, unknown=True), multilabel=False)
    assert [f.kind for f in flags] == ["unknown"]
    assert "unlike the training images (unknown score 0.99" in flags[0].text and "close" not in flags[0].text
