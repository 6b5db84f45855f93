"""An iteration's evaluation report, read defensively, for the CLI (`iterations show`, `train`, `report`)
and the web UI's performance page.

The report is stored as JSON on the iteration (`EvaluationReport.to_dict()` plus `warnings`,
`skipped_images` and `image_keys`). Iterations trained by another Sightline version may lack a key
or carry new ones, so every reader here uses `.get` and returns None for what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sightline.service.performance import Report, iteration_report, test_set_report

__all__ = ["Report", "iteration_report", "test_set_report"]  # re-exported for the commands and pages


@dataclass(frozen=True)
class TagRow:
    """One line of the per-tag table; None where the report does not say."""

    tag: str
    image_count: int | None
    precision: float | None
    precision_std: float | None
    recall: float | None
    recall_std: float | None
    average_precision: float | None
    average_precision_std: float | None
    suggested_threshold: float | None


@dataclass(frozen=True)
class Curve:
    """A tag's precision-recall curve (points in ascending threshold order)."""

    tag: str
    precision: list[float]
    recall: list[float]


@dataclass(frozen=True)
class Outcome:
    """An image's out-of-fold prediction: its tags, what was predicted, and `confidence` in that answer."""

    image_key: str | None
    true_tags: list[str]
    predicted_tags: list[str]
    confidence: float


def overall(report: Report) -> dict[str, float | None]:
    """The headline figures, by the names people know from Custom Vision."""
    return {
        "precision": report.get("precision"),
        "recall": report.get("recall"),
        "mAP": report.get("mean_average_precision"),
        "accuracy": report.get("accuracy"),
        "macro F1": report.get("macro_f1"),
    }


@dataclass(frozen=True)
class Figure:
    """One headline figure, cross-validated and on the test set, each with its standard error."""

    name: str
    estimate: float | None
    estimate_std: float | None
    held_out: float | None
    held_out_std: float | None


def side_by_side(report: Report, held_out: Report) -> list[Figure]:
    """The headline figures of the cross-validated report beside those on the test set."""
    spread = {"precision": "precision_std", "recall": "recall_std", "accuracy": "accuracy_std"}
    keys = {"precision": "precision", "recall": "recall", "mAP": "mean_average_precision", "accuracy": "accuracy",
            "macro F1": "macro_f1"}  # fmt: skip
    figures = []
    for name, key in keys.items():
        if report.get(key) is None and held_out.get(key) is None:
            continue
        std = spread.get(name)
        figures.append(
            Figure(
                name,
                report.get(key),
                report.get(std) if std else None,
                held_out.get(key),
                held_out.get(std) if std else None,
            )
        )
    return figures


def estimate_basis(report: Report) -> str:
    """What the cross-validated estimate rests on, in words: images, independent groups, folds."""
    text = f"cross-validated on {report.get('n_images', '?')} images"
    groups, grouped = report.get("n_groups"), report.get("n_grouped_images") or 0
    if groups is not None and grouped:
        text += (
            f" from {groups} independent groups ({grouped} images share a group: near-duplicates "
            f"{report.get('n_near_duplicate_images', 0)}, declared {report.get('n_declared_group_images', 0)})"
        )
    return text + f" in {report.get('n_folds', '?')} folds"


def held_out_basis(held_out: Report) -> str:
    """What the held-out figures rest on."""
    skipped = len(held_out.get("skipped_images") or [])
    text = f"on the test set: {held_out.get('n_images', 0)} images never trained on"
    return text + (f" ({skipped} left out: unknown tag or unreadable)" if skipped else "")


@dataclass(frozen=True)
class LabelIssue:
    """A training image whose tag is probably wrong (confident learning on out-of-fold predictions)."""

    image_key: str | None
    given: str
    suggested: str
    self_confidence: float


def label_issues(report: Report) -> list[LabelIssue]:
    """The likely mislabelled training images, most likely first (Multiclass; [] otherwise)."""
    keys = list(report.get("image_keys") or [])
    return [
        LabelIssue(
            keys[entry["index"]] if 0 <= entry.get("index", -1) < len(keys) else None,
            str(entry.get("given", "?")),
            str(entry.get("suggested", "?")),
            float(entry.get("self_confidence", 0.0)),
        )
        for entry in report.get("label_issues") or []
    ]


def tag_rows(report: Report) -> list[TagRow]:
    return [
        TagRow(
            tag=str(entry.get("tag", "?")),
            image_count=entry.get("image_count"),
            precision=entry.get("precision"),
            precision_std=entry.get("precision_std"),
            recall=entry.get("recall"),
            recall_std=entry.get("recall_std"),
            average_precision=entry.get("average_precision"),
            average_precision_std=entry.get("average_precision_std"),
            suggested_threshold=entry.get("suggested_threshold"),
        )
        for entry in report.get("per_tag") or []
    ]


def curves(report: Report) -> list[Curve]:
    """The PR curves of the tags that have one (a tag without positive images has none)."""
    found = []
    for entry in report.get("per_tag") or []:
        curve = entry.get("pr_curve") or {}
        if curve.get("precision") and curve.get("recall"):
            found.append(Curve(str(entry.get("tag", "?")), list(curve["precision"]), list(curve["recall"])))
    return found


def reliability(report: Report, stage: str) -> list[dict[str, float]]:
    """Reliability bins `before` or `after` calibration: lower, upper, count, mean_confidence, accuracy."""
    bins = report.get(f"reliability_{stage}_calibration") or []
    return [b for b in bins if {"mean_confidence", "accuracy", "count"} <= set(b)]


def mistakes(report: Report, limit: int) -> list[Outcome]:
    """The worst out-of-fold mistakes, most confident first.

    Multiclass: the probability given to the wrong top tag. Multilabel: the strongest wrong yes/no,
    p for a tag wrongly given and 1 - p for a tag wrongly missed.
    """
    tags = list(report.get("tags") or [])
    keys = list(report.get("image_keys") or [])
    found = []
    for image in report.get("images") or []:
        truth, predicted = set(image.get("true_tags") or []), set(image.get("predicted_tags") or [])
        probabilities = dict(zip(tags, image.get("probabilities") or [], strict=False))
        if truth == predicted or not probabilities:
            continue
        if report.get("multilabel"):
            confidence = max(
                [probabilities.get(t, 0.0) for t in predicted - truth]
                + [1.0 - probabilities.get(t, 1.0) for t in truth - predicted]
            )
        else:
            confidence = max(probabilities.get(t, 0.0) for t in predicted) if predicted else 0.0
        found.append(Outcome(_image_key(image, keys), sorted(truth), sorted(predicted), float(confidence)))
    found.sort(key=lambda m: m.confidence, reverse=True)
    return found[:limit]


def confusion_cell(report: Report, actual: str, predicted: str) -> list[Outcome]:
    """The images behind one confusion-matrix cell (Multiclass): tagged `actual`, top tag `predicted`.

    Most confident first; `confidence` is the probability given to `predicted`. Empty for Multilabel.
    """
    if report.get("multilabel"):
        return []
    tags = list(report.get("tags") or [])
    keys = list(report.get("image_keys") or [])
    found = []
    for image in report.get("images") or []:
        if image.get("true_tags") != [actual] or image.get("predicted_tags") != [predicted]:
            continue
        probabilities = dict(zip(tags, image.get("probabilities") or [], strict=False))
        found.append(Outcome(_image_key(image, keys), [actual], [predicted], float(probabilities.get(predicted, 0.0))))
    found.sort(key=lambda o: o.confidence, reverse=True)
    return found


def _image_key(image: dict, keys: list[str]) -> str | None:
    """The training image (blob key = sha256) a report entry is about; None when the report cannot say."""
    index = image.get("index")
    return keys[index] if isinstance(index, int) and 0 <= index < len(keys) else None


@dataclass(frozen=True)
class AzureBaseline:
    """A migrated project's Custom Vision figures (`sightline migrate` keeps them as `azureBaseline`)."""

    iteration: str
    publish_name: str | None
    precision: float | None
    recall: float | None
    average_precision: float | None

    def describe(self) -> str:
        """`Azure baseline (Iteration 3, published as "cv"): precision 91.0%, recall 88.0%, AP 93.1%`."""
        where = self.iteration + (f', published as "{self.publish_name}"' if self.publish_name else "")
        figures = ", ".join(
            f"{name} {value:.1%}" if value is not None else f"{name} unknown"
            for name, value in (("precision", self.precision), ("recall", self.recall), ("AP", self.average_precision))
        )
        return f"Azure baseline ({where}): {figures}"


def _figure(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def azure_baseline(settings: dict | None) -> AzureBaseline | None:
    """The Azure iteration a migrated project is compared with: the published one, else the last listed.

    None for a project that was not migrated (or whose source had no completed iteration).
    """
    rows = [r for r in (settings or {}).get("azureBaseline") or () if isinstance(r, dict)]
    if not rows:
        return None
    row = next((r for r in rows if r.get("publishName")), rows[-1])
    return AzureBaseline(
        iteration=str(row.get("iteration") or "?"),
        publish_name=row.get("publishName") or None,
        precision=_figure(row.get("precision")),
        recall=_figure(row.get("recall")),
        average_precision=_figure(row.get("averagePrecision")),
    )
