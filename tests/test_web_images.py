"""The web UI's Images page in Chromium: upload (file input and drag-and-drop), filters, bulk actions, detail, no JS."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_server import RunningServer, sightline_server
from web_fixtures import open_page, screenshot, sign_in

from sightline.service import images, projects, tags
from sightline.service.images import NewImage
from sightline.synthetic import make_image, to_jpeg


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("web-images"), start_worker=False) as running:
        yield running


def _jpeg(kind: str, seed: int) -> bytes:
    return to_jpeg(make_image([kind], seed, size=96))


def _write(folder: Path, kind: str, seeds: range) -> list[Path]:
    paths = []
    for seed in seeds:
        path = folder / f"{kind}-{seed}.jpg"
        path.write_bytes(_jpeg(kind, seed))
        paths.append(path)
    return paths


def _upload_states(page) -> dict[str, str]:
    """Once every file's request has answered: {file name: "done" | "failed"}."""
    page.wait_for_selector("#upload-done:not([hidden])")
    rows = page.locator("#upload-list li")
    return {
        rows.nth(i).locator(".name").inner_text(): rows.nth(i).get_attribute("data-state") for i in range(rows.count())
    }


def _thumb_count(page) -> int:
    return page.locator(".thumbs .thumb").count()


def _select(page, count: int | None = None) -> None:
    """Tick the first `count` images of the grid, or all of them with "Select all"."""
    if count is None:
        page.check("#select-all")
    else:
        for i in range(count):
            page.locator(".thumbs .pick").nth(i).check()


def test_upload_filter_and_bulk_actions(page, web_server: RunningServer, tmp_path: Path) -> None:
    project = projects.create_project(web_server.ws, "Shapes", classification_type="Multiclass", domain="tiny")
    circle = tags.create_tag(web_server.ws, project.id, "circle")
    page.goto(f"/projects/{project.id}/images")
    assert "No images yet" in page.inner_text("main")
    screenshot(page, "images-empty")

    # Four photos and a text file through the file input, with an existing tag chosen first.
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    page.set_input_files("#files", [*_write(tmp_path, "circle", range(4)), notes])
    page.check(f"input[name=tag][value='{circle.id}']")
    page.click("#upload-button")
    states = _upload_states(page)
    assert states == {**{f"circle-{i}.jpg": "done" for i in range(4)}, "notes.txt": "failed"}
    failed = page.locator("#upload-list li[data-state=failed] .status").inner_text()
    assert "not a recognisable image" in failed
    assert page.locator("#upload-list li[data-state=failed] progress").count() == 0  # no full bar for a refusal
    assert "No images yet" not in page.inner_text("main") and _thumb_count(page) == 4  # the grid follows at once
    assert "4 of 5 uploaded" in page.inner_text("#upload-done")
    screenshot(page, "images-upload")

    # Two more by drag-and-drop, with a tag name that does not exist yet.
    files = [(f"square-{i}.jpg", base64.b64encode(_jpeg("square", i)).decode()) for i in range(2)]
    dropped = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, data] of files) {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name, { type: "image/jpeg" }));
            }
            return transfer;
        }""",
        files,
    )
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": dropped})
    assert page.eval_on_selector("#files", "input => input.files.length") == 2
    page.fill("#new-tags", "square")
    page.click("#upload-button")  # "circle" is still ticked: the Multiclass rule refuses each file
    assert set(_upload_states(page).values()) == {"failed"}
    assert "one tag per image" in page.locator("#upload-list .status").first.inner_text()
    # every file refused: no "square" tag was made, and the name stays typed for the next try
    assert "square" not in {t.name for t in tags.list_tags(web_server.ws, project.id)}
    assert page.input_value("#new-tags") == "square"
    assert page.is_checked(f"input[name=tag][value='{circle.id}']")  # what was ticked stays ticked
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": dropped})
    page.uncheck(f"input[name=tag][value='{circle.id}']")
    page.click("#upload-button")
    assert set(_upload_states(page).values()) == {"done"}
    assert page.input_value("#new-tags") == ""  # the next batch starts clean; "square" is now a tag to tick
    square = tags.get_tag(web_server.ws, project.id, "square")
    assert not page.is_checked(f"input[name=tag][value='{square.id}']")
    page.click("#upload-done a")
    assert _thumb_count(page) == 6
    page.wait_for_function(
        "[...document.querySelectorAll('.thumb img')].every((i) => i.complete && i.naturalWidth > 0)"
    )

    # Filters are plain links: by tag, tagged, untagged.
    page.locator(".image-filters").get_by_role("link", name="square").click()
    assert _thumb_count(page) == 2 and "Tagged “square”" in page.inner_text("h2#grid-heading")
    page.click(".image-filters a[href$='tagged=false']")
    assert "No images here" in page.inner_text("main")

    # Two untagged images, then tag them all at once with "Select all".
    images.add_images(
        web_server.ws, project.id, [NewImage(_jpeg("circle", 10 + i), name=f"new-{i}.jpg") for i in range(2)]
    )
    page.reload()
    assert _thumb_count(page) == 2
    _select(page)
    assert page.inner_text("#selected-count") == "2 selected"
    page.select_option("#bulk-tag", circle.id)
    page.click("button[value=tag]")
    assert "Tag added to 2 images" in page.inner_text(".notice")
    assert "No images here" in page.inner_text("main")
    assert tags.get_tag(web_server.ws, project.id, circle.id).image_count == 6

    # Untag two of the circles; the Multiclass rule (one tag per image) comes back as a problem.
    page.goto(f"/projects/{project.id}/images?tag={circle.id}")
    _select(page, 2)
    page.select_option("#bulk-tag", circle.id)
    page.click("button[value=untag]")
    assert "Tag removed from 2 images" in page.inner_text(".notice")
    assert images.count_images(web_server.ws, project.id, tagged=False) == 2
    page.goto(f"/projects/{project.id}/images?tag={square.id}")
    _select(page, 1)
    page.select_option("#bulk-tag", circle.id)
    page.click("button[value=tag]")
    assert "one tag per image" in page.inner_text(".problem")
    screenshot(page, "images-grid")

    # Delete the untagged ones, after confirming.
    page.goto(f"/projects/{project.id}/images?tagged=false")
    _select(page)
    page.click("button[value=delete]")
    assert page.inner_text("h1") == "Delete 2 images?"
    screenshot(page, "images-delete")
    page.click("button.danger")
    assert "2 images deleted" in page.inner_text(".notice")
    assert images.count_images(web_server.ws, project.id) == 6


def test_new_tags_and_tag_rules_on_the_tag_form(page, web_server: RunningServer) -> None:
    project = projects.create_project(web_server.ws, "Tag form", domain="tiny")
    page.goto(f"/projects/{project.id}/images")
    page.fill("#new-tag-name", "Nothing")
    page.select_option("#new-tag-type", "Negative")
    page.click("text=Add tag")
    assert "Tag 'Nothing' (Negative) added" in page.inner_text(".notice")
    assert "Negative" in page.locator(".image-filters").inner_text()
    page.fill("#new-tag-name", "nothing")  # tag names are unique ignoring case
    page.click("text=Add tag")
    assert "already has a tag" in page.inner_text(".problem")


def test_image_detail_tags_and_metadata(page, web_server: RunningServer) -> None:
    project = projects.create_project(web_server.ws, "Detail", classification_type="Multilabel", domain="tiny")
    (added,) = images.add_images(web_server.ws, project.id, [NewImage(_jpeg("star", 1), name="star.jpg")])
    image_id = added.image.id
    page.goto(f"/projects/{project.id}/images")
    page.locator(".thumb a").first.click()
    assert page.inner_text("h1") == "star.jpg"
    assert "Untagged" in page.inner_text("main")
    page.wait_for_function("document.querySelector('.picture img').naturalWidth === 96")

    page.fill("#add-new-tag", "star")
    page.get_by_role("button", name="Add", exact=True).click()
    assert "Tag added" in page.inner_text(".notice")
    page.fill("#add-new-tag", "yellow")
    page.get_by_role("button", name="Add", exact=True).click()
    assert {t.name for t in images.get_images(web_server.ws, project.id, [image_id])[0].tags} == {"star", "yellow"}

    page.fill("#meta-new-key", "camera")
    page.fill("#meta-new-value", "A7")
    page.click("text=Save metadata")
    assert "Metadata saved" in page.inner_text(".notice")
    page.get_by_label("Value of camera").fill("A7 III")
    page.fill("#meta-new-key", "site")
    page.fill("#meta-new-value", "north field")
    page.click("text=Save metadata")
    metadata = images.get_images(web_server.ws, project.id, [image_id])[0].metadata
    assert metadata == {"camera": "A7 III", "site": "north field"}
    page.fill("#meta-new-key", "k" * 128)  # the input's maxlength keeps keys within Custom Vision's limit
    assert len(page.input_value("#meta-new-key")) == 128

    page.get_by_role("button", name="Remove tag yellow").click()
    assert [t.name for t in images.get_images(web_server.ws, project.id, [image_id])[0].tags] == ["star"]
    screenshot(page, "image-detail")

    response = page.request.get(f"/projects/{project.id}/images/{image_id}/thumbnail")
    assert response.headers["content-type"] == "image/jpeg" and "private" in response.headers["cache-control"]
    response = page.request.get(f"/projects/{project.id}/images/no-such-image", headers={"accept": "text/html"})
    assert response.status == 404 and "Not found" in response.text()


def test_grid_reads_and_pages_without_javascript(browser, web_server: RunningServer) -> None:
    project = projects.create_project(web_server.ws, "Many", domain="tiny")
    tags.create_tag(web_server.ws, project.id, "circle")
    batch = [NewImage(_jpeg("circle", 100 + i), name=f"c{i}.jpg", tags=["circle"]) for i in range(62)]
    images.add_images(web_server.ws, project.id, batch)
    context, page, errors = open_page(browser, web_server.url, javascript=False)
    sign_in(page, web_server.training_key)
    page.goto(f"/projects/{project.id}/images")
    assert _thumb_count(page) == 60 and "Page 1 of 2" in page.inner_text(".pager")
    assert page.locator("#select-all").is_hidden() and page.locator(".drop-hint").is_hidden()
    page.get_by_role("link", name="Next →").click()
    assert _thumb_count(page) == 2 and "page=2" in page.url
    page.click(".image-filters a[href$='tagged=true']")
    assert "(62)" in page.inner_text("h2#grid-heading")
    screenshot(page, "images-nojs", phone=False)

    # The plain multipart form uploads without the script, and says what it refused.
    page.goto(f"/projects/{project.id}/images?tagged=false")
    page.set_input_files(
        "#files",
        [
            {"name": "one.jpg", "mimeType": "image/jpeg", "buffer": _jpeg("square", 1)},
            {"name": "bad.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8 truncated"},
        ],
    )
    page.click("#upload-button")
    assert "1 image added" in page.inner_text(".notice") and "bad.jpg" in page.inner_text(".problem")
    context.close()
    assert errors == []


def test_image_pages_need_sign_in(web_server: RunningServer) -> None:
    project = projects.create_project(web_server.ws, "Private", domain="tiny")
    response = httpx.get(f"{web_server.url}/projects/{project.id}/images", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
