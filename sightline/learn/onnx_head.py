"""A trained model's `predict_proba` as ONNX nodes, to append to a backbone's graph for export.

The nodes compute exactly what `TrainedModel.predict_proba(l2_normalize(embedding))` computes, in
float32: L2 normalisation, the linear head with the calibration folded into it (softmax(W x / T) for
Multiclass, per tag sigmoid(a (W x + c) + b) for Multilabel), then the evidence bound, which is an
affine mix with the uniform distribution (`calibration.evidence_bound`). Thresholds, the uncertain flag
and the unknown (novelty) score are decisions on these probabilities and stay out of the graph.
"""

from __future__ import annotations

import numpy as np

from sightline.backbones.graph import GraphTail
from sightline.learn.calibration import PlattScaler, TemperatureScaler
from sightline.learn.model import TrainedModel


def calibrated_head(model: TrainedModel) -> tuple[np.ndarray, np.ndarray]:
    """(weights (dim, n_classes), bias (n_classes,)) whose logits already include the calibration's scaling."""
    weights, bias = model.head.coef_, model.head.intercept_
    calibrator = model.calibrator
    if isinstance(calibrator, TemperatureScaler):
        return (weights / calibrator.temperature_).T, bias / calibrator.temperature_
    if isinstance(calibrator, PlattScaler):
        slope, offset = calibrator.slope_, calibrator.offset_
        return (weights * slope[:, None]).T, bias * slope + offset
    raise TypeError(f"no ONNX form for calibrator {type(calibrator).__name__}")


def evidence_mix(model: TrainedModel) -> tuple[float, float]:
    """(scale, shift) with evidence_bound(p) = scale * p + shift, as `calibration.evidence_bound` defines it."""
    outcomes = 2 if model.multilabel else len(model.classes)
    alpha = outcomes / ((outcomes - 1) * (model.calibrator.n_samples_ + 2))
    return 1.0 - alpha, alpha / outcomes


def append_probabilities(tail: GraphTail, model: TrainedModel, embedding: str, output: str) -> str:
    """Append nodes from a raw (N, dim) `embedding` to calibrated (N, n_classes) probabilities named `output`."""
    weights, bias = calibrated_head(model)
    dim = weights.shape[0]
    squares = tail.op("Mul", [embedding, embedding], "squares")
    norm = tail.op("Sqrt", [tail.row_sum(squares, dim, "sum_of_squares")], "norm")
    guarded = tail.op("Max", [norm, tail.const("norm_floor", [1e-12])], "norm_guarded")
    unit = tail.op("Div", [embedding, guarded], "normalised")
    scores = tail.op("MatMul", [unit, tail.const("weights", weights)], "scores")
    logits = tail.op("Add", [scores, tail.const("bias", bias)], "logits")
    if model.multilabel:
        probs = tail.op("Sigmoid", [logits], "sigmoid")
    else:
        probs = tail.op("Softmax", [logits], "softmax", axis=1)  # on 2-D input the same in every opset
    scale, shift = evidence_mix(model)
    scaled = tail.op("Mul", [probs, tail.const("evidence_scale", [scale])], "evidence_scaled")
    return tail.op("Add", [scaled, tail.const("evidence_shift", [shift])], "evidence_bound", output=output)
