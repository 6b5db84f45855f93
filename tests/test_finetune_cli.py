"""`sightline train --advanced [--budget 10m]`: fine-tuning from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_workflow import cli_home, one_line_error, run, run_main, write_shapes  # noqa: F401

KINDS = ["circle", "square", "triangle"]


def make_project(tmp_path: Path, domain: str) -> None:
    run("projects", "create", "Shapes", "--domain", domain)
    paths = write_shapes(tmp_path / "photos", KINDS, 8)
    for name in KINDS:
        run("tags", "create", "Shapes", name)
        run("images", "add", "Shapes", *map(str, paths[name]), "--tag", name)


def test_train_advanced_fine_tunes_and_says_whether_it_helped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SIGHTLINE_THREADS", "1")
    make_project(tmp_path, "tiny-lite")
    out = " ".join(run("train", "Shapes", "--advanced", "--budget", "5m").stdout.split())
    assert "Iteration 1 completed" in out
    assert "Advanced training: on " in out and "images it never trained on" in out and "stopped by" in out


def test_bad_advanced_options_are_one_line_errors(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch):
    make_project(tmp_path, "tiny")
    code, _, err = run_main(capsys, monkeypatch, "train", "Shapes", "--budget", "10m")
    assert code == 2 and "--budget goes with --advanced" in " ".join(err.split())
    code, _, err = run_main(capsys, monkeypatch, "train", "Shapes", "--advanced", "--budget", "soon")
    assert code == 2 and "not a duration" in " ".join(err.split())
    code, _, err = run_main(capsys, monkeypatch, "train", "Shapes", "--advanced")
    assert code == 1 and "fine-tunes EfficientNet-Lite backbones" in one_line_error(err)
    assert "Iteration" not in run("iterations", "list", "Shapes").stdout  # nothing queued
