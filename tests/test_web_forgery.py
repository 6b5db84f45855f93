"""Cross-site requests against the web UI, without a browser: forms another site sends are refused.

A browser sends Origin on a cross-site POST; when it does not (some privacy settings), its Referer
names the sending page. Either one naming another site is a 403 `Forbidden`, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from api_server import RunningServer, sightline_server

from sightline.service import projects, tags
from sightline.synthetic import make_image, to_jpeg

EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("forgery"), start_worker=False) as running:
        yield running


@pytest.fixture
def browser(server: RunningServer) -> Iterator[httpx.Client]:
    """A signed-in client (the session cookie set), as a browser holding it would be."""
    with httpx.Client(base_url=server.url, headers={"accept": "application/json"}) as client:
        signed = client.post("/login", data={"key": server.training_key})
        assert signed.status_code == 303 and client.cookies.get("sightline_session")
        yield client


def _signed_in(client: httpx.Client) -> bool:
    return client.get("/", follow_redirects=False).status_code == 200


@pytest.mark.parametrize("headers", [{"origin": EVIL}, {"referer": f"{EVIL}/page.html"}])
def test_logout_from_another_site_is_refused(browser: httpx.Client, headers: dict):
    refused = browser.post("/logout", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "Forbidden"
    assert "set-cookie" not in refused.headers
    assert _signed_in(browser)


def test_logout_from_our_own_page_signs_out(browser: httpx.Client, server: RunningServer):
    answer = browser.post("/logout", headers={"origin": server.url})
    assert answer.status_code == 303
    assert not _signed_in(browser)


def test_a_form_with_no_origin_and_a_foreign_referer_is_refused(browser: httpx.Client, server: RunningServer):
    refused = browser.post("/projects", data={"name": "Sneaky"}, headers={"referer": f"{EVIL}/x"})
    assert refused.status_code == 403
    assert refused.json() == {"code": "Forbidden", "message": "this form was sent from another site"}
    assert all(p.name != "Sneaky" for p in projects.list_projects(server.ws))


def test_a_web_upload_over_the_api_batch_limit_is_refused_and_makes_no_tag(
    browser: httpx.Client, server: RunningServer
):
    project = projects.create_project(server.ws, "Uploads", domain="tiny")
    image = to_jpeg(make_image(["circle"], seed=1))
    files = [("files", (f"{i}.jpg", image, "image/jpeg")) for i in range(65)]
    answer = browser.post(
        f"/projects/{project.id}/images/upload",
        files=files,
        data={"new_tags": "brand-new"},
        headers={"origin": server.url},
    )
    assert answer.status_code == 400
    assert answer.json() == {"code": "BadRequestImageBatch", "message": "65 files in one upload; the limit is 64"}
    assert tags.list_tags(server.ws, project.id) == []


def test_a_web_upload_whose_every_file_is_refused_leaves_no_new_tag(browser: httpx.Client, server: RunningServer):
    project = projects.create_project(server.ws, "Refused", domain="tiny")
    kept = tags.create_tag(server.ws, project.id, "kept")

    def upload(*files: bytes, typed: str) -> list[str]:
        answer = browser.post(
            f"/projects/{project.id}/images/upload",
            files=[("files", (f"{i}.jpg", data, "image/jpeg")) for i, data in enumerate(files)],
            data={"new_tags": typed},
            headers={"origin": server.url},
        )
        assert answer.status_code == 200
        return [r["status"] for r in answer.json()["results"]]

    statuses = upload(b"not an image", b"", typed="mistake, kept")
    assert statuses and all(not s.startswith("OK") for s in statuses)
    assert [t.name for t in tags.list_tags(server.ws, project.id)] == ["kept"]  # made for nothing: gone again
    assert tags.get_tag(server.ws, project.id, kept.id).id == kept.id  # one that existed before stays

    statuses = upload(b"not an image", to_jpeg(make_image(["circle"], seed=2)), typed="circles")
    assert statuses[1] == "OK"
    assert {t.name: t.image_count for t in tags.list_tags(server.ws, project.id)} == {"circles": 1, "kept": 0}
