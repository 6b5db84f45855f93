"""Managing a project in the browser: a mistyped tag renamed, merged or deleted (said first), and settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_server import RunningServer, sightline_server
from web_fixtures import screenshot

from sightline.service import images, projects, tags
from sightline.service.images import NewImage
from sightline.synthetic import make_image, to_jpeg


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("web-manage"), start_worker=False, backbones=["tiny", "tiny:1"]) as s:
        yield s


def _project(ws, name: str, per_tag: dict[str, int]) -> str:
    project = projects.create_project(ws, name, domain="tiny")
    seed = 0
    for tag, count in per_tag.items():
        tags.create_tag(ws, project.id, tag)
        photos = [NewImage(to_jpeg(make_image(["circle"], seed=(seed := seed + 1), size=64))) for _ in range(count)]
        images.add_images(ws, project.id, photos, tags=[tag])
    return project.id


def _counts(ws, project_id: str) -> dict[str, int]:
    return {t.name: t.image_count for t in tags.list_tags(ws, project_id)}


def test_a_mistyped_tag_is_renamed_merged_and_deleted(page, web_server: RunningServer) -> None:
    ws = web_server.ws
    project_id = _project(ws, "Shoes", {"boots": 3, "sandals": 2, "shoees": 1, "sandles": 1})
    page.goto(f"/projects/{project_id}/images")
    page.get_by_role("link", name="Tags", exact=True).click()
    assert "too few to train" in page.inner_text(f"#tag-{tags.get_tag(ws, project_id, 'shoees').id}")
    screenshot(page, "tags")

    card = page.locator(f"#tag-{tags.get_tag(ws, project_id, 'sandles').id}")
    card.get_by_label("Name").fill("sneakers")
    card.get_by_label("Description").fill("sports shoes")
    card.get_by_role("button", name="Save").click()
    assert "renamed to 'sneakers'" in page.inner_text(".notice")
    assert tags.get_tag(ws, project_id, "sneakers").description == "sports shoes"

    card = page.locator(f"#tag-{tags.get_tag(ws, project_id, 'sneakers').id}")
    card.get_by_label("Merge into").select_option(label="sandals")
    card.get_by_role("button", name="Merge").click()
    assert "it now has 3 images" in page.inner_text(".notice")
    assert _counts(ws, project_id) == {"boots": 3, "sandals": 3, "shoees": 1}

    shoees = tags.get_tag(ws, project_id, "shoees")
    page.locator(f"#tag-{shoees.id}").get_by_role("link", name="Delete").click()
    impact = page.inner_text("#delete-impact")
    assert "1 image carry this tag" in impact and "1 of them will have no tag left" in impact
    assert "No image is deleted" in impact
    screenshot(page, "tag-delete")
    page.get_by_role("button", name="Delete tag").click()
    assert "Its 1 images stay" in page.inner_text(".notice")
    assert _counts(ws, project_id) == {"boots": 3, "sandals": 3}
    assert images.count_images(ws, project_id) == 7 and images.count_images(ws, project_id, tagged=False) == 1

    card = page.locator(f"#tag-{tags.get_tag(ws, project_id, 'boots').id}")
    card.get_by_label("Name").fill("Sandals")  # a name another tag has: refused in place, nothing changed
    card.get_by_role("button", name="Save").click()
    assert "already has a tag called 'Sandals'" in page.inner_text(".problem")
    assert _counts(ws, project_id) == {"boots": 3, "sandals": 3}


def test_settings_change_name_threshold_and_domain(page, web_server: RunningServer) -> None:
    ws = web_server.ws
    project_id = _project(ws, "Parts", {"bolt": 1})
    page.goto(f"/projects/{project_id}/settings")
    assert "embedded again" in page.inner_text("#domain-warning")  # said before the change, not after
    screenshot(page, "settings")
    page.fill("#name", "Spare parts")
    page.fill("#description", "the back shelf")
    page.fill("#threshold", "0.7")
    page.select_option("#domain", "tiny:1")
    page.fill("#group_key", "item")
    page.get_by_role("button", name="Save settings").click(timeout=120_000)  # builds tiny:1 (random weights) once
    assert "every image is embedded again" in page.inner_text(".notice")
    view = projects.get_project(ws, project_id)
    assert (view.name, view.description, view.threshold, view.domain) == (
        "Spare parts",
        "the back shelf",
        0.7,
        "tiny:1",
    )
    assert view.group_key == "item"
    assert "Spare parts" in page.inner_text(".project-title")

    page.wait_for_selector(".notice", timeout=120_000)
    page.fill("#threshold", "1.5")
    page.get_by_role("button", name="Save settings").click()  # the browser's own check stops it first
    assert projects.get_project(ws, project_id).threshold == 0.7
