"""The Train page's Advanced choice: fine-tune the backbone, then read whether it helped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_server import RunningServer, sightline_server
from web_fixtures import screenshot

from sightline.service import images, iterations, projects, tags
from sightline.service.images import NewImage
from sightline.synthetic import single_label_dataset

KINDS = ["circle", "square", "triangle"]


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("web-advanced")
    with sightline_server(folder, start_worker=True, backbones=["tiny-lite", "tiny"]) as running:
        yield running


def _project(ws, name: str, domain: str) -> str:
    project = projects.create_project(ws, name, domain=domain)
    for kind in KINDS:
        tags.create_tag(ws, project.id, kind)
    photos, labels = single_label_dataset(8, KINDS, seed=11)
    images.add_images(ws, project.id, [NewImage(p, tags=[t]) for p, t in zip(photos, labels, strict=True)])
    return project.id


def test_advanced_training_from_the_train_page(page, web_server: RunningServer, monkeypatch) -> None:
    monkeypatch.setenv("SIGHTLINE_THREADS", "1")  # the server's worker thread fine-tunes in this process
    pid = _project(web_server.ws, "Lite", "tiny-lite")
    page.goto(f"/projects/{pid}/train")
    page.select_option("select[name=training_type]", "Advanced")
    page.fill("input[name=budget_minutes]", "5")
    screenshot(page, "train-advanced-choice", phone=False)
    page.get_by_role("button", name="Train", exact=True).click()
    assert "Iteration 1 queued" in page.inner_text(".notice")
    page.wait_for_selector("td .badge.good", timeout=600_000)
    iteration = iterations.list_iterations(web_server.ws, pid)[0]
    assert iteration.options["trainingType"] == "Advanced" and iteration.options["budgetSeconds"] == 300
    result = page.inner_text("#fine-tune-result")
    assert result.startswith("Advanced training: on ") and "stopped by" in result
    screenshot(page, "train-advanced-result")


def test_the_choice_is_offered_only_where_the_backbone_can_be_fine_tuned(page, web_server: RunningServer) -> None:
    pid = _project(web_server.ws, "Clip", "tiny")
    page.goto(f"/projects/{pid}/train")
    assert page.get_by_role("button", name="Train", exact=True).count() == 1
    assert page.locator("select[name=training_type]").count() == 0
