"""What fine-tuning is asked to do (`FineTuneOptions`) and what it did (`FineTuneSummary`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


@dataclass(frozen=True)
class FineTuneOptions:
    """LP-FT settings. Defaults suit a few hundred images on a CPU.

    `budget_seconds`: wall-clock limit of the fine-tuning epochs (None: none); when it runs out the best
    epoch so far is kept. `resolution`: train (and then embed) at this input size instead of the
    backbone's own (smaller is faster; multiples of 32). `flips`: False where left/right carries meaning.
    `device`: "auto" takes CUDA (with bf16 autocast) when torch sees a GPU.
    """

    max_epochs: int = 12
    patience: int = 3
    batch_size: int = 16
    backbone_lr: float = 2e-4
    head_lr: float = 1e-3
    weight_decay: float = 1e-4
    budget_seconds: float | None = None
    resolution: int | None = None
    flips: bool = True
    device: str = "auto"
    random_state: int = 0


@dataclass
class EpochRecord:
    epoch: int  # 0: the linear probe on the frozen network
    train_loss: float | None  # None for epoch 0 (no training yet; JSON has no NaN)
    val_loss: float
    val_accuracy: float
    seconds: float


@dataclass
class FineTuneSummary:
    """The honest comparison: the frozen network's linear probe against the fine-tuned network, both
    scored on a group-aware validation fold the fine-tuning never trained on. The frozen figures are the
    higher bar of a probe on the backbone's own embeddings (what regular training uses) and one at the
    fine-tuning resolution; an epoch replaces the backbone only with a lower loss and no lower accuracy."""

    base: str
    resolution: int
    device: str
    train_images: int
    validation_images: int
    frozen_val_accuracy: float
    frozen_val_loss: float
    tuned_val_accuracy: float
    tuned_val_loss: float
    best_epoch: int  # 0 means no epoch beat the frozen network: the backbone was kept as it was
    epochs_run: int
    stopped_by: str  # "early stopping", "budget", "max epochs"
    seconds: float
    history: list[EpochRecord] = field(default_factory=list)

    @property
    def beat_frozen(self) -> bool:
        tuned, frozen = self.tuned_val_loss, self.frozen_val_loss
        return self.best_epoch > 0 and tuned is not None and (frozen is None or tuned < frozen)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, with a diverged (NaN, infinite) loss as None: PostgreSQL's JSON has no NaN."""
        return _finite({**asdict(self), "beat_frozen": self.beat_frozen})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FineTuneSummary:
        data = {k: v for k, v in data.items() if k != "beat_frozen"}
        data["history"] = [EpochRecord(**r) for r in data.get("history", [])]
        return cls(**data)
