"""Azure's JavaScript SDKs from npm (pinned in tests/js/package.json) under Node, doing the quickstart's steps.

The npm packages are installed into build/js on first use (and again when package.json changes), so a
fresh clone's `make test` installs them. Skipped only when node or npm is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_server import RunningServer, sightline_server

from sightline.synthetic import make_image, to_jpeg

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tests" / "js" / "package.json"
INSTALLED = ROOT / "build" / "js"

pytestmark = pytest.mark.skipif(not (shutil.which("node") and shutil.which("npm")), reason="node/npm is absent")


def _node_modules() -> Path:
    """build/js/node_modules with the pinned SDKs, installed when missing or when package.json changed."""
    INSTALLED.mkdir(parents=True, exist_ok=True)
    wanted = PACKAGE.read_text()
    copy = INSTALLED / "package.json"
    if not (INSTALLED / "node_modules").is_dir() or not copy.exists() or copy.read_text() != wanted:
        copy.write_text(wanted)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=INSTALLED,
            check=True,
            timeout=600,
        )
    return INSTALLED / "node_modules"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("api-js")) as running:
        yield running


def test_the_javascript_quickstart_runs_against_sightline(server: RunningServer, tmp_path: Path):
    modules = _node_modules()
    for folder, kind, seed in (("Hemlock", "circle", 0), ("Japanese_Cherry", "square", 100)):
        (tmp_path / "Images" / folder).mkdir(parents=True)
        for i in range(8):
            (tmp_path / "Images" / folder / f"{i}.jpg").write_bytes(to_jpeg(make_image([kind], seed=81_000 + seed + i)))
    (tmp_path / "Images" / "Test").mkdir()
    (tmp_path / "Images" / "Test" / "test_image.jpg").write_bytes(to_jpeg(make_image(["square"], seed=81_999)))
    env = {
        **os.environ,
        "NODE_PATH": str(modules),
        "VISION_TRAINING_KEY": server.training_key,
        "VISION_TRAINING_ENDPOINT": server.url,
        "VISION_PREDICTION_KEY": server.prediction_key,
        "VISION_PREDICTION_ENDPOINT": server.url,
        "VISION_PREDICTION_RESOURCE_ID": "/subscriptions/0/resourceGroups/r/providers/Microsoft.CognitiveServices/x",
    }
    script = ROOT / "tests" / "js" / "quickstart.js"
    run = subprocess.run(["node", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["firstStatus"] == "Training" and seen["finalStatus"] == "Completed"
    assert {p["tagName"] for p in seen["predictions"]} == {"Hemlock", "Japanese Cherry"}
    assert abs(sum(p["probability"] for p in seen["predictions"]) - 1) < 1e-3
