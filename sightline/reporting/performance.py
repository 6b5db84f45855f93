"""An iteration's evaluation report as rows and figures, for the CLI (`iterations show`, `train`,
`report`) and the web UI's performance page.

The report arrives typed (`service.report.StoredReport`, which reads reports of every Sightline
version); None in a figure means the report does not say, or the figure is undefined.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

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
        "precision": report.precision,
        "recall": report.recall,
        "mAP": report.mean_average_precision,
        "accuracy": report.accuracy,
        "macro F1": report.macro_f1,
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
        if getattr(report, key) is None and getattr(held_out, key) is None:
            continue
        std = spread.get(name)
        figures.append(
            Figure(
                name,
                getattr(report, key),
                getattr(report, std) if std else None,
                getattr(held_out, key),
                getattr(held_out, std) if std else None,
            )
        )
    return figures


def estimate_basis(report: Report) -> str:
    """What the cross-validated estimate rests on, in words: images, independent groups, folds."""
    text = f"cross-validated on {_known(report.n_images)} images"
    groups, grouped = report.n_groups, report.n_grouped_images or 0
    if groups is not None and grouped:
        text += (
            f" from {groups} independent groups ({grouped} images share a group: near-duplicates "
            f"{report.n_near_duplicate_images or 0}, declared {report.n_declared_group_images or 0})"
        )
    return text + f" in {_known(report.n_folds)} folds"


def _known(count: int | None) -> str:
    return "?" if count is None else str(count)


def held_out_basis(held_out: Report) -> str:
    """What the held-out figures rest on."""
    skipped = len(held_out.skipped_images)
    text = f"on the test set: {held_out.n_images or 0} images never trained on"
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
    return [
        LabelIssue(report.image_key(entry), entry.given, entry.suggested, entry.self_confidence)
        for entry in report.label_issues
    ]


def tag_rows(report: Report) -> list[TagRow]:
    return [
        TagRow(
            tag=entry.tag,
            image_count=entry.image_count,
            precision=entry.precision,
            precision_std=entry.precision_std,
            recall=entry.recall,
            recall_std=entry.recall_std,
            average_precision=entry.average_precision,
            average_precision_std=entry.average_precision_std,
            suggested_threshold=entry.suggested_threshold,
        )
        for entry in report.per_tag
    ]


def curves(report: Report) -> list[Curve]:
    """The PR curves of the tags that have one (a tag without positive images has none)."""
    return [
        Curve(entry.tag, list(entry.pr_curve.precision), list(entry.pr_curve.recall))
        for entry in report.per_tag
        if entry.pr_curve.precision and entry.pr_curve.recall
    ]


def reliability(report: Report, stage: str) -> list[dict[str, float]]:
    """Reliability bins `before` or `after` calibration: lower, upper, count, mean_confidence, accuracy."""
    bins = report.reliability_before_calibration if stage == "before" else report.reliability_after_calibration
    return [asdict(b) for b in bins]


def mistakes(report: Report, limit: int) -> list[Outcome]:
    """The worst out-of-fold mistakes, most confident first.

    Multiclass: the probability given to the wrong top tag. Multilabel: the strongest wrong yes/no,
    p for a tag wrongly given and 1 - p for a tag wrongly missed.
    """
    found = []
    for image in report.images:
        truth, predicted = set(image.true_tags), set(image.predicted_tags)
        probabilities = dict(zip(report.tags, image.probabilities, strict=False))
        if truth == predicted or not probabilities:
            continue
        if report.multilabel:
            confidence = max(
                [probabilities.get(t, 0.0) for t in predicted - truth]
                + [1.0 - probabilities.get(t, 1.0) for t in truth - predicted]
            )
        else:
            confidence = max(probabilities.get(t, 0.0) for t in predicted) if predicted else 0.0
        found.append(Outcome(report.image_key(image), sorted(truth), sorted(predicted), float(confidence)))
    found.sort(key=lambda m: m.confidence, reverse=True)
    return found[:limit]


def confusion_cell(report: Report, actual: str, predicted: str) -> list[Outcome]:
    """The images behind one confusion-matrix cell (Multiclass): tagged `actual`, top tag `predicted`.

    Most confident first; `confidence` is the probability given to `predicted`. Empty for Multilabel.
    """
    if report.multilabel:
        return []
    found = []
    for image in report.images:
        if image.true_tags != [actual] or image.predicted_tags != [predicted]:
            continue
        probabilities = dict(zip(report.tags, image.probabilities, strict=False))
        found.append(Outcome(report.image_key(image), [actual], [predicted], float(probabilities.get(predicted, 0.0))))
    found.sort(key=lambda o: o.confidence, reverse=True)
    return found


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
