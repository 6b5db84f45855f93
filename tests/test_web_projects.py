"""The web UI's projects page and its guard rails, in Chromium: sign-in, create, delete, errors, no JavaScript."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from api_server import RunningServer, sightline_server
from web_fixtures import open_page, screenshot, sign_in

from sightline.service import projects


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("web-projects"), start_worker=False) as running:
        yield running


def test_pages_need_the_training_key(browser, web_server: RunningServer) -> None:
    context, page, errors = open_page(browser, web_server.url)
    page.goto("/")
    assert page.url.endswith("/login?next=%2F")
    page.fill("#key", "not-the-key")
    with page.expect_response(lambda r: r.url.endswith("/login")) as refused:
        page.get_by_role("button", name="Sign in").click()
    assert refused.value.status == 401
    assert "not the training key" in page.inner_text("main")
    page.fill("#key", web_server.training_key)
    page.get_by_role("button", name="Sign in").click()
    assert page.inner_text("h1") == "Projects"
    context.close()
    assert [e for e in errors if "401" not in e] == []  # the refused sign-in is the only failed request


def test_create_and_delete_a_project(page, web_server: RunningServer) -> None:
    page.goto("/")
    assert "No projects yet" in page.inner_text("main")
    page.fill("#name", "Leaf disease")
    page.check("input[value=Multilabel]")
    page.select_option("#domain", "tiny")
    screenshot(page, "projects-new")
    page.click("text=Create project")
    assert "/projects/" in page.url and "created" in page.inner_text(".notice")
    page.goto("/")
    row = page.locator("tr", has_text="Leaf disease")
    assert "Multilabel" in row.inner_text() and "tiny" in row.inner_text()
    screenshot(page, "projects")

    page.fill("#name", "Leaf disease")  # the same name again: refused on the same page, nothing lost
    page.click("text=Create project")
    assert "already exists" in page.inner_text(".problem")
    assert len(projects.list_projects(web_server.ws)) == 1

    row.get_by_role("link", name="Delete").click()
    page.fill("#confirm", "wrong name")
    page.click("text=Delete project")
    assert "does not match" in page.inner_text(".problem")
    page.fill("#confirm", "Leaf disease")
    page.click("text=Delete project")
    assert "deleted" in page.inner_text(".notice")
    assert projects.list_projects(web_server.ws) == []


def test_lists_read_without_javascript(browser, web_server: RunningServer) -> None:
    projects.create_project(web_server.ws, "Parts", domain="tiny")
    context, page, errors = open_page(browser, web_server.url, javascript=False)
    sign_in(page, web_server.training_key)
    assert "Parts" in page.locator("table").inner_text()
    context.close()
    assert errors == []


def test_unknown_pages_and_foreign_forms_are_refused_as_pages(browser, web_server: RunningServer) -> None:
    context, page, _ = open_page(browser, web_server.url)  # the 404 itself is a console error here
    sign_in(page, web_server.training_key)
    response = page.goto("/projects/no-such-project/delete")
    assert response.status == 404
    assert page.inner_text("h1") == "Not found"
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    context.close()
    foreign = httpx.post(
        f"{web_server.url}/projects",
        data={"name": "Sneaky"},
        cookies=cookies,
        headers={"origin": "https://evil.example", "accept": "text/html"},
    )
    assert foreign.status_code == 403
    assert all(p.name != "Sneaky" for p in projects.list_projects(web_server.ws))


def test_api_errors_stay_json(web_server: RunningServer) -> None:
    response = httpx.get(f"{web_server.url}/customvision/v3.3/training/projects", headers={"accept": "text/html"})
    assert response.status_code == 401
    assert response.json()["code"] == "Unauthorized"
