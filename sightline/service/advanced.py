"""Advanced training in the service: what an iteration's stored options ask of fine-tuning.

`trainingType=Advanced` fine-tunes the project's EfficientNet-Lite backbone (`sightline.finetune`)
before the head is trained; `reservedBudgetInHours` (Custom Vision's) or the CLI's finer
`budgetSeconds` bounds the fine-tuning epochs. Everything else is a regular iteration.
"""

from __future__ import annotations

from typing import Any

from sightline.backbones.tuned import can_fine_tune
from sightline.errors import InvalidRequestError
from sightline.finetune.options import FineTuneOptions

ADVANCED = "Advanced"


def check_fine_tunable(domain: str) -> None:
    """Refuse Advanced training at request time for a backbone whose weights cannot be trained."""
    if not can_fine_tune(domain):
        raise InvalidRequestError(
            f"Advanced training fine-tunes EfficientNet-Lite backbones (efficientnet-lite0/1/2); this project's "
            f"backbone {domain!r} is used as it is: train Regular, or create the project on efficientnet-lite0",
            "BadRequestTrainingValidationFailed",
        )


def fine_tune_options(stored: dict[str, Any] | None) -> FineTuneOptions | None:
    """The fine-tuning an iteration's options ask for (None: a Regular iteration)."""
    stored = stored or {}
    if stored.get("trainingType") != ADVANCED:
        return None
    budget = stored.get("budgetSeconds") or 3600.0 * float(stored.get("reservedBudgetInHours") or 1)
    return FineTuneOptions(budget_seconds=float(budget))


_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_budget(text: str) -> float:
    """`90s`, `10m`, `1.5h` or a plain number of seconds, as seconds (ValueError with the reason otherwise)."""
    text = text.strip().lower()
    unit = _UNITS.get(text[-1:])
    try:
        value = float(text[:-1] if unit else text)
    except ValueError:
        raise ValueError(f"not a duration: {text!r} (say 90s, 10m or 1h)") from None
    seconds = value * (unit or 1)
    if not seconds > 0:
        raise ValueError(f"the budget must be more than zero, not {text!r}")
    return seconds
