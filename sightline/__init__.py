"""Sightline: self-hosted image classification with honest confidence.

    from sightline import Classifier
    clf = Classifier(backbone="onnx:models/mobilenet_v1_embedding.onnx").fit(images, labels)
    clf.evaluate()          # cross-validated, calibrated report
    clf.predict(new_images) # tags, probability, above_threshold, uncertain, unknown

Attributes load lazily, so `import sightline.imaging` (or the CLI's --help) stays fast.
"""

import importlib as _importlib
import typing as _typing

__version__ = "0.1.0"

_EXPORTS = {
    "Classifier": "sightline.classifier",
    "ImagePrediction": "sightline.classifier",
    "SightlineError": "sightline.errors",
    "create_backbone": "sightline.backbones",
    "list_backbones": "sightline.backbones",
}
__all__ = ["Classifier", "ImagePrediction", "SightlineError", "__version__", "create_backbone", "list_backbones"]

if _typing.TYPE_CHECKING:
    from sightline.backbones import create_backbone, list_backbones
    from sightline.classifier import Classifier, ImagePrediction
    from sightline.errors import SightlineError


def __getattr__(name: str) -> _typing.Any:
    if name in _EXPORTS:
        return getattr(_importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sightline' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names (loaded lazily) beside what the module holds, for `dir()` and completion."""
    return sorted({*globals(), *__all__})
