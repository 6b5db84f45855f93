"""JSON logs (SIGHTLINE_LOG_JSON=1): one object per line with time, level, logger, message and, while an
HTTP request is answered, its request id (the client's X-Request-Id when sane, echoed in the response)."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from api_server import run_async, sightline_server

from sightline.logs import REQUEST_ID, JsonFormatter

REPOSITORY = Path(__file__).resolve().parents[1]
DEADLINE_SECONDS = 120  # a process start on a shared, loaded machine


def _record(message: str, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("sightline.test", logging.WARNING, __file__, 1, message, (), exc_info)


def test_a_record_is_one_json_object_with_the_request_id_when_there_is_one():
    formatter = JsonFormatter()
    plain = json.loads(formatter.format(_record("a line\nwith a newline")))
    assert set(plain) == {"time", "level", "logger", "message"}
    assert plain["level"] == "WARNING" and plain["logger"] == "sightline.test"
    assert plain["message"] == "a line\nwith a newline" and plain["time"].endswith("+00:00")
    token = REQUEST_ID.set("req-1")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            line = formatter.format(_record("failed", sys.exc_info()))
    finally:
        REQUEST_ID.reset(token)
    assert "\n" not in line
    failed = json.loads(line)
    assert failed["request_id"] == "req-1" and "ValueError: boom" in failed["exception"]


class _Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(JsonFormatter().format(record)))


def test_lines_logged_while_answering_a_request_carry_its_id_even_from_worker_threads(tmp_path: Path):
    captured = _Captured()
    logger = logging.getLogger("sightline.test.requests")
    logger.addHandler(captured)
    logger.setLevel(logging.INFO)
    try:
        with sightline_server(tmp_path, start_worker=False, web=False) as server:

            @server.app.get("/test-log")
            def log_something() -> dict:  # a sync route: FastAPI runs it in a worker thread
                logger.info("inside the route")
                return {}

            async def calls() -> list[httpx.Response]:
                async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
                    given = await client.get("/test-log", headers={"X-Request-Id": "client-id-42"})
                    forged = await client.get("/test-log", headers={"X-Request-Id": 'x" injected\\n'})
                    return [given, forged]

            given, forged = run_async(calls())
    finally:
        logger.removeHandler(captured)
    assert given.headers["x-request-id"] == "client-id-42"
    assert forged.headers["x-request-id"] != 'x" injected\\n' and len(forged.headers["x-request-id"]) == 32
    assert [line["request_id"] for line in captured.lines] == ["client-id-42", forged.headers["x-request-id"]]
    assert REQUEST_ID.get() is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_serve_and_worker_write_json_lines(tmp_path: Path):
    env = {
        **os.environ,
        "SIGHTLINE_LOG_JSON": "1",
        "SIGHTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "SIGHTLINE_BLOB_URL": str(tmp_path / "blobs"),
        "HF_HUB_OFFLINE": "1",
    }
    port = _free_port()
    command = [sys.executable, "-m", "sightline.cli"]
    logs = {name: tmp_path / f"{name}.log" for name in ("serve", "worker")}
    serve_args = ["serve", "--port", str(port), "--no-worker", "--backbone", "tiny"]
    processes = {}
    for name, arguments in (("serve", serve_args), ("worker", ["worker", "--poll", "0.2"])):
        with logs[name].open("wb") as out:
            processes[name] = subprocess.Popen(
                command + arguments, cwd=REPOSITORY, env=env, stdout=out, stderr=subprocess.STDOUT
            )
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            assert processes["serve"].poll() is None, logs["serve"].read_text()
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"X-Request-Id": "probe-7"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, logs["serve"].read_text()
                time.sleep(0.2)
        assert response.headers["x-request-id"] == "probe-7"
        while not any(
            "waiting for training jobs" in line["message"] for line in _json_lines(logs["worker"].read_text())
        ):
            assert processes["worker"].poll() is None and time.monotonic() < deadline, logs["worker"].read_text()
            time.sleep(0.2)
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            process.wait(timeout=60)
    served = _json_lines(logs["serve"].read_text())
    access = [line for line in served if line["logger"] == "uvicorn.access"]
    assert any("GET /healthz" in line["message"] and line.get("request_id") == "probe-7" for line in access), served
    for line in served + _json_lines(logs["worker"].read_text()):
        assert {"time", "level", "logger", "message"} <= set(line)
