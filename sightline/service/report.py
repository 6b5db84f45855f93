"""An iteration's stored evaluation report, read once into typed, version-tolerant dataclasses.

The report is stored as JSON on the iteration: the engine's `EvaluationReport.to_dict()` plus
`warnings`, `skipped_images`, `image_keys` (the sha256 of each image, by training index), `tag_ids`
({tag name then: tag id}) and, on a test set, `leaked_images`. Iterations trained by an older
Sightline lack keys that came later (groups, standard errors, `tag_ids` ...), and a newer one may add
keys: `StoredReport.from_dict` is the only reader, missing figures are None (never 0.0), unknown keys
are kept for `to_dict`. The CLI, the API and the web UI read reports only through these classes.

Undefined figures stay undefined: a tag that no image was predicted as has no precision (None), and
the front ends show a dash; the Azure-compatible API keeps Azure's 0.0 for those.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any


def _number(value: object) -> float | None:
    """A finite number as float; None for anything else (missing, null, NaN, a string)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _list(value: object) -> list:
    return list(value) if isinstance(value, list | tuple) else []


def _strings(value: object) -> list[str]:
    return [str(v) for v in _list(value)]


def _floats(value: object) -> list[float]:
    return [float(v) for v in _list(value) if _number(v) is not None]


def _dicts(value: object) -> list[dict]:
    return [v for v in _list(value) if isinstance(v, dict)]


@dataclass(frozen=True)
class PrecisionRecallCurve:
    """A tag's precision-recall curve, one point per threshold (ascending)."""

    thresholds: list[float] = field(default_factory=list)
    precision: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: object) -> PrecisionRecallCurve:
        data = data if isinstance(data, dict) else {}
        return cls(_floats(data.get("thresholds")), _floats(data.get("precision")), _floats(data.get("recall")))


@dataclass(frozen=True)
class TagFigures:
    """One tag's out-of-fold figures; *_std is the spread across folds (None where not known)."""

    tag: str
    image_count: int | None = None
    precision: float | None = None  # None: no image was predicted as this tag (undefined, not 0)
    precision_std: float | None = None
    recall: float | None = None  # None: no image carries this tag
    recall_std: float | None = None
    average_precision: float | None = None
    average_precision_std: float | None = None
    suggested_threshold: float | None = None
    pr_curve: PrecisionRecallCurve = field(default_factory=PrecisionRecallCurve)

    @classmethod
    def from_dict(cls, data: dict) -> TagFigures:
        return cls(
            tag=str(data.get("tag", "?")),
            image_count=_count(data.get("image_count")),
            precision=_number(data.get("precision")),
            precision_std=_number(data.get("precision_std")),
            recall=_number(data.get("recall")),
            recall_std=_number(data.get("recall_std")),
            average_precision=_number(data.get("average_precision")),
            average_precision_std=_number(data.get("average_precision_std")),
            suggested_threshold=_number(data.get("suggested_threshold")),
            pr_curve=PrecisionRecallCurve.from_dict(data.get("pr_curve")),
        )


@dataclass(frozen=True)
class EvaluatedImage:
    """One training image's out-of-fold prediction; `index` into the report's `image_keys`."""

    index: int | None
    true_tags: list[str] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)  # in the report's `tags` order
    predicted_tags: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict) -> EvaluatedImage:
        return cls(
            index=_count(data.get("index")),
            true_tags=_strings(data.get("true_tags")),
            probabilities=_floats(data.get("probabilities")),
            predicted_tags=_strings(data.get("predicted_tags")),
        )


@dataclass(frozen=True)
class ReliabilityBin:
    """One bar of a reliability diagram: predictions with confidence in [lower, upper).

    `learn.calibration.ReliabilityBin` as read back; not imported from there, because `learn` costs the
    CLI scikit-learn's import time."""

    lower: float
    upper: float
    count: int
    mean_confidence: float
    accuracy: float

    @classmethod
    def from_dict(cls, data: dict) -> ReliabilityBin | None:
        """None for a bin that lacks a figure (it cannot be drawn)."""
        lower, upper = _number(data.get("lower")), _number(data.get("upper"))
        count, confidence, accuracy = (
            _count(data.get("count")),
            _number(data.get("mean_confidence")),
            _number(data.get("accuracy")),
        )
        if count is None or confidence is None or accuracy is None:
            return None
        return cls(lower or 0.0, upper if upper is not None else 1.0, count, confidence, accuracy)


@dataclass(frozen=True)
class LabelIssueEntry:
    """A training image whose tag is probably wrong: `given`, and the tag it more likely shows."""

    index: int | None
    given: str
    suggested: str
    self_confidence: float

    @classmethod
    def from_dict(cls, data: dict) -> LabelIssueEntry:
        return cls(
            _count(data.get("index")),
            str(data.get("given", "?")),
            str(data.get("suggested", "?")),
            _number(data.get("self_confidence")) or 0.0,
        )


@dataclass(frozen=True)
class StoredReport:
    """An iteration's evaluation report (cross-validated, or on the test set), as stored.

    Every field has a default, so a report from any Sightline version loads; None means "not in this
    report" (or undefined, for precision and recall). `to_dict()` gives the JSON form, keys this
    version does not know included.
    """

    multilabel: bool = False
    tags: list[str] = field(default_factory=list)
    threshold: float | None = None
    n_images: int | None = None
    n_folds: int | None = None
    n_groups: int | None = None  # None: a report from before groups existed
    n_grouped_images: int | None = None  # images sharing their group with others
    n_near_duplicate_images: int | None = None
    n_declared_group_images: int | None = None
    precision: float | None = None  # micro-averaged over (image, tag); None when nothing was predicted
    precision_std: float | None = None
    recall: float | None = None
    recall_std: float | None = None
    mean_average_precision: float | None = None
    accuracy: float | None = None  # Multiclass only (top tag)
    accuracy_std: float | None = None
    macro_f1: float | None = None
    confusion_matrix: list[list[int]] | None = None  # Multiclass only: rows true tag, columns predicted
    ece_before_calibration: float | None = None
    ece_after_calibration: float | None = None
    reliability_before_calibration: list[ReliabilityBin] = field(default_factory=list)
    reliability_after_calibration: list[ReliabilityBin] = field(default_factory=list)
    per_tag: list[TagFigures] = field(default_factory=list)
    images: list[EvaluatedImage] = field(default_factory=list)
    label_issues: list[LabelIssueEntry] = field(default_factory=list)
    image_keys: list[str] = field(default_factory=list)  # sha256 of each image, by `index`
    tag_ids: dict[str, str] | None = None  # {name when trained: tag id}; None: a report from before ids
    warnings: list[str] = field(default_factory=list)
    skipped_images: list[dict] = field(default_factory=list)  # [{key, error}]: unreadable, left out
    leaked_images: list[list[str]] = field(default_factory=list)  # test set: [test key, training key]
    fine_tune: dict[str, Any] | None = None  # Advanced training: what fine-tuning did (`FineTuneSummary`)
    #: The stored JSON, as read: keys this version does not know survive `to_dict`.
    stored: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> StoredReport | None:
        """The report in `data`; None for an empty or missing one (an iteration not trained)."""
        if not data:
            return None
        matrix = data.get("confusion_matrix")
        tag_ids = data.get("tag_ids")
        return cls(
            multilabel=bool(data.get("multilabel")),
            tags=_strings(data.get("tags")),
            threshold=_number(data.get("threshold")),
            n_images=_count(data.get("n_images")),
            n_folds=_count(data.get("n_folds")),
            n_groups=_count(data.get("n_groups")),
            n_grouped_images=_count(data.get("n_grouped_images")),
            n_near_duplicate_images=_count(data.get("n_near_duplicate_images")),
            n_declared_group_images=_count(data.get("n_declared_group_images")),
            precision=_number(data.get("precision")),
            precision_std=_number(data.get("precision_std")),
            recall=_number(data.get("recall")),
            recall_std=_number(data.get("recall_std")),
            mean_average_precision=_number(data.get("mean_average_precision")),
            accuracy=_number(data.get("accuracy")),
            accuracy_std=_number(data.get("accuracy_std")),
            macro_f1=_number(data.get("macro_f1")),
            confusion_matrix=[[int(c) for c in row] for row in _list(matrix)] if isinstance(matrix, list) else None,
            ece_before_calibration=_number(data.get("ece_before_calibration")),
            ece_after_calibration=_number(data.get("ece_after_calibration")),
            reliability_before_calibration=_bins(data.get("reliability_before_calibration")),
            reliability_after_calibration=_bins(data.get("reliability_after_calibration")),
            per_tag=[TagFigures.from_dict(entry) for entry in _dicts(data.get("per_tag"))],
            images=[EvaluatedImage.from_dict(entry) for entry in _dicts(data.get("images"))],
            label_issues=[LabelIssueEntry.from_dict(entry) for entry in _dicts(data.get("label_issues"))],
            image_keys=_strings(data.get("image_keys")),
            tag_ids={str(k): str(v) for k, v in tag_ids.items()} if isinstance(tag_ids, dict) else None,
            warnings=_strings(data.get("warnings")),
            skipped_images=_dicts(data.get("skipped_images")),
            leaked_images=[_strings(pair) for pair in _list(data.get("leaked_images"))],
            fine_tune=data["fine_tune"] if isinstance(data.get("fine_tune"), dict) else None,
            stored=dict(data),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the stored keys, with the figures as this object holds them."""
        known = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "stored"}
        figures = {
            name: asdict(value) if hasattr(value, "__dataclass_fields__") else value for name, value in known.items()
        }
        for name in (
            "reliability_before_calibration",
            "reliability_after_calibration",
            "per_tag",
            "images",
            "label_issues",
        ):
            figures[name] = [asdict(item) for item in known[name]]
        return {**self.stored, **figures}

    def image_key(self, image: EvaluatedImage | LabelIssueEntry) -> str | None:
        """The blob key (sha256) of the image an entry is about; None when the report cannot say."""
        index = image.index
        return self.image_keys[index] if index is not None and 0 <= index < len(self.image_keys) else None


def _bins(value: object) -> list[ReliabilityBin]:
    return [b for b in (ReliabilityBin.from_dict(d) for d in _dicts(value)) if b is not None]
