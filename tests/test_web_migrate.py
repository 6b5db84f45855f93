"""The web UI's "Copy from Azure" form, in Chromium, against a second server acting as the Azure source."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from api_server import RunningServer, sightline_server
from web_fixtures import screenshot

from sightline.service import Worker, images, iterations, projects, tags, training
from sightline.service.images import NewImage
from sightline.synthetic import make_image, to_jpeg


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("web-migrate-source"), start_worker=False) as running:
        ws = running.ws
        project = projects.create_project(ws, "Parts", domain="tiny")
        for seed, name in ((80_000, "circle"), (81_000, "square")):
            tag = tags.create_tag(ws, project.id, name)
            new = [NewImage(to_jpeg(make_image([name], seed=seed + i)), tags=[tag.id]) for i in range(5)]
            assert all(r.ok for r in images.add_images(ws, project.id, new))
        projects.create_project(ws, "Not this one", domain="tiny")
        yield running


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("web-migrate"), start_worker=False) as running:
        yield running


def _submit(page, endpoint: str, key: str, names: str = "", *, train: bool = False) -> None:
    page.fill("#endpoint", endpoint)
    page.fill("#training_key", key)
    page.fill("#projects", names)
    if train:
        page.check("input[name=train]")
    page.click("text=Copy from Azure")


def test_the_form_copies_a_project_and_says_what_is_wrong_in_one_line(
    page, web_server: RunningServer, source: RunningServer
) -> None:
    page.goto("/")
    page.click("text=Copy your projects from Azure")
    assert page.inner_text("h1") == "Copy projects from Azure Custom Vision"

    _submit(page, source.url, "not-the-key")
    assert "refused the training key" in page.inner_text(".problem")
    _submit(page, "http://127.0.0.1:9", "some-key")
    assert "cannot reach http://127.0.0.1:9" in page.inner_text(".problem")
    _submit(page, source.url, source.training_key, "Nope")
    assert "no project 'Nope' at the source" in page.inner_text(".problem")
    assert "Parts" not in [
        p.name for p in projects.list_projects(web_server.ws)
    ]  # nothing started, nothing half-written

    _submit(page, source.url, source.training_key, "Parts", train=True)
    assert "Copy 1 started: Parts" in page.inner_text(".notice")
    deadline = time.monotonic() + 120
    run = page.locator("[data-run='1']")
    while run.locator("[data-status]").first.inner_text() == "copying":
        assert time.monotonic() < deadline, run.inner_text()
        time.sleep(0.5)
        page.goto("/migrate")
    assert run.locator("[data-status]").first.inner_text() == "done", run.inner_text()
    line = run.locator("[data-project='Parts']").inner_text()
    assert "10 image(s) copied, 0 already here, 0 failed; training: Iteration 1" in line, line
    screenshot(page, "migrate")

    copied = projects.get_project(web_server.ws, "Parts")
    assert copied.image_count == 10 and copied.tag_count == 2 and copied.domain == "tiny"
    assert [i.status for i in iterations.list_iterations(web_server.ws, copied.id)] == ["Queued"]
    with pytest.raises(Exception, match="no project"):
        projects.get_project(web_server.ws, "Not this one")


def test_the_performance_page_shows_the_azure_baseline_beside_sightlines_figures(
    page, web_server: RunningServer
) -> None:
    ws = web_server.ws
    project = projects.create_project(ws, "Migrated", domain="tiny")
    for seed, name in ((82_000, "circle"), (83_000, "square")):
        tag = tags.create_tag(ws, project.id, name)
        new = [NewImage(to_jpeg(make_image([name], seed=seed + i)), tags=[tag.id]) for i in range(5)]
        assert all(r.ok for r in images.add_images(ws, project.id, new))
    baseline = [
        {"iteration": "Iteration 1", "publishName": None, "precision": 0.5, "recall": 0.5, "averagePrecision": 0.6},
        {
            "iteration": "Iteration 2",
            "publishName": "prod",
            "precision": 0.912,
            "recall": 0.88,
            "averagePrecision": 0.931,
        },
    ]
    projects.update_project(ws, project.id, settings={"azureBaseline": baseline})
    training.start_training(ws, project.id)
    while Worker(ws).run_once():  # this one and any other queued (the copy above queued one)
        pass
    assert iterations.list_iterations(ws, project.id)[-1].status == "Completed"

    page.goto(f"/projects/{project.id}/performance")
    assert page.locator("#overall").is_visible()  # Sightline's own figures ...
    shown = page.inner_text("#azure-baseline")  # ... and the published Azure iteration's beside them
    assert shown == 'Azure baseline (Iteration 2, published as "prod"): precision 91.2%, recall 88.0%, AP 93.1%'
