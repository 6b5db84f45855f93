"""Values the red-team pass slipped past the service: refused alike on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from sightline.errors import InvalidRequestError
from sightline.service import Workspace, iterations, projects, tags
from sightline.store import BlobStore, Iteration, IterationStatus


@pytest.fixture
def ws(store, tmp_path) -> Workspace:
    return Workspace(store, BlobStore(str(tmp_path / "blobs")))


@pytest.mark.parametrize("description", ["a\x00b", "\x00"])
def test_nul_in_descriptions_is_refused_on_every_database(ws: Workspace, description: str):
    with pytest.raises(InvalidRequestError, match="NUL"):
        projects.create_project(ws, "Nul", description=description, domain="tiny")
    project = projects.create_project(ws, "Plain", description="two\nlines are fine", domain="tiny")
    with pytest.raises(InvalidRequestError, match="NUL"):
        projects.update_project(ws, project.id, description=description)
    with pytest.raises(InvalidRequestError, match="NUL"):
        tags.create_tag(ws, project.id, "boot", description=description)
    tag = tags.create_tag(ws, project.id, "shoe")
    with pytest.raises(InvalidRequestError, match="NUL"):
        tags.update_tag(ws, project.id, tag.id, description=description)
    assert projects.get_project(ws, project.id).description == "two\nlines are fine"
    assert [t.name for t in tags.list_tags(ws, project.id)] == ["shoe"]


@pytest.mark.parametrize("name", ["prod2\n", "prod2\r\n", "prod 2", "-prod", ""])
def test_publish_names_must_match_in_full(ws: Workspace, name: str):
    project = projects.create_project(ws, "Publish", domain="tiny")
    with ws.session() as session:
        done = Iteration(
            project_id=project.id,
            name="Iteration 1",
            status=IterationStatus.COMPLETED,
            classification_type="Multiclass",
            domain="tiny",
        )
        session.add(done)
    with pytest.raises(InvalidRequestError, match="invalid publish name"):
        iterations.publish_iteration(ws, project.id, done.id, name)
    iterations.publish_iteration(ws, project.id, done.id, "prod2")
