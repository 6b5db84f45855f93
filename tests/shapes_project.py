"""A project of synthetic shapes, tagged and uploaded through the service layer: the set-up many tests share."""

from __future__ import annotations

from collections.abc import Sequence

from sightline.service import Workspace, images, projects, tags
from sightline.service.images import NewImage
from sightline.service.views import ProjectView
from sightline.synthetic import make_image, to_jpeg

KINDS = ["circle", "square", "triangle"]


def shapes_project(
    ws: Workspace,
    name: str,
    per_tag: int,
    *,
    kinds: Sequence[str] = KINDS,
    size: int = 128,
    extra: Sequence[NewImage] = (),
) -> ProjectView:
    """A Multiclass project on `tiny` with one Regular tag per kind and `per_tag` images each (plus `extra`)."""
    project = projects.create_project(ws, name, domain="tiny")
    for kind in kinds:
        tags.create_tag(ws, project.id, kind)
    batch = [
        NewImage(to_jpeg(make_image([kind], seed=k * 100 + i, size=size)), name=f"{kind}-{i}.jpg", tags=[kind])
        for k, kind in enumerate(kinds)
        for i in range(per_tag)
    ]
    results = images.add_images(ws, project.id, [*batch, *extra])
    assert all(r.status == "OK" for r in results), [r.message for r in results if r.status != "OK"]
    return project
