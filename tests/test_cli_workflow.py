"""The project workflow through the command line only: create, upload, train, evaluate, publish, predict.

Each test gets its own SIGHTLINE_HOME (database and blobs) while SIGHTLINE_CACHE stays the session's,
so the tiny backbone is built and exported to ONNX once for the whole run.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sightline.cli import app, main
from sightline.service import Workspace, iterations, projects
from sightline.synthetic import make_image, make_unrelated_image, multi_label_dataset, to_jpeg

KINDS = ["circle", "square", "triangle"]
PER_KIND = 15


@pytest.fixture(autouse=True)
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sightline_home: Path) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("SIGHTLINE_HOME", str(home))
    monkeypatch.setenv("SIGHTLINE_CACHE", str(sightline_home / "cache"))
    monkeypatch.delenv("SIGHTLINE_DATABASE_URL", raising=False)
    monkeypatch.delenv("SIGHTLINE_BLOB_URL", raising=False)
    return home


def run(*args: str, code: int = 0):
    """Invoke the CLI in-process; assert the exit code and return the result (stdout, stderr)."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result


def run_main(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    """Through `main()`, as the installed `sightline` script runs: how errors really reach the user."""
    monkeypatch.setattr(sys, "argv", ["sightline", *args])
    with pytest.raises(SystemExit) as info:
        main()
    out, err = capsys.readouterr()
    return info.value.code, out, err


def write_shapes(folder: Path, kinds: list[str], per_kind: int, seed: int = 0) -> dict[str, list[Path]]:
    """`folder/<kind>/<kind>-<i>.jpg` synthetic photos; returns the paths per kind."""
    paths: dict[str, list[Path]] = {}
    for k, kind in enumerate(kinds):
        (folder / kind).mkdir(parents=True, exist_ok=True)
        paths[kind] = []
        for i in range(per_kind):
            path = folder / kind / f"{kind}-{i}.jpg"
            path.write_bytes(to_jpeg(make_image([kind], seed=seed * 10_000 + k * 1000 + i)))
            paths[kind].append(path)
    return paths


def write_multilabel_csv(folder: Path, n: int) -> Path:
    """Images and a `path,tags` CSV (tags separated by ';') with each kind on ~half the images."""
    images, labels = multi_label_dataset(n, kinds=KINDS, seed=3)
    (folder / "photos").mkdir(parents=True)
    table = folder / "labels.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "tags"])
        for i, (data, tags) in enumerate(zip(images, labels, strict=True)):
            (folder / "photos" / f"{i}.jpg").write_bytes(data)
            writer.writerow([f"photos/{i}.jpg", ";".join(tags)])
    for kind in KINDS:
        assert sum(kind in tags for tags in labels) >= PER_KIND
    return table


def one_line_error(err: str) -> str:
    """The single `error: ...` message. (`cli.main` lets Rich wrap it at the console width, so unwrap.)"""
    assert "Traceback" not in err and err.count("error:") == 1, err
    assert err.startswith("error: ")
    return " ".join(err.split())


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["Multiclass", "Multilabel"])
def test_whole_workflow(kind: str, tmp_path: Path):
    run("projects", "create", "Shapes", "--type", kind, "--domain", "tiny", "--description", "shapes")
    if kind == "Multiclass":
        for name in KINDS:
            run("tags", "create", "Shapes", name)
        paths = write_shapes(tmp_path / "photos", KINDS, PER_KIND)
        for name in KINDS:
            added = run("images", "add", "Shapes", *map(str, paths[name]), "--tag", name)
            assert f"added {PER_KIND}, duplicates 0, failed 0" in added.stdout
        again = run("images", "add", "Shapes", str(paths["circle"][0]), "--tag", "circle")
        assert "duplicates 1" in again.stdout
    else:
        table = write_multilabel_csv(tmp_path, 45)
        first = run("images", "import", "Shapes", str(table))
        assert "added 45, duplicates 0, failed 0" in first.stdout
        assert "created tags:" in first.stdout
        second = json.loads(run("images", "import", "Shapes", str(table), "--json").stdout)
        assert second == {"added": 0, "test_images": 0, "duplicates": 45, "tags_created": [], "failed": []}
    tags = json.loads(run("tags", "list", "Shapes", "--json").stdout)
    assert sorted(t["name"] for t in tags) == KINDS
    assert all(t["image_count"] >= PER_KIND for t in tags)

    trained = run("train", "Shapes")
    assert "Iteration 1 completed" in trained.stdout
    assert "precision" in trained.stdout.lower()

    shown = run("iterations", "show", "Shapes")
    for needle in ("Completed", "precision", "recall", *KINDS):
        assert needle.lower() in shown.stdout.lower(), shown.stdout
    details = json.loads(run("iterations", "show", "Shapes", "Iteration 1", "--json").stdout)
    assert details["iteration"]["status"] == "Completed"
    assert details["report"]["per_tag"] and details["report"]["threshold"] == 0.5
    strict = json.loads(run("iterations", "show", "Shapes", "--threshold", "0.9", "--json").stdout)["report"]
    assert strict["threshold"] == 0.9 and strict["recall"] <= details["report"]["recall"]

    probe = tmp_path / "probe.jpg"
    probe.write_bytes(to_jpeg(make_image(["square"], seed=4242)))
    tested = run("test", "Shapes", str(probe))
    assert "square" in tested.stdout and "stored as prediction" in tested.stdout
    unpublished = run("predict", "Shapes", str(probe), code=1)
    assert "nothing of project 'Shapes' is published" in unpublished.stderr
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    odd = tmp_path / "odd.jpg"
    odd.write_bytes(to_jpeg(make_unrelated_image(7)))
    mixed = run("test", "Shapes", str(broken), str(odd), "--no-store", "--json", code=1)
    bad, good = json.loads(mixed.stdout)  # the broken file is reported, the other image still answered
    assert bad["error"]["reason"] == "not_an_image" and good["stored"] is False and good["unknown_score"] > 0

    run("publish", "Shapes", "Iteration 1", "production")
    listed = json.loads(run("iterations", "list", "Shapes", "--json").stdout)
    assert listed[0]["publish_name"] == "production"

    human = run("predict", "Shapes", str(probe), "--name", "production", "--no-store")
    assert str(probe) in human.stdout and "%" in human.stdout
    (answer,) = json.loads(run("predict", "Shapes", str(probe), "--json").stdout)
    assert answer["image"] == str(probe)
    assert {p["tag_name"] for p in answer["predictions"]} == set(KINDS)
    assert answer["predictions"][0]["probability"] >= answer["predictions"][-1]["probability"]

    out = tmp_path / "report.html"
    run("report", "Shapes", "--out", str(out))
    page = out.read_text()
    assert page.count("<img") >= 3 and "data:image/png;base64," in page
    assert all(name in page for name in KINDS)

    run("unpublish", "Shapes", "Iteration 1")
    run("projects", "delete", "Shapes", "--yes")
    assert json.loads(run("projects", "list", "--json").stdout) == []


def test_user_errors_are_one_line_and_exit_1(tmp_path: Path, capsys, monkeypatch):
    code, _, err = run_main(capsys, monkeypatch, "projects", "show", "Nope")
    assert code == 1 and "Nope" in one_line_error(err)

    run("projects", "create", "Shapes", "--domain", "tiny")
    missing = tmp_path / "missing.jpg"
    code, out, err = run_main(capsys, monkeypatch, "test", "Shapes", str(missing))  # per file, as `images add`
    assert code == 1 and "does not exist" in out and "Traceback" not in out + err

    for name in KINDS:
        run("tags", "create", "Shapes", name)
    paths = write_shapes(tmp_path / "photos", ["circle", "square"], 5)
    run("images", "add", "Shapes", *map(str, paths["circle"]), "--tag", "circle")
    run("images", "add", "Shapes", *map(str, paths["square"][:2]), "--tag", "square")
    code, _, err = run_main(capsys, monkeypatch, "train", "Shapes")
    line = one_line_error(err)
    assert code == 1 and "square (2)" in line and "triangle (0)" in line

    bad = run("images", "add", "Shapes", str(missing), str(paths["square"][2]), "--tag", "square", code=1)
    assert "failed" in bad.stdout and "does not exist" in bad.stdout and "added 1," in bad.stdout

    refused = run("projects", "delete", "Shapes", code=1)  # no terminal and no --yes: never guess
    assert "--yes" in refused.stderr
    assert json.loads(run("projects", "show", "Shapes", "--json").stdout)["image_count"] == 8

    code, _, err = run_main(capsys, monkeypatch, "images", "delete", "Shapes")
    assert code == 2  # a usage error: neither ids nor --all

    code, _, err = run_main(capsys, monkeypatch, "projects", "create", "Broken", "--domain", "no-such-backbone")
    assert code == 1 and "domain 'no-such-backbone' cannot be used: unknown backbone" in one_line_error(err)
    assert "Broken" not in run("projects", "list").stdout  # refused when created, not at its first training
    ws = Workspace.open()  # a project whose backbone went missing after it was created still fails clearly
    try:
        projects.create_project(ws, "Broken", domain="no-such-backbone")
    finally:
        ws.close()
    run("images", "import", "Broken", str(tmp_path / "photos"))
    code, _, err = run_main(capsys, monkeypatch, "train", "Broken")  # queued, then fails in the worker
    assert code == 1 and "Iteration 1 failed: unknown backbone" in one_line_error(err)
    assert json.loads(run("iterations", "show", "Broken", "--json").stdout)["iteration"]["status"] == "Failed"


def test_listings_as_json_and_tables(tmp_path: Path):
    created = json.loads(run("projects", "create", "Pets", "--domain", "tiny", "--json").stdout)
    assert created["name"] == "Pets" and created["classification_type"] == "Multiclass"
    run("tags", "create", "Pets", "circle")
    run("tags", "create", "Pets", "nothing", "--negative")
    paths = write_shapes(tmp_path / "photos", ["circle"], 3)
    run("images", "add", "Pets", *map(str, paths["circle"][:2]), "--tag", "circle")
    run("images", "add", "Pets", str(paths["circle"][2]))

    listed = json.loads(run("images", "list", "Pets", "--json").stdout)
    assert len(listed) == 3 and listed[0]["created"].startswith("20")
    untagged = json.loads(run("images", "list", "Pets", "--untagged", "--json").stdout)
    assert len(untagged) == 1 and untagged[0]["tags"] == []
    run("images", "tag", "Pets", untagged[0]["id"], "--tag", "circle")
    assert json.loads(run("images", "list", "Pets", "--tag", "circle", "--json").stdout).__len__() == 3
    run("images", "untag", "Pets", untagged[0]["id"], "--tag", "circle")
    run("images", "delete", "Pets", untagged[0]["id"])
    assert len(json.loads(run("images", "list", "Pets", "--json").stdout)) == 2

    tags = {t["name"]: t for t in json.loads(run("tags", "list", "Pets", "--json").stdout)}
    assert tags["nothing"]["type"] == "Negative" and tags["circle"]["image_count"] == 2
    table = run("tags", "list", "Pets").stdout
    assert "circle" in table and "Negative" in table
    run("tags", "delete", "Pets", "nothing")
    assert json.loads(run("iterations", "list", "Pets", "--json").stdout) == []
    assert "Pets" in run("projects", "list").stdout
    run("images", "delete", "Pets", "--all", "--yes")
    assert json.loads(run("projects", "show", "Pets", "--json").stdout)["image_count"] == 0


def test_train_without_waiting_then_a_worker_stopped_by_sigterm(tmp_path: Path, request):
    run("projects", "create", "Shapes", "--domain", "tiny")
    paths = write_shapes(tmp_path / "photos", KINDS[:2], 6)
    for name in KINDS[:2]:
        run("tags", "create", "Shapes", name)
        run("images", "add", "Shapes", *map(str, paths[name]), "--tag", name)
    assert "queued Iteration 1" in run("train", "Shapes", "--no-wait").stdout

    def stop_when_trained() -> None:  # through the service: CliRunner swaps sys.stdout, one at a time only
        ws = Workspace.open()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if iterations.list_iterations(ws, "Shapes")[0].status not in ("Queued", "Training"):
                    break
                time.sleep(0.1)
        finally:
            ws.close()
            os.kill(os.getpid(), signal.SIGTERM)

    # A SIGTERM that arrives after the command restored the handlers must not kill pytest.
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    request.addfinalizer(lambda: signal.signal(signal.SIGTERM, previous))
    stopper = threading.Thread(target=stop_when_trained)
    stopper.start()
    stopped = run("worker", "--poll", "0.1")
    stopper.join()
    assert "SIGTERM" in stopped.stderr and "worker stopped" in stopped.stderr
    (iteration,) = json.loads(run("iterations", "list", "Shapes", "--json").stdout)
    assert iteration["status"] == "Completed", iteration["error"]


def test_ctrl_c_while_waiting_cancels_the_training(tmp_path: Path, monkeypatch):
    from sightline.commands import training as training_commands

    class IdleWorker:  # keeps the job queued, so the cancellation is deterministic
        def __init__(self, ws):
            pass

        def run_once(self) -> bool:
            return False

    def interrupted(ws, queued, project_ref):
        raise KeyboardInterrupt

    monkeypatch.setattr(training_commands, "Worker", IdleWorker)
    monkeypatch.setattr(training_commands, "_show_progress", interrupted)
    run("projects", "create", "Shapes", "--domain", "tiny")
    paths = write_shapes(tmp_path / "photos", KINDS[:2], 5)
    for name in KINDS[:2]:
        run("tags", "create", "Shapes", name)
        run("images", "add", "Shapes", *map(str, paths[name]), "--tag", name)
    result = run("train", "Shapes", code=130)
    assert "cancelled Iteration 1" in result.stderr
    (iteration,) = json.loads(run("iterations", "list", "Shapes", "--json").stdout)
    assert iteration["status"] == "Cancelled"


def test_prediction_block_explains_the_flags_in_words(capsys):
    from sightline.commands.predict import print_prediction
    from sightline.errors import NotAnImageError
    from sightline.service.views import PredictionView

    view = PredictionView(
        id="p1", project_id="x", iteration_id="i1", created=datetime.now(UTC), threshold=0.5,
        predictions=[
            {"tag_id": "a", "tag_name": "circle", "probability": 0.46, "above_threshold": False},
            {"tag_id": "b", "tag_name": "[square]", "probability": 0.44, "above_threshold": False},
        ],
        uncertain=True, unknown_score=0.995, unknown=True, stored=False,
        reasons=[
            {"code": "unknown", "unknown_score": 0.995, "unknown_threshold": 0.99},
            {"code": "below_threshold", "tag": "circle", "probability": 0.46, "threshold": 0.5},
            {"code": "close_runner_up", "tag": "circle", "probability": 0.46, "runner_up": "[square]",
             "runner_up_probability": 0.44, "margin": 0.1},
        ],
    )  # fmt: skip
    print_prediction(Path("odd.jpg"), view)
    print_prediction(Path("junk.jpg"), NotAnImageError("'junk.jpg' is not an image"))
    out = capsys.readouterr().out
    assert "circle" in out and "46.0%" in out and "[square]" in out  # tag names are text, not Rich markup
    assert "no tag counts: the image is unlike the training images" in out and "(threshold 0.5)" in out
    assert "no tag reaches its threshold" not in out  # unknown, not merely below the thresholds
    assert "UNCERTAIN (below_threshold)" in out and "circle, has 0.46, under its threshold 0.50" in out
    assert "UNCERTAIN (close_runner_up)" in out and "[square] (0.44)" in out
    assert "UNKNOWN (unknown)" in out and "unlike the training images (unknown score 0.99" in out
    assert "stored as prediction" not in out
    assert "junk.jpg" in out and "error: 'junk.jpg' is not an image" in out


def test_reports_are_read_defensively(capsys):
    """An old or partial report (keys missing) still shows and renders; mistakes rank by confidence."""
    from sightline.commands import render
    from sightline.commands.report import render_page
    from sightline.reporting import performance
    from sightline.service.performance import at_threshold
    from sightline.service.report import StoredReport
    from sightline.service.views import IterationView, ProjectView

    now = datetime.now(UTC)
    stored = {
        "tags": ["cat", "dog"],
        "multilabel": True,
        "image_keys": ["a" * 64, "b" * 64],
        "images": [
            {"index": 0, "true_tags": ["cat"], "probabilities": [0.2, 0.9], "predicted_tags": ["dog"]},
            {"index": 1, "true_tags": ["dog"], "probabilities": [0.4, 0.3], "predicted_tags": []},
            {"index": 5, "true_tags": ["cat"], "probabilities": [0.9, 0.1], "predicted_tags": ["cat"]},
        ],
        "per_tag": [{"tag": "cat", "precision": 0.5}],
    }
    report = StoredReport.from_dict(stored)
    worst = performance.mistakes(report, limit=5)
    assert [(m.image_key, round(m.confidence, 2)) for m in worst] == [("a" * 64, 0.9), ("b" * 64, 0.7)]
    shifted = at_threshold(report, 0.35)
    assert shifted.threshold == 0.35 and shifted.recall == pytest.approx(1 / 3)
    assert {t.tag for t in shifted.per_tag} == {"cat", "dog"}

    render.print_report(report)
    render.print_report(StoredReport())
    assert "cat" in capsys.readouterr().out

    project = ProjectView("p", "Pets", "", "Multilabel", "tiny", 0.5, now, now)
    iteration = IterationView(
        "i",
        "p",
        "Iteration 1",
        "Completed",
        "Multilabel",
        "tiny",
        now,
        now,
        now,
        now,
        1.0,
        None,
        0,
        0,
        None,
        None,
        None,
    )
    page = render_page(project, iteration, report, worst, {"a" * 64: "data:image/jpeg;base64,AAAA"})
    assert "Pets: Iteration 1" in page and "data:image/jpeg;base64,AAAA" in page and "dog" in page
    assert "Confusion matrix" not in page  # Multilabel has none


def test_demo_runs_offline_on_real_photos_and_the_packaged_model(monkeypatch):
    """The README's main command, with the hub unreachable: real photos, the packaged real model, real figures."""
    from sightline import backbones

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SIGHTLINE_BACKBONE", raising=False)
    backbones._default_here.cache_clear()
    result = run("demo")
    output = " ".join(result.output.split())
    assert "on backbone efficientnet-lite0" in output and "RANDOM" not in output and "tiny" not in output
    assert "uploaded 64 real product photos" in output
    assert "Iteration 1: Completed" in output
    accuracy = float(re.search(r"accuracy (\d+\.\d)%", output).group(1))
    assert accuracy >= 80.0, output  # cross-validated on 4 tags x 16 real photos
    lens_cap = output.split("lens-cap-on.jpg", 1)[1]
    assert "UNKNOWN" in lens_cap.split("pre-built tags", 1)[0]  # the off-topic photo is flagged
    assert "clothing" in output.split("pre-built tags, no training", 1)[1].split("publish", 1)[0]
    assert "published Iteration 1 as 'demo'" in output
    listed = json.loads(run("projects", "list", "--json").output)
    assert [(p["name"], p["domain"], p["image_count"]) for p in listed] == [
        ("Sightline demo (clothing)", "efficientnet-lite0", 64)
    ]
    run("demo")  # a second run starts afresh instead of failing on the existing project


def test_the_cli_starts_without_the_machine_learning_stack():
    """Every command imports the CLI; only training, reports and predictions need scikit-learn or a model runtime."""
    code = "import sys, sightline.cli; print(sorted({'sklearn', 'scipy', 'torch', 'onnxruntime'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
