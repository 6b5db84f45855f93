"""Evaluation that holds on new images, through the service layer on SQLite and PostgreSQL:
declared groups from a metadata key, test sets kept out of training, scoring on labelled folders."""

from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

from sightline.errors import InvalidRequestError
from sightline.service import Worker, Workspace, images, iterations, performance, projects, tags, training
from sightline.service.images import NewImage
from sightline.service.performance import trained_report
from sightline.store import BlobStore
from sightline.synthetic import make_image, to_jpeg

KINDS = ["circle", "square", "triangle"]


@pytest.fixture
def ws(store, tmp_path) -> Workspace:
    return Workspace(store, BlobStore(str(tmp_path / "blobs")))


def _shapes(ws: Workspace, name: str, per_kind: int, *, group_key: str | None = None, item_size: int = 2):
    project = projects.create_project(ws, name, domain="tiny", group_key=group_key)
    for kind in KINDS:
        tags.create_tag(ws, project.id, kind)
    batch = [
        NewImage(
            to_jpeg(make_image([kind], seed=k * 100 + i)),
            name=f"{kind}-{i}.jpg",
            tags=[kind],
            metadata={"item": f"{kind}-{i // item_size}"},
        )
        for k, kind in enumerate(KINDS)
        for i in range(per_kind)
    ]
    assert all(r.ok for r in images.add_images(ws, project.id, batch))
    return project


def _train(ws: Workspace, project_id: str) -> str:
    queued = training.start_training(ws, project_id, force=True)
    assert Worker(ws).run_once() is True
    done = iterations.get_iteration(ws, project_id, queued.id)
    assert done.status == "Completed", done.error
    return done.id


def test_a_group_key_forms_cross_validation_groups(ws):
    project = _shapes(ws, "Grouped", 8, group_key=" item ")
    assert projects.get_project(ws, project.id).group_key == "item"
    _, report = trained_report(ws, project.id, _train(ws, project.id))
    assert report.n_declared_group_images == 24
    assert report.n_groups <= 12  # 4 items per tag, 2 shots each (near-duplicates may join more)
    assert projects.update_project(ws, project.id, group_key="").group_key is None
    # a changed group key is a reason to train again; the images' groups are read again
    _, report = trained_report(ws, project.id, _train(ws, project.id))
    assert report.n_declared_group_images == 0
    with pytest.raises(InvalidRequestError, match="group key"):
        projects.update_project(ws, project.id, group_key="bad\x00key")


def _write_split_folder(root, per_kind: dict[str, int]) -> None:
    for split, count in per_kind.items():
        for k, kind in enumerate(KINDS):
            folder = root / split / kind
            folder.mkdir(parents=True)
            for i in range(count):
                seed = {"train": 0, "validation": 5000, "test": 9000}[split] + k * 100 + i
                (folder / f"{i}.jpg").write_bytes(to_jpeg(make_image([kind], seed=seed)))


def test_a_test_split_is_kept_out_of_training_and_scores_every_iteration(ws, tmp_path):
    from sightline.service import importing

    _write_split_folder(tmp_path / "data", {"train": 5, "validation": 1, "test": 3})
    # leakage: a test photo that is a training photo saved again (other bytes, same picture)
    copy = io.BytesIO()
    with PILImage.open(tmp_path / "data" / "train" / "circle" / "0.jpg") as photo:
        photo.save(copy, "JPEG", quality=70)
    (tmp_path / "data" / "test" / "circle" / "copy.jpg").write_bytes(copy.getvalue())
    project = projects.create_project(ws, "Splits", domain="tiny")
    report = importing.import_items(ws, project.id, importing.folder_items(tmp_path / "data"))
    assert (report.added, report.test_images) == (28, 10)
    assert projects.get_project(ws, project.id).test_image_count == 10
    # the training views (and so the Azure routes) never show test images; the test set is listed apart
    assert images.count_images(ws, project.id) == 18
    shown = images.list_images(ws, project.id, take=100)
    assert len(shown) == 18 and not any(image.test_set for image in shown)
    held = images.list_images(ws, project.id, test_set=True, take=100)
    assert len(held) == 10 and all(image.test_set for image in held)
    assert training.preflight(ws, project.id).tag_counts == dict.fromkeys(KINDS, 6)

    iteration = _train(ws, project.id)
    _, cv = trained_report(ws, project.id, iteration)
    assert cv.n_images == 18
    held_out = performance.test_set_report(ws, project.id, iteration)
    assert held_out.n_images == 10 and held_out.n_folds == 1
    assert len(held_out.image_keys) == 10 and not held_out.skipped_images
    assert {i.sha256 for i in held} == set(held_out.image_keys)
    copied = next(i.sha256 for i in held if i.original_name.endswith("copy.jpg"))
    original = next(i.sha256 for i in shown if i.original_name.endswith("train/circle/0.jpg"))
    assert [copied, original] in held_out.leaked_images
    assert "near-duplicate training images" in held_out.warnings[0]
    assert 0.0 <= held_out.accuracy <= 1.0


def test_a_csv_split_column_and_its_bad_values(ws, tmp_path):
    from sightline.service import importing

    rows = ["path,tags,split"]
    for k, kind in enumerate(KINDS):
        for i in range(6):
            name = f"{kind}-{i}.jpg"
            (tmp_path / name).write_bytes(to_jpeg(make_image([kind], seed=k * 100 + i)))
            rows.append(f"{name},{kind},{'test' if i >= 4 else ('' if i == 0 else 'Train')}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    items = importing.csv_items(tmp_path / "labels.csv")
    assert sum(item.test_set for item in items) == 6 and all(item.tags for item in items)
    (tmp_path / "bad.csv").write_text("path,split,square\na.jpg,tset,1\nb.jpg,holdout,0\nc.jpg,test,1\n")
    with pytest.raises(InvalidRequestError, match=r"'tset' \(line 2\), 'holdout' \(line 3\)"):
        importing.csv_items(tmp_path / "bad.csv")
    multi = importing.csv_items(_csv(tmp_path / "multi.csv", "path,circle,split,square\nx.jpg,1,test,1\n"))
    assert multi[0].tags == ["circle", "square"] and multi[0].test_set


def _csv(path, text):
    path.write_text(text)
    return path


def _reencoded(data: bytes) -> bytes:
    """The same picture saved again: other bytes, the same content (a near-duplicate)."""
    out = io.BytesIO()
    with PILImage.open(io.BytesIO(data)) as photo:
        photo.save(out, "JPEG", quality=70)
    return out.getvalue()


def test_label_conflicts_and_leaks_are_recorded_when_training_starts(ws):
    from sightline.reporting.duplicates import duplicate_warnings
    from sightline.service import duplicates

    project = _shapes(ws, "Duplicates", 6)
    circle = to_jpeg(make_image(["circle"], seed=0))  # the project's circle-0.jpg
    added = images.add_images(ws, project.id, [NewImage(_reencoded(circle), name="mislabelled.jpg", tags=["square"])])
    assert added[0].ok
    first = _train(ws, project.id)
    view = iterations.get_iteration(ws, project.id, first)
    original = next(i.sha256 for i in images.list_images(ws, project.id, take=100) if i.original_name == "circle-0.jpg")
    assert [set(pair) for pair in view.duplicate_checks.conflicting_images] == [{original, added[0].image.sha256}]
    assert view.duplicate_checks.leaked_images == []
    assert [w.kind for w in duplicate_warnings(view.duplicate_checks)] == ["conflict"]
    assert "1 pair of near-duplicate images carries different tags" in duplicate_warnings(view.duplicate_checks)[0].text

    # only a test image added: training is needed again (figures on the new test set), no force
    square = to_jpeg(make_image(["square"], seed=101))  # the project's square-1.jpg
    leak = images.add_images(
        ws, project.id, [NewImage(_reencoded(square), name="leak.jpg", tags=["square"], test_set=True)]
    )
    assert training.preflight(ws, project.id).refusal is None
    queued = training.start_training(ws, project.id)
    assert Worker(ws).run_once() is True
    second = iterations.get_iteration(ws, project.id, queued.id)
    assert second.status == "Completed", second.error
    copied = next(i.sha256 for i in images.list_images(ws, project.id, take=100) if i.original_name == "square-1.jpg")
    assert second.duplicate_checks.leaked_images == [(leak[0].image.sha256, copied)]
    assert [w.kind for w in duplicate_warnings(second.duplicate_checks)] == ["conflict", "leak"]
    assert performance.test_set_report(ws, project.id, second.id).leaked_images == [[leak[0].image.sha256, copied]]

    found = duplicates.duplicate_report(ws, project.id)
    assert [p.kind for p in found.pairs] == [duplicates.CONFLICT, duplicates.LEAK]
    assert found.leaks[0].first.test_set and found.leaks[0].first.original_name == "leak.jpg"
    assert [t.name for t in found.leaks[0].second.tags] == ["square"]
    # nothing changed since: training is not needed
    assert training.preflight(ws, project.id).refusal_code == "BadRequestTrainingNotNeeded"
