"""Property-based fuzzing of every documented route (schemathesis over /openapi.json): no input makes a 5xx,
on SQLite and on PostgreSQL.

Runs the app in-process with all keys sent, over a workspace holding one project, tag and image, so
that some generated ids exist. Skipped where schemathesis is not installed (it is not a dependency).
"""

from __future__ import annotations

import json
import re

import pytest
from store_fixtures import DIALECTS, fresh_pg_schema_url

from sightline.api import load_keys
from sightline.app import create_app
from sightline.service import Workspace, images, projects, tags
from sightline.service.images import NewImage
from sightline.store import BlobStore, open_store
from sightline.synthetic import make_image, to_jpeg
from sightline.tagging import Tagger

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

from schemathesis.checks import not_a_server_error  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=DIALECTS)
def workspace(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """On SQLite and on PostgreSQL, whose stricter types (no NUL in text) once made 500s SQLite never showed."""
    folder = tmp_path_factory.mktemp("api-fuzz")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'fuzz.db'}"
    else:
        url = fresh_pg_schema_url(request.getfixturevalue("pg_database_url"))
    ws = Workspace(open_store(url), BlobStore(str(folder / "blobs")))
    project = projects.create_project(ws, "Fuzz", domain="tiny")
    tag = tags.create_tag(ws, project.id, "circle")
    images.add_images(ws, project.id, [NewImage(to_jpeg(make_image(["circle"], seed=1)), tags=[tag.id])])
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def api_schema(workspace: Workspace):
    tagger = Tagger("tiny", vocabulary=["circle", "square"])
    app = create_app(workspace, start_worker=False, backbones=["tiny"], tagger=tagger)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def all_keys(workspace: Workspace) -> dict[str, str]:
    keys = load_keys(workspace)
    return {
        "Training-Key": keys.training_key,
        "Prediction-Key": keys.prediction_key,
        "Ocp-Apim-Subscription-Key": keys.prediction_key,
    }


NUMERIC_EXAMPLES = 40


def _takes_numbers_or_dates(operation, components: dict) -> bool:
    """Whether a parameter or body field of `operation` (following schema references) is a number or a date."""
    asked = {key: value for key, value in operation.definition.raw.items() if key != "responses"}
    text, seen = json.dumps(asked), set()
    while names := set(re.findall(r"#/components/schemas/([A-Za-z0-9_.-]+)", text)) - seen:
        seen |= names
        text += "".join(json.dumps(components.get(name, {})) for name in names)
    return any(word in text for word in ('"integer"', '"number"', '"date-time"'))


def test_no_request_makes_a_server_error(api_schema, all_keys: dict[str, str]):
    """Each operation in turn; hypothesis shrinks a failure to the smallest request that causes it.

    (schemathesis' own pytest plugin does not work with pytest 9, so the operations are walked here.)
    """
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # every served version is documented; their routes are the same code, so fuzz one of each
    operations = [op for op in operations if "/v3.4-preview/" not in op.path and "/v3.1/" not in op.path]
    assert len(operations) >= 30
    components = api_schema.raw_schema.get("components", {}).get("schemas", {})
    numeric = [op for op in operations if _takes_numbers_or_dates(op, components)]
    assert 10 <= len(numeric) < len(operations)  # skip/take, thresholds, times, counts ...
    for operation in operations:
        # Numbers and dates found the red-team's 500s (a 2**63 skip, year 1 with an offset): try them harder.
        examples = NUMERIC_EXAMPLES if operation in numeric else 8

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=examples, deadline=None, suppress_health_check=list(hypothesis.HealthCheck), database=None
        )
        def no_server_error(case) -> None:
            case.call_and_validate(headers=all_keys, checks=[not_a_server_error])

        no_server_error()


def test_a_nul_in_a_path_query_or_body_is_the_clients_error(workspace: Workspace, all_keys: dict[str, str]):
    """PostgreSQL text cannot hold NUL: a %00 or \\u0000 from a client is a 400 (or a plain 404), never a 500."""
    from fastapi.testclient import TestClient

    project = projects.list_projects(workspace)[0]
    tag = tags.list_tags(workspace, project.id)[0]
    base = f"/customvision/v3.3/training/projects/{project.id}"
    requests = [
        ("GET", "/customvision/v3.3/training/projects/x%00y", None),
        ("GET", f"{base}/tags/x%00y", None),
        ("GET", f"{base}/images/tagged?tagIds=x%00y", None),
        ("GET", f"{base}/tags?iterationId=x%00y", None),
        ("POST", f"{base}/tags?name=x%00y", None),
        ("PATCH", f"{base}/tags/{tag.id}", {"name": "x\u0000y", "description": "", "type": "Regular"}),
        ("POST", f"{base}/images/tags", {"tags": [{"imageId": "x\u0000y", "tagId": tag.id}]}),
        ("GET", f"{base}/images?$filter=k%20eq%20%27x%00y%27", None),
        ("POST", f"/customvision/v3.0/prediction/{project.id}/classify/iterations/x%00y/image", b"not read"),
    ]
    app = create_app(workspace, start_worker=False, backbones=["tiny"])
    with TestClient(app, raise_server_exceptions=False) as client:
        for method, url, body in requests:
            kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
            response = client.request(method, url, headers=all_keys, **kwargs)
            assert response.status_code in (400, 404), (method, url, response.status_code, response.text)
            assert response.json()["code"] != "ErrorUnknown"
    assert [t.name for t in tags.list_tags(workspace, project.id)] == [tag.name]  # nothing renamed or added
