"""Sightline: self-hosted image classification with honest confidence.

    from sightline import Classifier
    clf = Classifier(backbone="onnx:models/mobilenet_v1_embedding.onnx").fit(images, labels)
    clf.evaluate()          # cross-validated, calibrated report
    clf.predict(new_images) # tags, probability, above_threshold, uncertain, unknown

Attributes load lazily, so `import sightline.imaging` (or the CLI's --help) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Classifier": "sightline.classifier",
    "ImagePrediction": "sightline.classifier",
    "SightlineError": "sightline.errors",
    "create_backbone": "sightline.backbones",
    "list_backbones": "sightline.backbones",
}
__all__ = ["Classifier", "ImagePrediction", "SightlineError", "__version__", "create_backbone", "list_backbones"]

if TYPE_CHECKING:
    from sightline.backbones import create_backbone, list_backbones
    from sightline.classifier import Classifier, ImagePrediction
    from sightline.errors import SightlineError


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sightline' has no attribute {name!r}")
