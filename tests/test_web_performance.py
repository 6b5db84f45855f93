"""The web UI's performance, quick test, review queue and tagging pages, in Chromium, on a trained tiny project."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from api_server import RunningServer, sightline_server, static_http_server
from playwright.sync_api import expect
from shapes_project import shapes_project
from web_fixtures import open_page, screenshot, sign_in

from sightline.errors import NotFoundError
from sightline.http.fetch import FetchPolicy
from sightline.reporting import performance as reporting
from sightline.reporting.reasons import describe_reason
from sightline.service import Worker, images, iterations, performance, predictions, projects, tags, training
from sightline.service.images import NewImage
from sightline.synthetic import make_image, make_lens_cap_image, make_unrelated_image, multi_label_dataset, to_jpeg
from sightline.tagging import Tagger

KINDS = ["circle", "square", "triangle"]
VOCABULARY = ["circle", "square", "shape", "stripes"]
PER_KIND = 8


@dataclass(frozen=True)
class Trained:
    project_id: str
    iteration_id: str


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tagger = Tagger("tiny", vocabulary=VOCABULARY, threshold=0.0)  # a small vocabulary builds in a moment
    tagger.tag([to_jpeg(make_image(["circle"], seed=0))])  # the model loads here, not under a browser's timeout
    folder = tmp_path_factory.mktemp("web-performance")
    with sightline_server(
        folder, start_worker=False, tagger=tagger, fetch_policy=FetchPolicy(allow_private=True)
    ) as running:
        yield running


@pytest.fixture(scope="module")
def trained(web_server: RunningServer) -> Trained:
    """A Multiclass project of synthetic shapes, two circles mislabeled as squares, trained here."""
    ws = web_server.ws
    mislabeled = [NewImage(to_jpeg(make_image(["circle"], seed=900 + i)), tags=["square"]) for i in range(2)]
    project = shapes_project(ws, "Shapes", PER_KIND, extra=mislabeled)
    queued = training.start_training(ws, project.id)
    Worker(ws).run_once()
    assert iterations.get_iteration(ws, project.id, queued.id).status == "Completed"
    return Trained(project.id, queued.id)


def _figure(page, name: str) -> str:
    return page.inner_text(f'[data-figure="{name}"]')


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def test_performance_tables_and_the_threshold_slider(page, web_server: RunningServer, trained: Trained) -> None:
    page.goto(f"/projects/{trained.project_id}/performance")
    _view, report = performance.iteration_report(web_server.ws, trained.project_id, trained.iteration_id)
    assert _figure(page, "precision") == _percent(report.precision)
    assert page.locator("table.per-tag tbody tr").count() == len(KINDS)
    assert "±" in page.inner_text("table.per-tag")  # the spread across folds, at the trained threshold
    assert page.locator("img.chart").count() == 2  # PR curves and the reliability diagram
    assert "(ECE)" in page.inner_text("#overall")  # calibration error before → after
    _load_images(page)
    screenshot(page, "performance")

    slider = page.locator("#threshold-slider")
    assert slider.is_visible()  # shown by the script; without it the number input and button do the same
    with page.expect_response(lambda r: "/performance.json" in r.url and "threshold=0.9" in r.url):
        slider.fill("0.9")
    expected = performance.at_threshold(report, 0.9)
    page.wait_for_function(
        "([p, r]) => document.querySelector('[data-figure=precision]').textContent === p"
        " && document.querySelector('[data-figure=recall]').textContent === r",
        arg=[_percent(expected.precision), _percent(expected.recall)],
    )
    assert _figure(page, "recall") != _percent(report.recall)  # 0.9 is far stricter than the trained 0.5
    row = page.locator('tr[data-tag="circle"] [data-metric="recall"]')
    circle = next(t for t in expected.per_tag if t.tag == "circle")
    assert row.inner_text() == _percent(circle.recall)
    assert page.input_value("#threshold") == "0.90" and "threshold=0.9" in page.url
    page.focus("#threshold-slider")
    with page.expect_response(lambda r: "threshold=0.91" in r.url):
        page.keyboard.press("ArrowRight")
    screenshot(page, "performance-threshold", phone=False)


def test_a_confusion_cell_opens_its_images(page, web_server: RunningServer, trained: Trained) -> None:
    page.goto(f"/projects/{trained.project_id}/performance")
    report = performance.iteration_report(web_server.ws, trained.project_id, trained.iteration_id)[1]
    matrix = report.confusion_matrix
    cells = [(i, j) for i, row in enumerate(matrix) for j, count in enumerate(row) if count]
    i, j = max(cells, key=lambda cell: (cell[0] != cell[1], matrix[cell[0]][cell[1]]))  # a mistake if any
    actual, predicted = KINDS[i], KINDS[j]
    page.get_by_role("link", name=f"{matrix[i][j]} tagged {actual}, predicted {predicted}").click()
    assert page.inner_text("h1") == f"Tagged {actual}, predicted {predicted}"
    thumbs = page.locator("ul.outcomes li")
    assert thumbs.count() == matrix[i][j]
    href = thumbs.first.locator("a").get_attribute("href")
    image_id = href.split("?", 1)[0].rsplit("/", 1)[1]  # the link keeps the cell to come back to (?back=)
    assert "back=" in href
    (image,) = images.get_images(web_server.ws, trained.project_id, [image_id])
    assert [t.name for t in image.tags] == [actual]
    _load_images(page)
    screenshot(page, "performance-confusion-cell")


def test_mistakes_link_to_their_images(page, web_server: RunningServer, trained: Trained) -> None:
    report = performance.iteration_report(web_server.ws, trained.project_id, trained.iteration_id)[1]
    worst = reporting.mistakes(report, 24)
    ids = performance.image_ids_by_key(web_server.ws, trained.project_id, [m.image_key for m in worst])
    assert worst and len(ids) == len(worst)  # the mislabeled circles at least, all still in the project
    page.goto(f"/projects/{trained.project_id}/performance")
    gallery = page.locator("#mistakes ~ ul.outcomes li")
    assert gallery.count() == len(worst)
    first = gallery.first
    assert (
        first.locator("a").get_attribute("href") == f"/projects/{trained.project_id}/images/{ids[worst[0].image_key]}"
    )
    assert "tagged square" in first.inner_text() and "predicted circle" in first.inner_text()
    _load_images(page)


def test_multilabel_performance_has_no_confusion_matrix_and_its_slider_works(page, web_server: RunningServer) -> None:
    """Multilabel: per-tag figures and the slider as for Multiclass; no confusion matrix, no top-tag accuracy."""
    ws = web_server.ws
    project = projects.create_project(ws, "Mosaics", classification_type="Multilabel", domain="tiny")
    for kind in KINDS:
        tags.create_tag(ws, project.id, kind)
    data, labels = multi_label_dataset(36, KINDS, seed=3)
    assert all(sum(kind in present for present in labels) >= 5 for kind in KINDS)
    results = images.add_images(ws, project.id, [NewImage(d, tags=t) for d, t in zip(data, labels, strict=True)])
    assert all(r.status == "OK" for r in results)
    queued = training.start_training(ws, project.id)
    Worker(ws).run_once()
    report = performance.iteration_report(ws, project.id, queued.id)[1]
    assert report.multilabel

    page.goto(f"/projects/{project.id}/performance")
    assert _figure(page, "precision") == _percent(report.precision)
    assert page.locator("table.per-tag tbody tr").count() == len(KINDS)
    assert page.locator("table.confusion").count() == 0
    assert "Accuracy (top tag)" not in page.inner_text("#overall")
    assert page.locator("img.chart").count() == 2
    with page.expect_response(lambda r: "/performance.json" in r.url and "threshold=0.9" in r.url):
        page.locator("#threshold-slider").fill("0.9")
    expected = performance.at_threshold(report, 0.9)
    page.wait_for_function(
        "r => document.querySelector('[data-figure=recall]').textContent === r", arg=_percent(expected.recall)
    )
    _load_images(page)
    screenshot(page, "performance-multilabel")


def test_performance_reads_without_javascript(browser, web_server: RunningServer, trained: Trained) -> None:
    context, page, errors = open_page(browser, web_server.url, javascript=False)
    sign_in(page, web_server.training_key)
    page.goto(f"/projects/{trained.project_id}/performance")
    assert not page.locator("#threshold-slider").is_visible()
    assert page.locator("table.per-tag tbody tr").count() == len(KINDS)
    assert page.locator("table.confusion tbody tr").count() == len(KINDS)
    report = performance.iteration_report(web_server.ws, trained.project_id, trained.iteration_id)[1]
    page.fill("#threshold", "0.8")
    page.get_by_role("button", name="Apply", exact=True).click()
    assert "threshold=0.8" in page.url
    assert _figure(page, "recall") == _percent(performance.at_threshold(report, 0.8).recall)
    screenshot(page, "performance-no-javascript", phone=False)
    context.close()
    assert errors == []


def test_quick_test_a_file_store_it_and_accept_it_in_the_queue(page, web_server: RunningServer, trained: Trained):
    ws, pid = web_server.ws, trained.project_id
    before = images.count_images(ws, pid)
    page.goto(f"/projects/{pid}/quicktest")
    assert page.is_checked("input[name=store]")
    page.set_input_files("#file", files=[{"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": _photo(4242)}])
    assert page.locator("[data-drop-zone] img.drop-preview").count() == 1  # the script previews the choice
    page.get_by_role("button", name="Test").click()
    assert "Stored for review" in page.inner_text(".notice")
    assert page.locator(".tag-bars li").count() == len(KINDS)
    assert page.locator(".threshold-line").count() == len(KINDS)
    (stored,) = predictions.list_predictions(ws, pid)
    assert f"prediction={stored.id}" in page.url
    assert page.inner_text(".tag-bars li >> nth=0").startswith(stored.predictions[0].tag_name)
    _load_images(page)
    screenshot(page, "quicktest")

    (odd,) = predictions.predict(ws, pid, [to_jpeg(make_lens_cap_image(3))], iteration_id=trained.iteration_id)
    assert odd.unknown and odd.uncertain  # a photo with the lens cap on is unlike every training image
    page.get_by_role("link", name="Review it in Predictions").click()
    assert page.locator("ul.queue > li").first.get_attribute("id") == f"prediction-{odd.id}"  # looked at first
    _load_images(page)
    item = page.locator(f"#prediction-{stored.id}")
    top = stored.predictions[0]
    accept = item.get_by_role("button", name=f"Accept {top.tag_name}")
    if not accept.count():  # the tiny model's top tag may not reach the threshold: pick it instead
        item.locator("details").evaluate("d => { d.open = true; }")  # open, whether or not it was
        item.get_by_label(top.tag_name).check()
        accept = item.get_by_role("button", name="Add to training set")
    screenshot(page, "predictions")
    accept.click()
    assert "Added to the training set" in page.inner_text(".notice")
    assert images.count_images(ws, pid) == before + 1
    assert predictions.get_prediction(ws, pid, stored.id).reviewed
    assert page.locator(f"#prediction-{stored.id}").count() == 0 and page.locator(f"#prediction-{odd.id}").count() == 1
    page.get_by_role("link", name="Reviewed").click()
    assert page.locator(f"#prediction-{stored.id} .badge.good").inner_text() == "reviewed"


def test_quick_test_a_url_without_storing_then_correct_a_stored_one(page, web_server: RunningServer, trained: Trained):
    ws, pid = web_server.ws, trained.project_id
    stored_before = {p.id for p in predictions.list_predictions(ws, pid, reviewed=None)}
    with static_http_server(
        {"/odd.jpg": (200, {"Content-Type": "image/jpeg"}, to_jpeg(make_unrelated_image(7)))}
    ) as host:
        page.goto(f"/projects/{pid}/quicktest")
        page.fill("#url", f"{host}/odd.jpg")
        page.uncheck("input[name=store]")
        page.get_by_role("button", name="Test").click()
    assert "Not stored" in page.inner_text("main")
    assert page.locator(".tag-bars li").count() == len(KINDS)
    assert page.locator(".result img").get_attribute("src").startswith("data:image/jpeg;base64,")
    assert {p.id for p in predictions.list_predictions(ws, pid, reviewed=None)} == stored_before

    page.fill("#url", "http://127.0.0.1:9/nothing.jpg")  # nothing listens there: refused, said in words
    page.get_by_role("button", name="Test").click()
    assert "cannot fetch" in page.inner_text(".problem")
    page.get_by_role("button", name="Test").click()  # neither a file nor a URL
    assert "choose an image file" in page.inner_text(".problem")

    (fresh,) = predictions.predict(ws, pid, [_photo(99)], iteration_id=trained.iteration_id)
    wrong = next(p for p in fresh.predictions if p.tag_name != fresh.predictions[0].tag_name)
    page.goto(f"/projects/{pid}/predictions")
    item = page.locator(f"#prediction-{fresh.id}")
    item.locator("details").evaluate("d => { d.open = true; }")  # open, whether or not it was
    item.get_by_label(wrong.tag_name).check()
    item.get_by_role("button", name="Add to training set").click()
    assert f"as {wrong.tag_name}" in page.inner_text(".notice")
    (added,) = [i for i in images.list_images(ws, pid, take=200) if i.original_name == f"prediction {fresh.id}"]
    assert [t.name for t in added.tags] == [wrong.tag_name]


def test_flags_are_explained_in_plain_words(page, web_server: RunningServer, trained: Trained) -> None:
    ws, pid = web_server.ws, trained.project_id
    (odd,) = predictions.predict(ws, pid, [to_jpeg(make_lens_cap_image(11))], iteration_id=trained.iteration_id)
    assert odd.unknown and odd.uncertain
    page.goto(f"/projects/{pid}/quicktest?prediction={odd.id}")
    text = " ".join(page.inner_text("main").split())
    assert odd.reasons and all(" ".join(describe_reason(r).split()) in text for r in odd.reasons)
    assert "Unknown: this image is unlike the training images" in text
    assert "the top two tags are close" not in text  # the old guess from the probabilities, wrong here
    assert page.inner_text("#iteration option[selected]").startswith(
        iterations.get_iteration(ws, pid, trained.iteration_id).name
    )


def test_tagging_a_photo(page, web_server: RunningServer) -> None:
    page.goto("/tagging")
    assert page.get_attribute("nav[aria-label=Main] a[aria-current=page]", "href") == "/tagging"
    assert page.input_value("#threshold") == "0.5" and page.input_value("#top") == "10"  # as `sightline tag`
    page.set_input_files("#file", files=[{"name": "shape.jpg", "mimeType": "image/jpeg", "buffer": _photo(1)}])
    page.fill("#threshold", "0")  # every tag of the small vocabulary, whatever its (random) confidence
    page.get_by_role("button", name="Get tags").click()
    names = page.locator(".confidences .tag-name").all_inner_texts()
    assert sorted(names) == sorted(VOCABULARY)
    assert page.input_value("#threshold") == "0"  # kept for the next photo
    page.evaluate(  # a photo dropped on the zone: what a drag from the desktop delivers
        """async (bytes) => {
            const drop = new DataTransfer();
            drop.items.add(new File([new Uint8Array(bytes)], "dropped.jpg", {type: "image/jpeg"}));
            document.querySelector("[data-drop-zone]").dispatchEvent(new DragEvent("drop", {dataTransfer: drop}));
        }""",
        list(_photo(2)),
    )
    assert page.locator("[data-drop-zone] img.drop-preview").count() == 1
    page.get_by_role("button", name="Get tags").click()
    assert page.inner_text("#result-title") == "Tags of dropped.jpg"
    names = page.locator(".confidences .tag-name").all_inner_texts()
    assert sorted(names) == sorted(VOCABULARY)
    assert "128 × 128 px" in page.inner_text(".result")
    screenshot(page, "tagging")
    page.set_input_files("#file", files=[{"name": "junk.jpg", "mimeType": "image/jpeg", "buffer": b"not an image"}])
    page.get_by_role("button", name="Get tags").click()
    expect(page.locator(".problem")).to_have_count(1)


def _tag(page, photo: bytes, **fields: str) -> list[tuple[str, float]]:
    """Tags the photo with the form's controls set to `fields`; the tags shown with their confidences."""
    page.set_input_files("#file", files=[{"name": "shape.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    for name, value in fields.items():
        if name == "single":
            page.set_checked("#single", value == "true")
        else:
            page.fill(f"#{name}", value)
    page.get_by_role("button", name="Get tags").click()
    page.wait_for_selector("#result-title")
    names = page.locator(".confidences .tag-name").all_inner_texts()
    figures = [float(text.rstrip("%")) / 100 for text in page.locator(".confidences .num").all_inner_texts()]
    return list(zip(names, figures, strict=True))


def test_tagging_controls(page, web_server: RunningServer) -> None:
    """Threshold, top, own tags and single mode, as `sightline tag` has them, on the tagging page."""
    photo = _photo(3)
    page.goto("/tagging")
    every = _tag(page, photo, threshold="0", top="0")
    assert sorted(name for name, _ in every) == sorted(VOCABULARY)
    assert [c for _, c in every] == sorted((c for _, c in every), reverse=True)  # best first
    weakest, next_weakest = sorted(c for _, c in every)[:2]
    between = (weakest + next_weakest) / 2  # the figures shown are rounded: a threshold clear of both
    assert [n for n, c in _tag(page, photo, threshold=f"{between:.4f}")] == [n for n, c in every if c > between]
    assert _tag(page, photo, threshold="0", top="2") == every[:2]
    assert _tag(page, photo, threshold="1", top="0") == []
    assert "No tag reaches the threshold (1)" in page.inner_text(".result")

    own = _tag(page, photo, threshold="0", tags="red ball, blue box,  green leaf ")
    assert sorted(name for name, _ in own) == ["blue box", "green leaf", "red ball"]
    assert page.input_value("#tags") == "red ball, blue box, green leaf"  # kept, tidied
    single = _tag(page, photo, single="true")
    assert {name for name, _ in single} <= {"blue box", "green leaf", "red ball"}
    assert sum(c for _, c in _tag(page, photo, threshold="0")) == pytest.approx(1.0, abs=0.02)  # one of them
    assert page.is_checked("#single") and "one tag" in page.inner_text("#result-options")
    screenshot(page, "tagging-controls")

    page.set_checked("#single", False)
    page.fill("#tags", "")
    for field, value in (("threshold", "2"), ("top", "-1")):  # past what the browser's own checks allow
        page.eval_on_selector(f"#{field}", "e => e.removeAttribute('min') || e.removeAttribute('max')")
        _submit_refused(page, photo, field, value)


def _submit_refused(page, photo: bytes, field: str, value: str) -> None:
    page.set_input_files("#file", files=[{"name": "shape.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    page.fill(f"#{field}", value)
    page.get_by_role("button", name="Get tags").click()
    assert field in page.inner_text(".problem")
    page.goto("/tagging")


def test_service_helpers_behind_the_pages(web_server: RunningServer, trained: Trained) -> None:
    ws, pid = web_server.ws, trained.project_id
    other = projects.create_project(ws, "Other", domain="tiny")
    assert [i.id for i in iterations.completed_iterations(ws, pid)] == [trained.iteration_id]
    assert iterations.completed_iterations(ws, other.id) == []
    (kept,) = predictions.predict(ws, pid, [_photo(5)], iteration_id=trained.iteration_id)
    assert predictions.get_prediction(ws, pid, kept.id).predictions == kept.predictions
    with pytest.raises(NotFoundError):
        predictions.get_prediction(ws, other.id, kept.id)  # not through another project
    (image,) = images.list_images(ws, pid, take=1)
    assert performance.image_ids_by_key(ws, pid, [image.sha256, "0" * 64, None]) == {image.sha256: image.id}
    assert performance.image_ids_by_key(ws, other.id, [image.sha256]) == {}


def test_the_slider_twin_refuses_bad_thresholds(page, trained: Trained) -> None:
    response = page.request.get(f"/projects/{trained.project_id}/performance.json?threshold=0.3")
    assert response.ok and response.json()["threshold"] == 0.3
    refused = page.request.get(f"/projects/{trained.project_id}/performance.json?threshold=2")
    assert refused.status == 400 and "threshold" in refused.json()["message"]


def test_pages_before_training_say_what_to_do(page, web_server: RunningServer) -> None:
    project = projects.create_project(web_server.ws, "Empty", domain="tiny")
    for path, words in (("performance", "No trained iteration yet"), ("quicktest", "No trained iteration yet"),
                        ("predictions", "Nothing to review")):  # fmt: skip
        page.goto(f"/projects/{project.id}/{path}")
        assert words in page.inner_text("main")


def _photo(seed: int) -> bytes:
    return to_jpeg(make_image([KINDS[seed % len(KINDS)]], seed=seed))


def _load_images(page) -> None:
    """Scroll through the page so lazy thumbnails load, and wait until every image has (none broken)."""
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.evaluate("window.scrollTo(0, 0)")


def test_the_review_queue_by_keyboard(page, web_server: RunningServer, trained: Trained) -> None:
    """Repeats of one image are one item; unknown images come first and offer "none of these" before accepting;
    1-9 pick a tag, S skips, U undoes, A accepts; a new tag can be typed."""
    ws, pid = web_server.ws, trained.project_id
    predictions.delete_predictions(ws, pid, [p.id for p in predictions.list_predictions(ws, pid, reviewed=None)])
    kinds = sorted(KINDS)  # the picker lists the regular tags by name: key 1 is the first
    (odd,) = predictions.predict(ws, pid, [to_jpeg(make_lens_cap_image(21))], iteration_id=trained.iteration_id)
    twice = [predictions.predict(ws, pid, [_photo(777)], iteration_id=trained.iteration_id)[0] for _ in range(2)]
    (third,) = predictions.predict(ws, pid, [_photo(778)], iteration_id=trained.iteration_id)
    (fourth,) = predictions.predict(ws, pid, [_photo(779)], iteration_id=trained.iteration_id)
    before = images.count_images(ws, pid)

    page.goto(f"/projects/{pid}/predictions")
    items = page.locator("ul.queue > li")
    assert items.count() == 4  # the image predicted twice is one item
    assert items.first.get_attribute("id") == f"prediction-{odd.id}"
    first = items.first
    assert first.locator("button.primary").inner_text().startswith("None of these")  # not "Accept <tag>"
    assert "Accept" not in first.locator("button.primary").inner_text()
    repeated = page.locator(f'[data-prediction="{twice[0].id}"], [data-prediction="{twice[1].id}"]')
    assert "predicted 2 times" in repeated.inner_text()
    _load_images(page)
    screenshot(page, "review-queue")

    page.keyboard.press("0")  # none of these: the Negative tag, made for the purpose
    page.wait_for_selector(".notice")
    assert "Negative" in page.inner_text(".notice")
    negative = next(t for t in tags.list_tags(ws, pid) if t.type == "Negative")
    assert negative.image_count == 1 and predictions.get_prediction(ws, pid, odd.id).reviewed

    page.keyboard.press("u")  # undo: the image leaves the training set, the prediction is back
    page.wait_for_selector(".notice >> text=Review undone")
    assert images.count_images(ws, pid) == before and not predictions.get_prediction(ws, pid, odd.id).reviewed

    page.keyboard.press("s")  # skip the unknown one
    current = page.locator("ul.queue > li.current")
    target = current.get_attribute("data-prediction")
    page.keyboard.press("2")  # the second tag, sent at once (Multiclass)
    page.wait_for_selector(".notice >> text=Added to the training set")
    assert f"as {kinds[1]}" in page.inner_text(".notice")
    assert predictions.get_prediction(ws, pid, target).reviewed
    if target in {t.id for t in twice}:
        assert all(predictions.get_prediction(ws, pid, t.id).reviewed for t in twice)  # repeats go with it

    item = page.locator("ul.queue > li").nth(1)
    item.locator("details").evaluate("d => { d.open = true; }")  # open, whether or not it was
    item.get_by_placeholder("New tag name").fill("hexagon")
    item.get_by_role("button", name="Add to training set").click()
    assert "as hexagon" in page.inner_text(".notice")
    assert any(t.name == "hexagon" and t.image_count == 1 for t in tags.list_tags(ws, pid))
    assert {third.id, fourth.id, twice[0].id} & {p.id for p in predictions.list_predictions(ws, pid, reviewed=True)}
