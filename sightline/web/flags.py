"""A prediction's flags in plain words, for the quick test and the review queue.

The service decides *whether* a prediction is uncertain or unknown (`learn.decisions`); this says *why*,
from the probabilities the prediction carries, so a person knows what to check.
"""

from __future__ import annotations

from dataclasses import dataclass

from sightline.service.views import PredictionView


@dataclass(frozen=True)
class Flag:
    kind: str  # "uncertain" | "unknown" | "none-above"
    text: str


def explain(prediction: PredictionView, *, multilabel: bool) -> list[Flag]:
    """The flags of a prediction, each with a sentence a person can act on (empty: a clear answer)."""
    tags, threshold = prediction.predictions, prediction.threshold
    flags = []
    if prediction.uncertain and tags:
        flags.append(Flag("uncertain", _why_uncertain(tags, threshold, multilabel)))
    elif tags and not any(t.get("above_threshold") for t in tags):
        flags.append(Flag("none-above", f"No tag reaches the threshold {threshold:.2f}."))
    if prediction.unknown:
        flags.append(
            Flag(
                "unknown",
                f"Unknown: this image is unlike the training images (unknown score {prediction.unknown_score:.2f}); "
                "the tags may mean nothing. If such images matter, tag some and train again.",
            )
        )
    return flags


def _why_uncertain(tags: list[dict], threshold: float, multilabel: bool) -> str:
    top = tags[0]
    if multilabel:
        near = min(tags, key=lambda t: abs(t["probability"] - threshold))
        return (
            f"Uncertain: {near['tag_name']} is close to the threshold ({near['probability']:.2f} vs {threshold:.2f}), "
            "so whether it applies could go either way; a person should check."
        )
    if top["probability"] < threshold:
        return (
            f"Uncertain: no tag reaches the threshold; the best is {top['tag_name']} at {top['probability']:.2f} "
            f"(threshold {threshold:.2f}); a person should check."
        )
    second = tags[1]["probability"] if len(tags) > 1 else 0.0
    return f"Uncertain: the top two tags are close ({top['probability']:.2f} vs {second:.2f}); a person should check."
