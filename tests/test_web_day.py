"""A shop owner's day in the browser alone, with the network cut off: every page at 1280 and 390 px.

Create a project, upload photos by drag-and-drop with a mistyped tag, fix it on the Tags page (rename one
mistake, delete another), train, read the result and the performance, quick test, review the queue by
keyboard ("none of these" included), publish, change the settings, and open the API page. Every request
to another host is refused (the app must work offline and load nothing from elsewhere); every page is
screenshot at both widths and none may scroll sideways on a phone.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from api_server import RunningServer, sightline_server
from playwright.sync_api import expect
from web_fixtures import DESKTOP, PHONE, screenshot

from sightline.service import images, iterations, predictions, projects, tags, thresholds
from sightline.synthetic import make_image, make_lens_cap_image, to_jpeg

KINDS = ["circle", "square", "triangle"]
PER_TAG = 6


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("web-day"), start_worker=True) as running:
        yield running


class Offline:
    """Refuses every request that leaves 127.0.0.1, and remembers what was asked for."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    def __call__(self, route) -> None:
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort("internetdisconnected")


def _no_sideways_scroll(page, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{name}: {width} px wide at {page.viewport_size['width']} px"


def visit(page, name: str) -> None:
    """Screenshot the current page at 1280 and 390 px; on the phone nothing may stick out sideways."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => [...document.images].every(i => i.complete)")
    screenshot(page, f"day-{name}")
    page.set_viewport_size(PHONE)
    _no_sideways_scroll(page, name)
    page.set_viewport_size(DESKTOP)


def _drop(page, selector: str, files: list[tuple[str, bytes]]) -> None:
    """What dragging photos from the desktop onto the drop zone delivers.

    Waits for the drop hint that the page's script shows once it listens: a drop that arrives before
    (right after a navigation) is lost, and the Upload button then stops at the empty file field.
    """
    page.wait_for_selector(f"{selector} .drop-hint", state="visible")
    encoded = [(name, base64.b64encode(data).decode()) for name, data in files]
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, data] of files) {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name, { type: "image/jpeg" }));
            }
            return transfer;
        }""",
        encoded,
    )
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def _photos(kind: str, start: int) -> list[tuple[str, bytes]]:
    return [(f"{kind}-{s}.jpg", to_jpeg(make_image([kind], seed=s, size=96))) for s in range(start, start + PER_TAG)]


def test_a_day_without_a_terminal(page, web_server: RunningServer) -> None:
    ws = web_server.ws
    offline = Offline()
    page.context.route("**/*", offline)

    page.goto("/")
    visit(page, "projects-empty")
    page.fill("#name", "Shop")
    page.select_option("#domain", "tiny")
    page.click("text=Create project")
    (project,) = projects.list_projects(ws)
    pid = project.id

    for k, (kind, typed) in enumerate(zip(KINDS, ["circle", "square", "triangel"], strict=True)):
        _drop(page, "#dropzone", _photos(kind, 100 * k))
        page.fill("#new-tags", typed)  # the third one mistyped
        page.click("#upload-button")
        # 15 photos, one request each, with thumbnails: on a loaded 2-core CI machine this outlasts 15 s
        page.wait_for_selector("#upload-done:not([hidden])", timeout=60_000)
        assert page.locator("#upload-list li[data-state=done]").count() == PER_TAG
        assert page.input_value("#new-tags") == ""
    page.fill("#new-tag-name", "circel")  # a stray tag with no images
    page.click("text=Add tag")
    visit(page, "images")

    page.get_by_role("link", name="Tags", exact=True).click()
    visit(page, "tags")
    card = page.locator(f"#tag-{tags.get_tag(ws, pid, 'triangel').id}")
    card.get_by_label("Name").fill("triangle")
    card.get_by_role("button", name="Save").click()
    assert "renamed to 'triangle'" in page.inner_text(".notice")
    page.locator(f"#tag-{tags.get_tag(ws, pid, 'circel').id}").get_by_role("link", name="Delete").click()
    assert "No image carries this tag" in page.inner_text("#delete-impact")
    visit(page, "tag-delete")
    page.get_by_role("button", name="Delete tag").click()
    assert sorted(t.name for t in tags.list_tags(ws, pid)) == KINDS

    page.get_by_role("link", name="Train", exact=True).click()
    visit(page, "train-before")
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_selector("#result", timeout=120_000)  # the page follows the worker to the end
    assert "is trained" in page.inner_text("#result")
    visit(page, "train-done")
    (iteration,) = iterations.list_iterations(ws, pid)
    assert iteration.status == "Completed"

    page.get_by_role("link", name="See its performance").click()
    visit(page, "performance")
    page.locator("table.confusion a").first.click()
    visit(page, "confusion-cell")
    page.locator("ul.thumbs a").first.click()
    expect(page.locator("#back-link")).to_have_count(1)
    visit(page, "image")
    page.click("#back-link")
    assert "/performance/confusion" in page.url

    page.get_by_role("link", name="Performance", exact=True).click()
    page.get_by_label("circle", exact=True).fill("0.99")  # one tag made strict: a circle only when sure
    page.get_by_role("button", name="Save thresholds").click()
    assert "the next predictions use them" in page.inner_text(".notice")
    assert thresholds.get_thresholds(ws, pid, iteration.id).per_tag == {"circle": 0.99}
    visit(page, "thresholds-set")

    page.get_by_role("link", name="Quick test", exact=True).click()
    page.set_input_files(
        "#file", files=[{"name": "new.jpg", "mimeType": "image/jpeg", "buffer": _photos("square", 900)[0][1]}]
    )
    page.get_by_role("button", name="Test").click()
    visit(page, "quicktest")
    (tested,) = predictions.list_predictions(ws, pid)  # the quick test, stored: held to the thresholds just set
    held = {p.tag_name: p for p in tested.predictions}
    assert held["circle"].threshold == 0.99 and held["square"].threshold == 0.5
    assert held["circle"].above_threshold == (held["circle"].probability >= 0.99)
    assert page.get_attribute(".tag-bars li:has(.tag-name:text-is('circle'))", "title") == "threshold 0.99"
    predictions.predict(ws, pid, [to_jpeg(make_lens_cap_image(5))], iteration_id=iteration.id)

    page.get_by_role("link", name="Predictions", exact=True).click()
    visit(page, "predictions")
    page.keyboard.press("0")  # the lens-cap photo comes first: none of these
    page.wait_for_selector(".notice >> text=Added to the training set")
    assert any(t.type == "Negative" and t.image_count == 1 for t in tags.list_tags(ws, pid))
    page.wait_for_load_state("load")  # the notice shows before the page's script listens for keys
    with page.expect_navigation(timeout=60_000):  # accepting stores the photo: slow on a loaded 2-core machine
        page.keyboard.press("a")  # the quick-tested photo: accept
    page.wait_for_function("() => !document.querySelector('ul.queue')")
    assert len(predictions.list_predictions(ws, pid, reviewed=True)) == 2

    page.get_by_role("link", name="Publish", exact=True).click()
    page.fill(f"#name-{iteration.id}", "live")
    page.get_by_role("button", name=f"Publish {iteration.name}").click()
    assert "published as 'live'" in page.inner_text(".notice")
    visit(page, "publish")

    page.get_by_role("link", name="Settings", exact=True).click()
    page.fill("#threshold", "0.6")
    page.fill("#description", "the front window")
    page.get_by_role("button", name="Save settings").click()
    assert projects.get_project(ws, pid).threshold == 0.6
    visit(page, "settings")

    page.get_by_role("link", name="Images", exact=True).click()
    image = images.list_images(ws, pid, take=1)[0]
    page.goto(f"/projects/{pid}/images/{image.id}")
    visit(page, "image-detail")
    page.goto("/tagging")
    visit(page, "tagging")
    page.goto("/")
    visit(page, "projects")

    page.get_by_role("link", name="API").click()
    page.wait_for_selector(".swagger-ui .info .title", timeout=60_000)  # Swagger UI ran, from local assets
    assert "Sightline" in page.inner_text(".swagger-ui .info .title")
    visit(page, "docs")
    assert offline.refused == [], f"pages asked other hosts for {offline.refused}"
