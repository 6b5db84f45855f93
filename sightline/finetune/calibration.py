"""Calibration of a fine-tuned iteration, fitted on images the fine-tuned network never trained on.

Regular training calibrates on out-of-fold logits. After fine-tuning, the training images' embeddings
come from a network fitted to those very images: they separate better than new images will, and a
calibrator fitted on them is over-confident. The validation fold of fine-tuning is new to the network,
so a head fitted on the other images and scored on that fold gives honest logits to calibrate on.

A calibrator is a map for one head's logits: the model's head is then refitted on every image with
that head's C, so its logits keep their scale. Applied to a head with a C of its own search, it was wrong
by the ratio of their scales (C 1000 against 1 on one fabric draw: held-out ECE 0.47, every probability
near uniform). Using the calibrated head itself, fitted without the validation fold (a fifth of the
images), cost 5 points of accuracy on that draw (0.669 against 0.717) for an ECE of 0.13 against 0.16.

The fold is small (18-30 images at 15 per tag), and one temperature fitted on it alone swung both ways
(0.26 to 2.6, against held-out optima near 1): it is held toward the head's own scale by a prior worth
VALIDATION_TEMPERATURE_PRIOR pseudo-observations (`TemperatureScaler.prior_strength`), chosen in
benchmarks/results/fine_tune_calibration.md.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.base import clone

from sightline.errors import TrainingError
from sightline.learn import TrainedModel, train_model
from sightline.learn.calibration import make_calibrator

log = logging.getLogger(__name__)

#: `TemperatureScaler.prior_strength` of the validation-fold calibration (see the module docstring).
VALIDATION_TEMPERATURE_PRIOR = 5.0


def recalibrate_on_validation(
    model: TrainedModel, X: np.ndarray, Y: np.ndarray, validation: np.ndarray, *, random_state: int = 0
) -> bool:
    """Replace `model.calibrator` by one fitted on the validation rows (boolean mask over X) of a head
    trained on the other rows, and `model.head` by a head with that one's C fitted on every row. False
    (and the model unchanged, with a warning) when the training rows are too few to train a head on."""
    if not validation.any() or validation.all():
        return False
    try:
        part = train_model(X[~validation], Y[~validation], model.classes, multilabel=model.multilabel,
                           negative_class=model.negative_class, random_state=random_state)  # fmt: skip
    except TrainingError as error:
        log.info("calibration kept from cross-validation: %s", error)
        model.warnings.append(
            "Fine-tuned: too few images outside the validation fold to refit the calibration on new images; "
            "its probabilities may be over-confident."
        )
        return False
    model.head = clone(part.head).fit(X, Y)
    calibrator = make_calibrator(multilabel=model.multilabel, temperature_prior=VALIDATION_TEMPERATURE_PRIOR)
    model.calibrator = calibrator.fit(part.head.logits(X[validation]), Y[validation])
    model.warnings.append(
        "Fine-tuned: the cross-validated figures are computed on embeddings of images the network was "
        "fine-tuned on and are optimistic; the fine-tuning validation fold (report 'fine_tune') is the "
        "honest comparison with the frozen network."
    )
    return True
