"""A prediction's flags in plain words, for the quick test and the review queue.

The service decides *whether* a prediction is uncertain or unknown and records *why*
(`learn.decisions.Reason`); this only puts those reasons into words (`reporting.reasons`), so a person
knows what to check.
"""

from __future__ import annotations

from dataclasses import dataclass

from sightline.reporting.reasons import describe_reason
from sightline.service.views import PredictionView


@dataclass(frozen=True)
class Flag:
    kind: str  # a reason code ("unknown", "below_threshold", "close_runner_up", "near_threshold"),
    # "uncertain" (a prediction stored before reasons were recorded) or "none-above"
    text: str


def explain(prediction: PredictionView, *, multilabel: bool) -> list[Flag]:
    """The flags of a prediction, each with a sentence a person can act on (empty: a clear answer)."""
    tags = prediction.predictions
    flags = [Flag(r.code, describe_reason(r)) for r in prediction.reasons]
    if prediction.uncertain and not prediction.reasons:
        flags.append(Flag("uncertain", "Uncertain: a person should check."))
    if tags and not any(t.above_threshold for t in tags) and not flags:
        flags.append(Flag("none-above", "No tag reaches its threshold."))
    return flags
