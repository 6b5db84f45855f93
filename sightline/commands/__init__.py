"""The project-workflow commands of `sightline`, one module per group; `sightline.cli` registers them.

projects, tags, images: the training data. training: train, iterations, publish, unpublish, worker.
predict: predict and test; review: the review queue; export: the ONNX zip;
batch: predict-batch. evaluate: scoring on outside labelled images.
thresholds: the thresholds predictions use. maintenance: gc. report: the HTML evaluation report.
render, context, performance and figures are what the commands share.
"""

from sightline.commands import (
    batch,
    evaluate,
    export,
    images,
    maintenance,
    predict,
    projects,
    report,
    review,
    tags,
    thresholds,
    training,
)

__all__ = [
    "batch",
    "evaluate",
    "export",
    "images",
    "maintenance",
    "predict",
    "projects",
    "report",
    "review",
    "tags",
    "thresholds",
    "training",
]
