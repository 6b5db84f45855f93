"""Advanced training: fine-tune an EfficientNet-Lite backbone on a project's images (LP-FT).

The engine's regular training fits heads on frozen embeddings; this package adapts the network
itself and hands back a `TunedLiteBackbone` whose embeddings the regular training then uses, so
thresholds, unknown scores and the report are computed as for a regular iteration (the calibration
is refitted on a validation fold the fine-tuning never saw: see `calibration`). Torch is imported
only when `fine_tune` is used.
"""

from __future__ import annotations

from typing import Any

from sightline.finetune.options import EpochRecord, FineTuneOptions, FineTuneSummary

__all__ = ["EpochRecord", "FineTuneOptions", "FineTuneResult", "FineTuneSummary", "fine_tune", "trainable_network"]


def __getattr__(name: str) -> Any:
    if name in ("FineTuneResult", "fine_tune", "trainable_network"):
        from sightline.finetune import trainer

        return getattr(trainer, name)
    raise AttributeError(name)
