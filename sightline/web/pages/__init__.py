"""The web UI's pages, one module per part of the workflow; each exposes a `router`."""

from sightline.web.pages import (
    images,
    migrate,
    performance,
    predictions,
    projects,
    publish,
    quicktest,
    settings,
    tagging,
    tags,
    training,
)

ROUTERS = [
    projects.router,
    migrate.router,
    images.router,
    tags.router,
    training.router,
    performance.router,
    quicktest.router,
    predictions.router,
    publish.router,
    tagging.router,
    settings.router,
]
