"""The web UI's Train and Publish pages in Chromium: checks before training, live progress, cancel, publish."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from api_server import RunningServer, sightline_server
from shapes_project import shapes_project
from web_fixtures import open_page, screenshot, sign_in

from sightline.service import images, iterations, training
from sightline.service.images import NewImage
from sightline.synthetic import make_image, to_jpeg

KINDS = ["circle", "square", "triangle"]


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("web-training"), start_worker=True) as running:
        yield running


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """No worker: queued iterations stay queued, so cancelling one is certain."""
    with sightline_server(tmp_path_factory.mktemp("web-training-idle"), start_worker=False) as running:
        yield running


def _project(ws, name: str, per_tag: int) -> str:
    return shapes_project(ws, name, per_tag, size=96).id


def test_train_watch_progress_and_publish(page, web_server: RunningServer) -> None:
    ws = web_server.ws
    pid = _project(ws, "Shapes", per_tag=4)
    page.goto(f"/projects/{pid}/train")
    assert "at least 5 images" in page.inner_text(".problem")
    assert page.locator("form[action$='/train'] button").count() == 0
    screenshot(page, "train-not-ready")

    images.add_images(
        ws, pid, [NewImage(to_jpeg(make_image([k], seed=500 + i, size=96)), tags=[k]) for k in KINDS for i in range(4)]
    )
    page.reload()
    assert "fewer than 15 images" in page.inner_text(".warn")  # 3 tags x 8 images: trains, with a warning
    polls = []
    page.on("response", lambda r: "progress.json" in r.url and polls.append(r.status))
    page.get_by_role("button", name="Train", exact=True).click()
    assert "Iteration 1 queued" in page.inner_text(".notice")
    assert page.locator("#running progress").count() == 1
    screenshot(page, "train-running", phone=False)
    page.wait_for_selector("td .badge.good", timeout=180_000)  # the script reloads the page when training ends
    assert polls and set(polls) == {200}
    row = page.locator("tbody tr").first
    assert "Completed" in row.inner_text() and page.locator("#running").count() == 0
    link = row.get_by_role("link", name="Iteration 1")
    iteration = iterations.list_iterations(ws, pid)[0]
    assert link.get_attribute("href") == f"/projects/{pid}/performance?iteration={iteration.id}"
    assert "Nothing changed" in page.inner_text("main")  # so the button offers to train anyway
    screenshot(page, "train")

    page.get_by_role("link", name="Publish", exact=True).click()
    assert "not published" in page.inner_text("tbody")
    page.fill(f"#name-{iteration.id}", "bad name!")
    assert page.eval_on_selector(f"#name-{iteration.id}", "input => input.validity.valid") is False
    page.fill(f"#name-{iteration.id}", "shapes-v1")
    page.get_by_role("button", name="Publish Iteration 1").click()
    assert "published as 'shapes-v1'" in page.inner_text(".notice")
    url = f"{web_server.url}/customvision/v3.0/prediction/{pid}/classify/iterations/shapes-v1/image"
    assert page.inner_text(f"#url-{iteration.id}") == url
    assert f'"{pid}", "shapes-v1"' in page.inner_text(f"#python-{iteration.id}")
    assert web_server.prediction_key not in page.locator("main").inner_text()  # masked until asked for
    page.click(".key-reveal summary")
    assert page.inner_text("#prediction-key") == web_server.prediction_key

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click(f"button[data-copy='url-{iteration.id}']")
    assert page.evaluate("navigator.clipboard.readText()") == url
    page.click("button[data-copy='prediction-key']")
    assert page.evaluate("navigator.clipboard.readText()") == web_server.prediction_key
    screenshot(page, "publish")

    photo = to_jpeg(make_image(["square"], seed=999, size=96))
    answer = httpx.post(url, content=photo, headers={"Prediction-Key": web_server.prediction_key}, timeout=30)
    assert answer.status_code == 200 and {p["tagName"] for p in answer.json()["predictions"]} == set(KINDS)

    page.get_by_role("button", name="Unpublish Iteration 1").click()
    assert "unpublished" in page.inner_text(".notice")
    assert iterations.get_iteration(ws, pid, iteration.id).publish_name is None


def test_cancel_a_queued_iteration_and_read_without_javascript(browser, idle_server: RunningServer) -> None:
    pid = _project(idle_server.ws, "Queue", per_tag=5)
    context, page, errors = open_page(browser, idle_server.url)
    sign_in(page, idle_server.training_key)
    page.goto(f"/projects/{pid}/train")
    page.get_by_role("button", name="Train", exact=True).click()
    assert "queued" in page.inner_text("#running h2")
    state = page.request.get(
        f"/projects/{pid}/iterations/{iterations.list_iterations(idle_server.ws, pid)[0].id}/progress.json"
    )
    assert state.json()["status"] == "Queued" and state.json()["running"] is True
    page.get_by_role("button", name="Cancel training").click()
    notice = page.inner_text(".notice")  # the page's poll may have seen the worker-less cancel finish first
    assert "Cancelling Iteration 1" in notice or "Iteration 1 cancelled" in notice
    assert "Cancelled" in page.locator("tbody tr").first.inner_text()
    context.close()
    assert errors == []

    training.start_training(idle_server.ws, pid)  # queued, and stays so: the page refreshes itself without a script
    context, page, errors = open_page(browser, idle_server.url, javascript=False)
    sign_in(page, idle_server.training_key)
    page.goto(f"/projects/{pid}/train")
    assert page.locator("noscript meta[http-equiv=refresh]").count() == 1
    assert [r.inner_text().split("\t")[0] for r in page.locator("tbody tr").all()] == ["Iteration 2", "Iteration 1"]
    screenshot(page, "train-nojs", phone=False)
    page.goto(f"/projects/{pid}/publish")
    assert "No trained iteration yet" in page.inner_text("main")
    page.click(".key-reveal summary")  # <details> opens without a script
    assert page.inner_text("#prediction-key") == idle_server.prediction_key
    assert page.locator("button.copy:visible").count() == 0  # no script, no copy buttons
    context.close()
    assert errors == []
