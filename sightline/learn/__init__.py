"""Machine learning on image embeddings: heads, calibration, decisions, novelty, training, evaluation.

Everything here works on embedding arrays (no images, no model code). `train_model` is the entry
point; the estimators are scikit-learn compatible and usable on their own.

The names below load on first use (PEP 562): importing `sightline.learn.rules` or the service layer
must not cost scikit-learn's import (about a second) in every CLI call that never trains.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "PlattScaler": "calibration",
    "ReliabilityBin": "calibration",
    "TemperatureScaler": "calibration",
    "expected_calibration_error": "calibration",
    "reliability_bins": "calibration",
    "Decision": "decisions",
    "TagDecision": "decisions",
    "decide": "decisions",
    "suggest_thresholds": "decisions",
    "EvaluationReport": "evaluation",
    "ImagePrediction": "evaluation",
    "PrecisionRecallCurve": "evaluation",
    "TagMetrics": "evaluation",
    "LinearHead": "heads",
    "Prediction": "model",
    "TrainedModel": "model",
    "negative_probability": "model",
    "NoveltyScorer": "novelty",
    "train_model": "training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value
