"""A full disk: a clear 507 in Custom Vision's error shape, one line in the CLI, and nothing half-written left.

The workspace lives on a tmpfs of a few megabytes mounted for the test (root only: where the machine
refuses the mount, the test is skipped and says so).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from api_server import RunningServer, sightline_server

from sightline.store import Image

REPOSITORY = Path(__file__).resolve().parents[1]
SIZE = "3m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(
            f"this machine refuses a {SIZE} tmpfs mount ({mounted.stderr.decode().strip()}): disk full untested"
        )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _noise_png(seed: int, side: int = 300) -> bytes:
    """Incompressible pixels: a ~270 kB PNG, so a few fill the disk."""
    from io import BytesIO

    from PIL import Image as PILImage

    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    out = BytesIO()
    PILImage.fromarray(pixels).save(out, "PNG", compress_level=0)
    return out.getvalue()


def _fill(path: Path) -> None:
    """Write zeros until the disk refuses (unbuffered, so nothing is left to flush at close)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def _blob_files(folder: Path) -> set[str]:
    return {p.name for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def server(small_disk: Path) -> Iterator[RunningServer]:
    with sightline_server(small_disk, start_worker=False) as running:
        yield running


def test_uploads_on_a_full_disk_answer_507_and_leave_no_orphan_blobs(server: RunningServer, small_disk: Path):
    api = httpx.Client(base_url=server.training_url(), headers={"Training-Key": server.training_key}, timeout=60)
    project = api.post("/projects", params={"name": "Full"}).json()
    answers = []
    for batch in range(8):
        images = [{"name": f"{batch}-{i}.png", "contents": base64.b64encode(_noise_png(batch * 10 + i)).decode()}
                  for i in range(3)]  # fmt: skip
        answers.append(api.post(f"/projects/{project['id']}/images/files", json={"images": images}))
    statuses = [a.status_code for a in answers]
    assert 507 in statuses, statuses  # the disk did fill
    assert set(statuses) <= {200, 507}, [a.text for a in answers]
    full = next(a for a in answers if a.status_code == 507)
    assert full.json()["code"] == "InsufficientStorage"
    assert "full" in full.json()["message"] and "Traceback" not in full.text
    # Every file in the blob store belongs to a stored image: its bytes or its thumbnail; no temporary files.
    with server.ws.session() as session:
        keys = set(session.scalars(Image.__table__.select().with_only_columns(Image.blob_key)))
    expected = keys | {f"{k}.thumb" for k in keys}
    assert _blob_files(small_disk / "blobs") == expected
    assert api.get(f"/projects/{project['id']}/images/count").json() == len(keys)
    # The server still answers, and a new project on a full disk is a 507 too, or fits.
    again = api.post("/projects", params={"name": "After"})
    assert again.status_code in (200, 507), again.text


def test_the_cli_says_disk_full_in_one_line(small_disk: Path):
    filler = small_disk / "filler"
    env = {**os.environ, "SIGHTLINE_HOME": str(small_disk)}
    created = subprocess.run(
        [sys.executable, "-m", "sightline.cli", "projects", "create", "First", "--domain", "tiny"],
        cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    image = small_disk / "one.png"
    image.write_bytes(_noise_png(1))
    _fill(filler)
    done = subprocess.run(
        [sys.executable, "-m", "sightline.cli", "images", "add", "First", str(image)],
        cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "full" in lines[0] and lines[0].startswith("error:"), done.stderr
