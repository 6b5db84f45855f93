"""Fixtures shared by the whole suite: an isolated SIGHTLINE_HOME, the tiny backbone, ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["store_fixtures", "s3_fixtures", "web_fixtures"]  # databases; S3 (SeaweedFS); Chromium for the web UI

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_MODELS = SHARED / "models"
SHARED_DATA = SHARED / "data" / "clothing-dataset-small" / "data"

needs_shared_models = pytest.mark.skipif(not SHARED_MODELS.is_dir(), reason="../shared/models is absent")
needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent")


@pytest.fixture(scope="session", autouse=True)
def sightline_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test session writes under a temporary SIGHTLINE_HOME, never the user's."""
    home = tmp_path_factory.getbasetemp() / "sightline-home"
    home.mkdir(exist_ok=True)
    os.environ["SIGHTLINE_HOME"] = str(home)
    os.environ.pop("SIGHTLINE_CACHE", None)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the network
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # the workers of one run share ONNX exports (keyed by weights, written atomically): the packaged
        # model is exported once per run, not once per worker
        shared = tmp_path_factory.getbasetemp().parent / "onnx-exports"
        shared.mkdir(exist_ok=True)
        (home / "cache").mkdir(exist_ok=True)
        if not (home / "cache" / "onnx").exists():
            (home / "cache" / "onnx").symlink_to(shared, target_is_directory=True)
    return home


@pytest.fixture(scope="session")
def tiny_backbone(sightline_home: Path):
    from sightline.backbones import create_backbone

    return create_backbone("tiny")
