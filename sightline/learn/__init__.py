"""Machine learning on image embeddings: heads, calibration, decisions, novelty, training, evaluation.

Everything here works on embedding arrays (no images, no model code). `train_model` is the entry
point; the estimators are scikit-learn compatible and usable on their own.
"""

from sightline.learn.calibration import (
    PlattScaler,
    ReliabilityBin,
    TemperatureScaler,
    expected_calibration_error,
    reliability_bins,
)
from sightline.learn.decisions import Decision, TagDecision, decide, suggest_thresholds
from sightline.learn.evaluation import EvaluationReport, ImagePrediction, PrecisionRecallCurve, TagMetrics
from sightline.learn.heads import LinearHead
from sightline.learn.model import Prediction, TrainedModel, negative_probability
from sightline.learn.novelty import NoveltyScorer
from sightline.learn.training import train_model

__all__ = [
    "Decision",
    "EvaluationReport",
    "ImagePrediction",
    "LinearHead",
    "NoveltyScorer",
    "PlattScaler",
    "PrecisionRecallCurve",
    "Prediction",
    "ReliabilityBin",
    "TagDecision",
    "TagMetrics",
    "TemperatureScaler",
    "TrainedModel",
    "decide",
    "expected_calibration_error",
    "negative_probability",
    "reliability_bins",
    "suggest_thresholds",
    "train_model",
]
