"""The web UI's pages, one module per part of the workflow; each exposes a `router`."""

from sightline.web.pages import images, performance, predictions, projects, publish, quicktest, tagging, training

ROUTERS = [
    projects.router,
    images.router,
    training.router,
    performance.router,
    quicktest.router,
    predictions.router,
    publish.router,
    tagging.router,
]
