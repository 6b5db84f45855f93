"""The charts of `sightline report` and the web's performance page: matplotlib (Agg: no display), PNG data URIs.

Each function takes what `performance` read from a report and returns a `data:image/png;base64,...`
string, so the HTML page embeds its images and stays a single file that can be mailed or archived.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # before pyplot: never look for a display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay

from sightline.reporting.performance import Curve, TagRow

_DPI = 100
_MAX_CURVES = 24  # PR panels drawn; beyond that the per-tag table still lists every tag


def data_uri(figure: Figure) -> str:
    """The figure as an embeddable PNG; the figure is closed (pyplot keeps every open one alive)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def pr_curves(curves: Sequence[Curve], rows: Sequence[TagRow]) -> str:
    """One small precision-recall panel per tag, its average precision in the legend."""
    ap = {row.tag: row.average_precision for row in rows}
    shown = list(curves)[:_MAX_CURVES]
    columns = min(4, len(shown))
    lines = math.ceil(len(shown) / columns)
    figure, axes = plt.subplots(lines, columns, figsize=(3.2 * columns, 3.0 * lines), squeeze=False)
    for ax, curve in zip(axes.flat, shown, strict=False):
        PrecisionRecallDisplay(
            precision=np.asarray(curve.precision), recall=np.asarray(curve.recall), average_precision=ap.get(curve.tag)
        ).plot(ax=ax, name=curve.tag)
        ax.set(xlim=(0, 1.02), ylim=(0, 1.02), title=curve.tag)
        ax.legend(loc="lower left", fontsize="small")
    for ax in axes.flat[len(shown) :]:
        ax.set_axis_off()
    figure.tight_layout()
    return data_uri(figure)


def confusion(
    matrix: Sequence[Sequence[int]], tags: Sequence[str], title: str = "Confusion matrix (out-of-fold)"
) -> str:
    """Rows: the true tag; columns: the top predicted tag (Multiclass)."""
    size = max(4.0, 0.6 * len(tags) + 2)
    figure, ax = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay(np.asarray(matrix), display_labels=list(tags)).plot(
        ax=ax, cmap="Blues", colorbar=False, xticks_rotation=45
    )
    ax.set_title(title)
    figure.tight_layout()
    return data_uri(figure)


def reliability(
    before: Sequence[dict], after: Sequence[dict], ece_before: float | None, ece_after: float | None
) -> str:
    """Accuracy against confidence per bin, before and after calibration; the diagonal is perfect."""
    figure, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
    for bins, label, style in ((before, "before calibration", "o--"), (after, "after calibration", "s-")):
        if bins:
            ax.plot([b["mean_confidence"] for b in bins], [b["accuracy"] for b in bins], style, label=label)
    title = "Reliability"
    if ece_before is not None and ece_after is not None:
        title += f": ECE {ece_before:.3f} → {ece_after:.3f}"
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="observed accuracy", title=title)
    ax.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    return data_uri(figure)
