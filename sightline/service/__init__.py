"""The use cases of Sightline, free of HTTP: projects, tags, images, training, iterations, predictions.

The CLI, the HTTP API and the web UI all call these functions with a `Workspace`, so every rule
(limits, Custom Vision's constraints, error codes) lives here once.
"""

from sightline.service import (
    analysis,
    copying,
    evaluation,
    images,
    importing,
    iterations,
    performance,
    predictions,
    projects,
    review,
    settings,
    snapshot,
    tags,
    thresholds,
    training,
)
from sightline.service.worker import Worker, start_background_worker
from sightline.service.workspace import ProjectLimits, Workspace
from sightline.store import IterationStatus  # the front ends' name for an iteration's state

__all__ = [
    "IterationStatus",
    "ProjectLimits",
    "Worker",
    "Workspace",
    "analysis",
    "copying",
    "evaluation",
    "images",
    "importing",
    "iterations",
    "performance",
    "predictions",
    "projects",
    "review",
    "settings",
    "snapshot",
    "start_background_worker",
    "tags",
    "thresholds",
    "training",
]
