"""The review queue, the ONNX export and folders of images, from the command line."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from test_cli_workflow import KINDS, cli_home, one_line_error, run, run_main, write_shapes  # noqa: F401 (fixture)
from typer.testing import CliRunner

from sightline.cli import app
from sightline.synthetic import make_image, make_unrelated_image, to_jpeg


@pytest.fixture
def trained(tmp_path: Path) -> str:
    """A trained Multiclass project of synthetic shapes, on the tiny backbone."""
    run("projects", "create", "Shapes", "--domain", "tiny")
    write_shapes(tmp_path / "train", KINDS, 6)
    run("images", "import", "Shapes", str(tmp_path / "train"))
    assert "Iteration 1 completed" in run("train", "Shapes").stdout
    return "Shapes"


def _probes(folder: Path) -> list[Path]:
    folder.mkdir()
    paths = []
    for i, kind in enumerate(KINDS):
        paths.append(folder / f"{i}-{kind}.jpg")
        paths[-1].write_bytes(to_jpeg(make_image([kind], seed=7000 + i)))
    paths.append(folder / "3-odd.jpg")
    paths[-1].write_bytes(to_jpeg(make_unrelated_image(3)))
    return paths


def _tags(project: str) -> dict[str, dict]:
    return {t["name"]: t for t in json.loads(run("tags", "list", project, "--json").stdout)}


def _review(*args: str, answers: str, code: int = 0):
    result = CliRunner().invoke(app, ["review", *args], input=answers)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_a_folder_is_one_row_per_image_with_errors_per_file(trained: str, tmp_path: Path, capsys, monkeypatch) -> None:
    paths = _probes(tmp_path / "probes")
    (tmp_path / "probes" / "4-broken.jpg").write_bytes(b"not an image")
    monkeypatch.setenv("COLUMNS", "80")
    table = run("test", trained, str(tmp_path / "probes"), "--no-store", code=1)  # 1: one file failed
    lines = table.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, table.stdout
    for path in paths:
        assert sum(path.name in line for line in lines) == 1, table.stdout  # one row each
    assert any("4-broken.jpg" in line and "error: image data" in line for line in lines), table.stdout
    assert "5 images:" in table.stdout and "1 failed" in table.stdout
    answers = json.loads(run("test", trained, str(tmp_path / "probes"), "--no-store", "--json", code=1).stdout)
    assert [Path(a["image"]).name for a in answers] == sorted(p.name for p in [*paths, Path("4-broken.jpg")])
    assert answers[-1]["error"]["reason"] == "not_an_image" and all("predictions" in a for a in answers[:-1])
    missing = run("test", trained, str(paths[0]), str(tmp_path / "missing.jpg"), "--no-store", code=1)
    assert "does not exist" in missing.stdout and "circle" in missing.stdout  # the other file still answered
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_main(capsys, monkeypatch, "test", trained, str(empty))
    assert code == 1 and "no images" in one_line_error(err)


def test_review_accepts_picks_none_of_these_new_tag_skip_and_discard(trained: str, tmp_path: Path) -> None:
    _probes(tmp_path / "probes")
    run("test", trained, str(tmp_path / "probes"))  # four predictions stored for review
    before = _tags(trained)
    first = _review(trained, answers="zz\n1\nx\nn\nhexagon\ns\n", code=0)
    out = first.stdout
    assert out.count("prediction ") >= 4 and "not an answer: 'zz'" in first.output
    assert out.count("added to the training set as") == 3
    assert "reviewed 3, skipped 1, discarded 0; the rest stays in the queue" in out
    after = _tags(trained)
    assert after["circle"]["image_count"] == before["circle"]["image_count"] + 1
    assert after["Negative"]["type"] == "Negative" and after["Negative"]["image_count"] == 1
    assert after["hexagon"]["image_count"] == 1

    second = _review(trained, answers="d\n")  # the skipped one is first again: discarded
    assert "reviewed 0, skipped 0, discarded 1; nothing else to review" in second.stdout
    assert "nothing else to review" in _review(trained, answers="").stdout


def test_review_accept_gives_the_predicted_tag(trained: str, tmp_path: Path) -> None:
    probe = tmp_path / "square.jpg"
    probe.write_bytes(to_jpeg(make_image(["square"], seed=8100)))
    (stored,) = json.loads(run("test", trained, str(probe), "--json", "--threshold", "0").stdout)
    top = stored["predictions"][0]["tag_name"]  # threshold 0: the top tag passes, so accept gives it
    before = _tags(trained)[top]["image_count"]
    out = _review(trained, answers="a\n").stdout
    assert f"accept: {top}" in out and f"added to the training set as {top}" in out
    assert _tags(trained)[top]["image_count"] == before + 1
    quit_early = _review(trained, "--limit", "1", answers="q\n")
    assert "reviewed 0, skipped 0, discarded 0" in quit_early.stdout


def test_review_errors_are_one_line(capsys, monkeypatch) -> None:
    code, _, err = run_main(capsys, monkeypatch, "review", "Nope")
    assert code == 1 and "Nope" in one_line_error(err)


def test_export_writes_the_onnx_zip(trained: str, tmp_path: Path, capsys, monkeypatch) -> None:
    target = tmp_path / "model.zip"
    said = run("export", trained, "--output", str(target)).stdout
    assert "exported Iteration 1 of Shapes" in said
    with zipfile.ZipFile(target) as archive:
        assert {"model.onnx", "labels.txt", "sightline.json"} <= set(archive.namelist())
        assert archive.read("labels.txt").decode().split() == sorted(KINDS)
    code, _, err = run_main(capsys, monkeypatch, "export", trained, "--output", str(target))
    assert code == 1 and "exists: pass --force" in one_line_error(err)
    run("export", trained, "--output", str(target), "--force")
    monkeypatch.chdir(tmp_path)
    run("export", trained, "-i", "Iteration 1")
    assert (tmp_path / "Shapes-Iteration-1.zip").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left

    run("projects", "create", "Empty", "--domain", "tiny")
    code, _, err = run_main(capsys, monkeypatch, "export", "Empty")
    assert code == 1 and "no trained iteration" in one_line_error(err)
    code, _, err = run_main(capsys, monkeypatch, "export", trained, "-o", str(tmp_path / "no" / "such.zip"))
    assert code == 1 and "does not exist" in one_line_error(err)


def test_every_listing_fits_80_columns(trained: str, tmp_path: Path, monkeypatch) -> None:
    """What people read in a terminal: no line of a table or record wider than a classic 80-column one."""
    run("tags", "update", trained, "circle", "--description", "round things, seen from any side, of any colour")
    _probes(tmp_path / "probes")
    run("test", trained, str(tmp_path / "probes"))
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)  # a path is printed whole, as typed: here a short one
    for command in (
        ("projects", "list"),
        ("projects", "show", trained),
        ("tags", "list", trained),
        ("images", "list", trained),
        ("iterations", "list", trained),
        ("iterations", "show", trained),
        ("thresholds", trained),
        ("backbones",),
        ("test", trained, "probes/0-circle.jpg", "--no-store"),
    ):
        out = run(*command).stdout
        # a one-line message stays one line (greppable; the terminal wraps it), tables and records must fit
        wide = [line for line in out.splitlines() if len(line) > 80 and not line.startswith("warning:")]
        assert not wide, (command, wide)
