"""What Advanced training did, in one sentence: the same words in the CLI and on the web's Train page."""

from __future__ import annotations

from typing import Any


def fine_tune_sentence(summary: dict[str, Any]) -> str:
    """The report's `fine_tune` block read out: fine-tuned against frozen on the held-out validation fold."""
    tuned, frozen = summary["tuned_val_accuracy"], summary["frozen_val_accuracy"]
    verdict = (
        "fine-tuning helped"
        if summary.get("beat_frozen")
        else "fine-tuning did not beat the frozen network, which was kept as it was"
    )
    epochs = summary["epochs_run"]
    return (
        f"Advanced training: on {summary['validation_images']} images it never trained on, the fine-tuned network "
        f"scored {tuned:.0%} against {frozen:.0%} for the frozen one ({verdict}; {epochs} epoch"
        f"{'' if epochs == 1 else 's'} at {summary['resolution']} px on {summary['device']}, stopped by "
        f"{summary['stopped_by']})."
    )
