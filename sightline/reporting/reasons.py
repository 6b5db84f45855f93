"""A prediction's reasons for being uncertain, in plain words: one sentence per reason code.

`sightline.learn.decisions` decides whether a prediction is uncertain and records why (`Reason`, on the
service's views); the CLI and the web UI turn those records into the same sentences here, so no
surface guesses the reason from the probabilities.
"""

from __future__ import annotations

from sightline.learn.decisions import Reason


def describe_reason(reason: Reason) -> str:
    """One sentence a person can act on, with the numbers that made the prediction uncertain."""
    code = reason.code
    if code == "unknown":
        return (
            f"Unknown: this image is unlike the training images (unknown score {reason.unknown_score:.2f}, "
            f"flagged from {reason.unknown_threshold:.2f}); the tags may mean nothing and none counts as "
            "predicted. If such images matter, tag some and train again."
        )
    if code == "below_threshold":
        return (
            f"Below the threshold: the best tag, {reason.tag}, has {reason.probability:.2f}, "
            f"under its threshold {reason.threshold:.2f}; a person should check."
        )
    if code == "close_runner_up":
        return (
            f"Close runner-up: {reason.tag} ({reason.probability:.2f}) and {reason.runner_up} "
            f"({reason.runner_up_probability:.2f}) are within {reason.margin:.2f} of each other; "
            "a person should check."
        )
    if code == "near_threshold":
        return (
            f"Near the threshold: {reason.tag} has {reason.probability:.2f} against its threshold "
            f"{reason.threshold:.2f} (within {reason.margin:.2f}), so whether it applies could go either way."
        )
    return f"Uncertain ({code})."
