"""The project-workflow commands of `sightline`, one module per group; `sightline.cli` registers them.

projects, tags, images: the training data. training: train, iterations, publish, unpublish, worker.
predict: predict and test. thresholds: the thresholds predictions use. report: the HTML evaluation
report. render, context, performance and figures are what the commands share.
"""

from sightline.commands import images, predict, projects, report, tags, thresholds, training

__all__ = ["images", "predict", "projects", "report", "tags", "thresholds", "training"]
