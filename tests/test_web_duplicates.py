"""The web UI says what the duplicate search found: label conflicts and test leaks on the Train page
(as warnings, linked) and on the performance page (the pairs, with thumbnails). Chromium, tiny project."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from api_server import RunningServer, sightline_server
from PIL import Image as PILImage
from shapes_project import shapes_project
from web_fixtures import screenshot

from sightline.service import Worker, images, iterations, training
from sightline.service.images import NewImage
from sightline.synthetic import make_image, to_jpeg

PER_KIND = 6


def _reencoded(kind: str, seed: int) -> bytes:
    """A project photo saved again (other bytes, the same picture): a near-duplicate of it."""
    out = io.BytesIO()
    with PILImage.open(io.BytesIO(to_jpeg(make_image([kind], seed=seed, size=128)))) as photo:
        photo.save(out, "JPEG", quality=70)
    return out.getvalue()


@dataclass(frozen=True)
class Trained:
    project_id: str
    iteration_id: str


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("web-duplicates"), start_worker=False) as running:
        yield running


@pytest.fixture(scope="module")
def trained(web_server: RunningServer) -> Trained:
    """circle-0 copied and tagged square (a label conflict); square-1 copied into the test set (a leak)."""
    ws = web_server.ws
    extra = [
        NewImage(_reencoded("circle", 0), name="mislabelled.jpg", tags=["square"]),
        NewImage(_reencoded("square", 101), name="leak.jpg", tags=["square"], test_set=True),
    ]
    project = shapes_project(ws, "Copies", PER_KIND, extra=extra)
    queued = training.start_training(ws, project.id)
    Worker(ws).run_once()
    assert iterations.get_iteration(ws, project.id, queued.id).status == "Completed"
    return Trained(project.id, queued.id)


def _load_images(page) -> None:
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.evaluate("window.scrollTo(0, 0)")


def test_the_train_page_warns_and_links_to_the_pairs(page, trained: Trained) -> None:
    page.goto(f"/projects/{trained.project_id}/train")
    warnings = page.locator("#result p.warn")
    assert warnings.count() == 2
    assert "1 pair of near-duplicate images carries different tags" in warnings.nth(0).inner_text()
    assert "1 test image nearly copies a training image" in warnings.nth(1).inner_text()
    screenshot(page, "train-duplicates")
    link = warnings.nth(0).get_by_role("link", name="See the pairs")
    assert (
        link.get_attribute("href")
        == f"/projects/{trained.project_id}/performance?iteration={trained.iteration_id}#duplicates"
    )


def test_the_performance_page_shows_each_pair_with_thumbnails(page, trained: Trained) -> None:
    # the first performance page of a process draws its charts with a cold matplotlib: slow on a loaded machine
    page.goto(f"/projects/{trained.project_id}/performance#duplicates", timeout=90_000)
    pairs = page.locator(".duplicate-pair")
    assert pairs.count() == 2
    conflict, leak = pairs.nth(0), pairs.nth(1)
    assert "Label conflict" in conflict.inner_text() and "Test leak" in leak.inner_text()
    assert sorted(conflict.locator("figcaption b").all_inner_texts()) == ["circle", "square"]
    assert "test set" in leak.locator("figure").nth(0).inner_text()
    assert pairs.locator("img").count() == 4
    _load_images(page)
    page.locator("#duplicates").scroll_into_view_if_needed()
    screenshot(page, "performance-duplicates")
    leak.locator("figure").nth(0).locator("a").click()  # the thumbnail opens the image, to move or delete it
    page.wait_for_url(f"**/projects/{trained.project_id}/images/*")


def test_the_gallery_shows_the_test_set_and_moves_images_both_ways(page, web_server, trained: Trained) -> None:
    ws = web_server.ws
    page.goto(f"/projects/{trained.project_id}/images?view=test")
    assert page.inner_text("#grid-heading").startswith("Test set")
    grid = page.locator("ul.thumbs li.thumb")
    assert grid.count() == 1
    screenshot(page, "images-test-set")
    leak = images.list_images(ws, trained.project_id, test_set=True)[0]
    page.check(f"#pick-{leak.id}")
    page.get_by_role("button", name="Move to training").click()
    assert "1 image moved to training." in page.inner_text("body")
    assert images.count_images(ws, trained.project_id, test_set=True) == 0
    assert page.locator("ul.thumbs li.thumb").count() == 0

    page.goto(f"/projects/{trained.project_id}/images")
    page.check(f"#pick-{leak.id}")
    page.get_by_role("button", name="Move to test set").click()
    assert "1 image moved to the test set." in page.inner_text("body")
    assert [i.id for i in images.list_images(ws, trained.project_id, test_set=True)] == [leak.id]


def test_the_mislabelled_view_ranks_and_retags_in_one_click(page, web_server, trained: Trained) -> None:
    page.goto(f"/projects/{trained.project_id}/images?view=mislabelled")
    suspects = page.locator("ol.suspects li")
    assert suspects.count() >= 1
    first = suspects.nth(0)
    assert "tagged square" in first.inner_text() and "probably circle" in first.inner_text()
    _load_images(page)
    screenshot(page, "images-mislabelled")
    before = suspects.count()
    first.get_by_role("button", name="Retag as circle").click()
    assert "Tag changed to 'circle'." in page.inner_text("body")
    assert page.locator("ol.suspects li").count() == before - 1  # fixed: no longer listed
    retagged = [
        i
        for i in images.list_images(web_server.ws, trained.project_id, take=100)
        if i.original_name == "mislabelled.jpg"
    ]
    assert [t.name for t in retagged[0].tags] == ["circle"]
