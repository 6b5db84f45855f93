"""Evaluation from the command line: a test split kept apart and shown beside the CV estimate,
`sightline evaluate` on outside folders with per-image errors, and the HTML report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_cli_workflow import cli_home, run  # noqa: F401 (cli_home: the autouse fixture, shared)

from sightline.cli import main
from sightline.synthetic import make_image, to_jpeg

KINDS = ["circle", "square", "triangle"]


def _folder(root: Path, per_split: dict[str, int], kinds=KINDS) -> Path:
    for split, count in per_split.items():
        for k, kind in enumerate(kinds):
            folder = root / split / kind if split else root / kind
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                seed = {"train": 0, "test": 7000, "": 9000}[split] + k * 100 + i
                (folder / f"{i}.jpg").write_bytes(to_jpeg(make_image([kind], seed=seed)))
    return root


def test_test_split_import_train_show_evaluate_and_report(tmp_path: Path):
    data = _folder(tmp_path / "data", {"train": 6, "test": 3})
    run("projects", "create", "Shapes", "--domain", "tiny", "--group-key", "item")
    imported = run("images", "import", "Shapes", str(data))
    assert "added 27 (9 to the test set)" in imported.stdout
    assert len(json.loads(run("images", "list", "Shapes", "--json").stdout)) == 18
    assert len(json.loads(run("images", "list", "Shapes", "--test-set", "--json").stdout)) == 9
    held = json.loads(run("images", "list", "Shapes", "--test-set", "--json").stdout)[0]["id"]
    assert "moved 1 of 1 images to training" in run("images", "move", "Shapes", held, "--to", "training").stdout
    assert len(json.loads(run("images", "list", "Shapes", "--test-set", "--json").stdout)) == 8
    assert "moved 1 of 1 images to the test set" in run("images", "move", "Shapes", held, "--to", "test").stdout
    refused = run("images", "move", "Shapes", held, "nope", "--to", "training", code=1)
    assert "no image nope" in str(refused.exception)  # main() prints it in one line
    assert len(json.loads(run("images", "list", "Shapes", "--test-set", "--json").stdout)) == 9  # nothing moved
    shown = json.loads(run("projects", "show", "Shapes", "--json").stdout)
    assert shown["group_key"] == "item" and shown["test_image_count"] == 9
    run("train", "Shapes")

    show = run("iterations", "show", "Shapes").stdout
    assert "cross-validated estimate" in show and "test set (held out)" in show
    assert "on the test set: 9 images never trained on" in show
    as_json = json.loads(run("iterations", "show", "Shapes", "--json").stdout)
    assert as_json["report"]["n_images"] == 18 and as_json["test_report"]["n_images"] == 9

    issues = json.loads(run("iterations", "show", "Shapes", "--mislabeled", "--json").stdout)
    assert isinstance(issues, list) and all({"image_key", "given", "suggested"} <= set(i) for i in issues)
    assert "mislabelled" in run("iterations", "show", "Shapes", "--mislabeled").stdout or issues

    out = tmp_path / "report.html"
    run("report", "Shapes", "--out", str(out))
    assert "Cross-validated estimate and test set" in out.read_text()

    # an outside folder: a tag the iteration never saw and a broken file are reported, the rest scored
    outside = _folder(tmp_path / "outside", {"": 2})
    (outside / "hexagon").mkdir()
    (outside / "hexagon" / "h.jpg").write_bytes(to_jpeg(make_image(["circle"], seed=1)))
    (outside / "circle" / "broken.jpg").write_bytes(b"not an image")
    result = json.loads(run("evaluate", "Shapes", str(outside), "--json").stdout)
    assert result["report"]["n_images"] == 6
    errors = {Path(e["path"]).name: e["error"] for e in result["errors"]}
    assert set(errors) == {"h.jpg", "broken.jpg"} and "hexagon" in errors["h.jpg"]
    text = run("evaluate", "Shapes", str(outside), "--iteration", "Iteration 1").stdout
    assert "scored on 6 images never trained on" in text and "left out" in text
    assert len(json.loads(run("images", "list", "Shapes", "--json").stdout)) == 18  # nothing was stored
    # the same report page as `sightline report`, about the scored images
    page_path = tmp_path / "evaluated.html"
    said = run("evaluate", "Shapes", str(outside), "--html", str(page_path)).stdout
    assert f"wrote {page_path}" in " ".join(said.split())
    page = page_path.read_text()
    assert "measured on 6 labelled images from" in page and "2 left out" in page
    assert 'alt="confusion matrix" src="data:image/png;base64,' in page
    assert 'alt="precision-recall curves per tag" src="data:image/png;base64,' in page
    assert page.count('alt="scored image" src="data:image/jpeg;base64,') == page.count('class="mistake"')
    run("evaluate", "Shapes", str(outside), "--html", str(tmp_path / "no" / "such" / "x.html"), code=1)
    # nothing to score is an error, in one line
    only_unknown = tmp_path / "unknown"
    (only_unknown / "hexagon").mkdir(parents=True)
    (only_unknown / "hexagon" / "h.jpg").write_bytes(to_jpeg(make_image(["circle"], seed=2)))
    assert "could be scored" in run("evaluate", "Shapes", str(only_unknown), code=1).output


def test_a_bad_split_value_is_one_clear_line(tmp_path: Path, capsys, monkeypatch):
    (tmp_path / "a.jpg").write_bytes(to_jpeg(make_image(["circle"], seed=1)))
    table = tmp_path / "labels.csv"
    table.write_text("path,tags,split\na.jpg,circle,tset\n")
    run("projects", "create", "Shapes", "--domain", "tiny")
    monkeypatch.setattr(sys, "argv", ["sightline", "images", "import", "Shapes", str(table)])
    with pytest.raises(SystemExit) as info:
        main()
    err = capsys.readouterr().err
    assert info.value.code == 1
    assert "unknown split 'tset' (line 2)" in err and "Traceback" not in err
    assert json.loads(run("projects", "show", "Shapes", "--json").stdout)["image_count"] == 0


def _reencode(source: Path, target: Path) -> None:
    """The same picture saved again (other bytes, the same content): a near-duplicate."""
    from PIL import Image as PILImage

    target.parent.mkdir(parents=True, exist_ok=True)
    with PILImage.open(source) as photo:
        photo.save(target, "JPEG", quality=70)


def test_train_warns_of_label_conflicts_and_leaks_and_lists_them(tmp_path: Path):
    data = _folder(tmp_path / "data", {"train": 6, "test": 2})
    _reencode(data / "train" / "circle" / "0.jpg", data / "train" / "square" / "mislabelled.jpg")
    _reencode(data / "train" / "triangle" / "1.jpg", data / "test" / "triangle" / "leak.jpg")
    run("projects", "create", "Shapes", "--domain", "tiny")
    run("images", "import", "Shapes", str(data))
    trained = run("train", "Shapes").output
    hint = "(list: sightline iterations show Shapes 'Iteration 1' --duplicates)"
    assert f"warning: 1 pair of near-duplicate images carries different tags: probably a labelling error {hint}" in (
        " ".join(trained.split())
    )
    assert "warning: 1 test image nearly copies a training image" in " ".join(trained.split())

    listed = run("iterations", "show", "Shapes", "--duplicates").stdout
    assert "label conflict" in listed and "test leak" in listed and "leak.jpg (test set) [triangle]" in listed
    assert "mislabelled.jpg [square]" in listed and "near-duplicate of [tags]" in listed
    pairs = json.loads(run("iterations", "show", "Shapes", "--duplicates", "--json").stdout)["pairs"]
    assert [p["kind"] for p in pairs] == ["conflict", "leak"]
    names = {p["first"]["original_name"].rsplit("/", 1)[-1] for p in pairs} | {
        p["second"]["original_name"].rsplit("/", 1)[-1] for p in pairs
    }
    assert {"mislabelled.jpg", "0.jpg", "leak.jpg", "1.jpg"} == names

    out = tmp_path / "report.html"
    run("report", "Shapes", "--out", str(out))
    page = out.read_text()
    section = page[page.index("<h2>Duplicates and leakage</h2>") : page.index("<h2>Worst mistakes</h2>")]
    assert "Label conflict" in section and "Test leak" in section and "test set" in section
    assert section.count('src="data:image/jpeg;base64,') == 4  # both images of both pairs
