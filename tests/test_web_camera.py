"""Camera capture on the upload and quick-test pages, in Chromium with its fake camera (a moving test pattern).

`--use-fake-device-for-media-stream` gives Chromium a camera, `--use-fake-ui-for-media-stream` answers its
permission prompt with yes. Without a camera, or with permission refused, the page says so in a sentence.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_server import RunningServer, sightline_server
from playwright.sync_api import expect
from shapes_project import shapes_project
from web_fixtures import launch_chromium, open_page, screenshot, sign_in

from sightline.service import Worker, iterations, predictions, tags, training

FAKE_CAMERA = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")


@pytest.fixture(scope="module")
def camera_browser(playwright_driver) -> Iterator[object]:
    launched = launch_chromium(playwright_driver, FAKE_CAMERA)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("web-camera"), start_worker=False) as running:
        yield running


@pytest.fixture(scope="module")
def project_id(web_server: RunningServer) -> str:
    project = shapes_project(web_server.ws, "Camera", 6)
    training.start_training(web_server.ws, project.id)
    Worker(web_server.ws).run_once()
    assert iterations.completed_iterations(web_server.ws, project.id)
    return project.id


@pytest.fixture
def page(camera_browser, web_server: RunningServer):
    context, opened, errors = open_page(camera_browser, web_server.url)
    sign_in(opened, web_server.training_key)
    yield opened
    context.close()
    assert not errors, "the browser reported errors:\n" + "\n".join(errors)


def test_a_burst_of_camera_photos_uploads_into_a_chosen_tag(page, web_server: RunningServer, project_id: str):
    ws = web_server.ws
    page.goto(f"/projects/{project_id}/images")
    page.get_by_role("button", name="Use the camera").click()
    page.wait_for_function("() => document.querySelector('[data-camera] video').videoWidth > 0")
    page.get_by_role("button", name="Take photo").click()
    page.wait_for_function("() => document.getElementById('files').files.length === 1")
    page.get_by_role("button", name="Take 5").click()
    page.wait_for_function("() => document.getElementById('files').files.length === 6", timeout=15_000)
    assert "6 photos taken" in page.inner_text("[data-camera-status]")
    screenshot(page, "camera-upload")
    page.fill("#new-tags", "pattern")
    page.click("#upload-button")
    page.wait_for_selector("#upload-done:not([hidden])")
    states = page.locator("#upload-list li").evaluate_all("items => items.map(i => i.dataset.state)")
    assert states.count("done") >= 1 and len(states) == 6  # the fake camera's frames may repeat: duplicates
    pattern = next(t for t in tags.list_tags(ws, project_id) if t.name == "pattern")
    assert pattern.image_count >= 1
    assert page.evaluate("() => document.querySelector('[data-camera] video').srcObject") is None  # camera off


def test_a_camera_photo_is_quick_tested(page, web_server: RunningServer, project_id: str):
    page.goto(f"/projects/{project_id}/quicktest")
    page.get_by_role("button", name="Use the camera").click()
    page.wait_for_function("() => document.querySelector('[data-camera] video').videoWidth > 0")
    page.get_by_role("button", name="Take photo").click()
    page.wait_for_selector("[data-drop-zone] img.drop-preview")  # shown as the chosen image
    assert page.inner_text("[data-camera-status]") == "Photo taken: it is the image to send."
    screenshot(page, "camera-quicktest")
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator(".tag-bars li")).to_have_count(3)  # the answer page, not the one the click leaves
    (stored,) = predictions.list_predictions(web_server.ws, project_id)
    assert {p.tag_name for p in stored.predictions} == {"circle", "square", "triangle"}


@pytest.mark.parametrize(
    ("script", "said"),
    [
        (
            "navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('no', 'NotAllowedError'))",
            "The camera was not allowed",
        ),
        (
            "navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('no', 'NotFoundError'))",
            "No camera was found",
        ),
        ("Object.defineProperty(navigator, 'mediaDevices', {value: undefined})", "offers no camera access"),
    ],
)
def test_no_camera_or_no_permission_is_said_in_words(page, project_id: str, script: str, said: str):
    page.add_init_script(script)
    page.goto(f"/projects/{project_id}/quicktest")
    page.get_by_role("button", name="Use the camera").click()
    page.wait_for_function("() => document.querySelector('[data-camera-status]').textContent.includes('instead')")
    assert said in page.inner_text("[data-camera-status]")
    assert page.locator("#file").is_visible()  # the file chooser still works
