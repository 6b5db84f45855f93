"""Stored evaluation reports are read once into typed dataclasses, whatever Sightline version wrote them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sightline.api.schemas import IterationPerformance
from sightline.commands.render import percent
from sightline.learn.evaluation import build_report
from sightline.reporting import performance as reporting
from sightline.service.performance import at_threshold
from sightline.service.report import StoredReport

#: A report as an early iteration stored it: before groups, standard errors, label issues, tag ids.
OLD_REPORT = {
    "multilabel": False,
    "tags": ["cat", "dog"],
    "threshold": 0.5,
    "n_images": 4,
    "n_folds": 2,
    "chosen_c": 1.0,
    "c_values": [0.1, 1.0],
    "c_log_losses": [0.7, 0.6],
    "precision": 0.75,
    "recall": 0.75,
    "mean_average_precision": 0.8,
    "accuracy": 0.75,
    "macro_f1": 0.73,
    "confusion_matrix": [[2, 0], [1, 1]],
    "ece_before_calibration": 0.1,
    "ece_after_calibration": 0.05,
    "reliability_before_calibration": [
        {"lower": 0.5, "upper": 0.6, "count": 4, "mean_confidence": 0.55, "accuracy": 0.75}
    ],
    "reliability_after_calibration": [],
    "per_tag": [
        {
            "tag": "cat",
            "image_count": 2,
            "precision": 0.67,
            "precision_std": 0.1,
            "recall": 1.0,
            "recall_std": 0.0,
            "average_precision": 0.9,
            "average_precision_std": 0.05,
            "suggested_threshold": 0.4,
            "pr_curve": {"thresholds": [0.2, 0.8], "precision": [0.5, 1.0], "recall": [1.0, 0.5]},
        },
        {"tag": "dog", "image_count": 2, "precision": 1.0, "recall": 0.5},  # keys missing too
    ],
    "images": [
        {"index": 0, "true_tags": ["cat"], "probabilities": [0.9, 0.1], "predicted_tags": ["cat"]},
        {"index": 1, "true_tags": ["cat"], "probabilities": [0.6, 0.4], "predicted_tags": ["cat"]},
        {"index": 2, "true_tags": ["dog"], "probabilities": [0.7, 0.3], "predicted_tags": ["cat"]},
        {"index": 3, "true_tags": ["dog"], "probabilities": [0.2, 0.8], "predicted_tags": ["dog"]},
    ],
    "timings": {"embedding": 1.0},
    "warnings": ["few images"],
    "skipped_images": [],
    "image_keys": ["a" * 64, "b" * 64, "c" * 64, "d" * 64],
    "from_the_future": {"kept": True},
}


def test_an_old_report_loads_with_what_it_lacks_as_none() -> None:
    report = StoredReport.from_dict(json.loads(json.dumps(OLD_REPORT)))
    assert report is not None
    assert (report.n_images, report.n_folds, report.threshold) == (4, 2, 0.5)
    assert report.n_groups is None and report.n_grouped_images is None and report.tag_ids is None
    assert report.precision_std is None and report.accuracy_std is None and report.label_issues == []
    assert [t.tag for t in report.per_tag] == ["cat", "dog"]
    assert report.per_tag[1].precision_std is None and report.per_tag[1].pr_curve.precision == []
    assert report.image_key(report.images[2]) == "c" * 64
    assert report.to_dict()["from_the_future"] == {"kept": True}  # a newer version's keys survive
    assert StoredReport.from_dict({}) is None and StoredReport.from_dict(None) is None

    # every front end reads it
    assert reporting.estimate_basis(report) == "cross-validated on 4 images in 2 folds"
    assert [r.precision for r in reporting.tag_rows(report)] == [0.67, 1.0]
    assert [c.tag for c in reporting.curves(report)] == ["cat"]
    assert len(reporting.reliability(report, "before")) == 1
    assert [m.image_key for m in reporting.mistakes(report, 5)] == ["c" * 64]
    api = IterationPerformance.of(report, {"cat": "id-cat", "dog": "id-dog"}).model_dump(by_alias=True)
    assert api["precision"] == 0.75 and api["independentGroupCount"] is None and api["groupedImageCount"] is None
    assert api["perTagPerformance"][1]["precisionStdDeviation"] == 0.0 and api["heldOut"] is None


def test_undefined_precision_stays_undefined_and_shows_as_a_dash() -> None:
    report = StoredReport.from_dict(OLD_REPORT)
    assert report is not None
    strict = at_threshold(report, 0.95)  # no image reaches 0.95: nothing predicted, precision undefined
    assert strict.precision is None and strict.recall == 0.0
    assert all(t.precision is None and t.precision_std is None for t in strict.per_tag)
    assert percent(reporting.tag_rows(strict)[0].precision) == "–"  # the CLI's dash (the web's is its own filter)
    api = IterationPerformance.of(strict, {}).model_dump(by_alias=True)
    assert api["precision"] == 0.0 and api["perTagPerformance"][0]["precision"] == 0.0  # Azure's fields are numbers
    assert at_threshold(report, 0.5).precision == pytest.approx(0.75)


def test_the_engine_reports_a_never_predicted_tag_without_precision() -> None:
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    report = build_report(
        tags=["cat", "dog"],
        multilabel=False,
        y_true=np.array([0, 0, 1, 1]),
        probs=probs,
        uncalibrated_probs=probs,
        folds=np.array([0, 1, 0, 1]),
        threshold=0.5,
        chosen_c=1.0,
        c_values=[1.0],
        c_log_losses=[0.5],
    )
    assert report.per_tag[1].precision is None and report.per_tag[1].recall == 0.0  # "dog" never predicted
    assert report.per_tag[0].precision == pytest.approx(0.5)
    stored = StoredReport.from_dict(json.loads(json.dumps(report.to_dict())))  # valid JSON: no NaN
    assert stored is not None and stored.per_tag[1].precision is None
