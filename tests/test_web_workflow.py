"""The whole Custom Vision workflow in one browser session, as a user clicks through it.

Create a project, upload photos with tags, train and watch the progress finish, read the
performance and move the threshold slider, quick test a photo, publish, and review the stored
prediction into the training set. Each page's own details are tested in the other test_web_* files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_server import RunningServer, sightline_server
from playwright.sync_api import expect

from sightline.service import images, iterations, predictions, projects
from sightline.synthetic import make_image, to_jpeg

KINDS = ["circle", "square", "triangle"]
PER_TAG = 6


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("web-workflow"), start_worker=True) as running:
        yield running


def _photos(folder: Path, kind: str, seeds: range) -> list[str]:
    paths = []
    for seed in seeds:
        path = folder / f"{kind}-{seed}.jpg"
        path.write_bytes(to_jpeg(make_image([kind], seed=seed, size=96)))
        paths.append(str(path))
    return paths


def _figure(page, name: str) -> str:
    return page.inner_text(f'[data-figure="{name}"]')


def test_the_whole_workflow_in_the_browser(page, web_server: RunningServer, tmp_path: Path) -> None:
    ws = web_server.ws
    page.goto("/")
    page.fill("#name", "Workflow")
    page.select_option("#domain", "tiny")
    page.click("text=Create project")
    (project,) = projects.list_projects(ws)
    assert page.url.startswith(f"{web_server.url}/projects/{project.id}/images")

    for k, kind in enumerate(KINDS):  # one upload per tag, the tag typed as a new one
        page.goto(f"/projects/{project.id}/images")
        page.fill("#new-tags", kind)
        page.set_input_files("#files", _photos(tmp_path, kind, range(100 * k, 100 * k + PER_TAG)))
        page.click("#upload-button")
        page.wait_for_selector("#upload-done:not([hidden])")
        assert page.locator("#upload-list li[data-state=done]").count() == PER_TAG
    assert images.count_images(ws, project.id, tagged=True) == PER_TAG * len(KINDS)

    page.get_by_role("link", name="Train", exact=True).click()
    assert "fewer than 15 images" in page.inner_text(".warn")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.locator("#running progress")).to_have_count(1)  # the page after the post, not the one it leaves
    page.wait_for_selector("td .badge.good", timeout=90_000)  # the page follows the worker to Completed
    (iteration,) = iterations.list_iterations(ws, project.id)
    assert iteration.status == "Completed"

    page.get_by_role("link", name="Performance", exact=True).click()
    before = (_figure(page, "precision"), _figure(page, "recall"))
    with page.expect_response(lambda r: "/performance.json" in r.url):
        page.locator("#threshold-slider").fill("0.95")
    page.wait_for_function(
        "([p, r]) => document.querySelector('[data-figure=precision]').textContent !== p"
        " || document.querySelector('[data-figure=recall]').textContent !== r",
        arg=list(before),
    )

    page.get_by_role("link", name="Quick test", exact=True).click()
    photo = to_jpeg(make_image(["triangle"], seed=4_321, size=96))
    page.set_input_files("#file", files=[{"name": "new.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    page.get_by_role("button", name="Test").click()
    expect(page.locator(".tag-bars li")).to_have_count(len(KINDS))
    (stored,) = predictions.list_predictions(ws, project.id)

    page.get_by_role("link", name="Publish", exact=True).click()
    page.fill(f"#name-{iteration.id}", "live")
    page.get_by_role("button", name=f"Publish {iteration.name}").click()
    assert "published as 'live'" in page.inner_text(".notice")
    assert iterations.get_iteration(ws, project.id, iteration.id).publish_name == "live"

    page.get_by_role("link", name="Predictions", exact=True).click()
    item = page.locator(f"#prediction-{stored.id}")
    item.locator("details").evaluate("d => { d.open = true; }")  # open, whether or not it was
    item.get_by_label("triangle").check()
    item.get_by_role("button", name="Add to training set").click()
    assert "Added to the training set" in page.inner_text(".notice")
    assert images.count_images(ws, project.id) == PER_TAG * len(KINDS) + 1
    assert predictions.get_prediction(ws, project.id, stored.id).reviewed
