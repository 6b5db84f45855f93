"""Hostile values from the red-team pass: each is a 400 naming the field, never a 500.

And a 500 (a bug) still answers, then closes the connection cleanly, so a keep-alive client is not
left writing its next request into a dropped socket.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from api_server import RunningServer, sightline_server

from sightline.service import projects

ANALYZE = "/computervision/imageanalysis:analyze?features=tags&api-version=2024-02-01"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with sightline_server(tmp_path_factory.mktemp("hostile"), start_worker=False) as running:

        def boom() -> None:
            raise RuntimeError("a bug")

        running.app.add_api_route("/boom", boom)
        yield running


@pytest.fixture(scope="module")
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.training_url(), headers={"Training-Key": server.training_key}, timeout=60
    ) as client:
        yield client


@pytest.fixture(scope="module")
def project_id(api: httpx.Client) -> str:
    return api.post("/projects", params={"name": "Hostile"}).json()["id"]


@pytest.mark.parametrize("skip", ["9223372036854775808", str(10**30), "9223372036854775807", "-1"])
def test_huge_or_negative_skip_is_a_400_naming_skip(api: httpx.Client, project_id: str, skip: str):
    for route in ("images", "images/tagged", "images/untagged"):
        answer = api.get(f"/projects/{project_id}/{route}", params={"skip": skip})
        assert answer.status_code == 400, answer.text
        assert answer.json()["message"].startswith("query.skip:")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"startTime": "0001-01-01T00:00:00+05:00"}, "body.startTime"),
        ({"endTime": "9999-12-31T23:59:59-05:00"}, "body.endTime"),
        ({"tags": [{"id": "x", "minThreshold": 0.9, "maxThreshold": 0.1}]}, "body.tags.0"),
        ({"tags": [{"id": "x", "minThreshold": -0.5}]}, "body.tags.0.minThreshold"),
    ],
)
def test_prediction_query_values_out_of_range_are_a_400_naming_the_field(
    api: httpx.Client, project_id: str, body: dict, field: str
):
    answer = api.post(f"/projects/{project_id}/predictions/query", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"].startswith(field)


def test_times_at_the_edges_in_utc_are_accepted(api: httpx.Client, project_id: str):
    body = {"startTime": "0001-01-01T05:00:00+05:00", "endTime": "9999-12-31T23:59:59Z"}
    answer = api.post(f"/projects/{project_id}/predictions/query", json=body)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("body", [{"url": 5}, {"url": None}, [1], {"url": {"a": 1}}])
def test_analyze_with_a_url_that_is_not_a_string_names_url_without_a_dump(server: RunningServer, body):
    answer = httpx.post(server.url + ANALYZE, json=body, headers={"Ocp-Apim-Subscription-Key": server.prediction_key})
    assert answer.status_code == 400
    message = answer.json()["error"]["message"]
    assert "errors.pydantic.dev" not in message and "input_value" not in message
    if isinstance(body, dict):
        assert "url: Input should be a valid string" in message


def test_after_a_500_the_connection_is_closed_cleanly_and_the_next_request_answers(server: RunningServer):
    with httpx.Client(base_url=server.url) as client:
        failed = client.get("/boom")
        assert failed.status_code == 500
        assert failed.json() == {"code": "ErrorUnknown", "message": "internal error: see the server log"}
        assert failed.headers["connection"] == "close"
        assert client.get("/openapi.json").status_code == 200  # a new connection, not a reset


def test_a_client_gone_mid_body_is_one_info_line_not_an_error(server: RunningServer, project_id: str, caplog):
    import logging
    import socket
    import time
    from urllib.parse import urlsplit

    address = urlsplit(server.url)
    caplog.set_level(logging.INFO)
    for _ in range(3):
        with socket.create_connection((address.hostname, address.port)) as sock:
            sock.sendall(
                f"POST /customvision/v3.3/training/projects/{project_id}/images HTTP/1.1\r\n"
                f"Host: {address.netloc}\r\nTraining-Key: {server.training_key}\r\n"
                "Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n".encode()
                + b"x" * 1000
            )
            time.sleep(0.3)
    time.sleep(1)
    gone = [r for r in caplog.records if "disconnected during POST" in r.getMessage()]
    assert len(gone) == 3 and all(r.levelno == logging.INFO for r in gone)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


def test_wrong_keys_are_throttled_per_address_before_the_key_is_checked(tmp_path):
    with (
        sightline_server(tmp_path, start_worker=False, auth_failures_per_minute=1) as running,
        httpx.Client(base_url=running.training_url()) as client,
    ):
        wrong = [client.get("/projects", headers={"Training-Key": f"guess-{i}"}) for i in range(12)]
        assert [r.status_code for r in wrong] == [401] * 10 + [429] * 2
        assert wrong[-1].json()["code"] == "TooManyRequests" and int(wrong[-1].headers["retry-after"]) >= 1
        # even the right key waits now: a guess that happens to be right must not get through
        right = client.get("/projects", headers={"Training-Key": running.training_key})
        assert right.status_code == 429
        signin = client.post(running.url + "/login", data={"key": "guess"}, headers={"accept": "application/json"})
        assert signin.status_code == 429


def test_a_stalled_body_is_a_408_and_the_connection_closes(tmp_path, monkeypatch):
    import socket
    from urllib.parse import urlsplit

    monkeypatch.setenv("SIGHTLINE_BODY_TIMEOUT_SECONDS", "1")
    with sightline_server(tmp_path, start_worker=False) as running:
        project = projects.create_project(running.ws, "Slow", domain="tiny")
        address = urlsplit(running.url)
        with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
            sock.sendall(
                f"POST /customvision/v3.3/training/projects/{project.id}/images HTTP/1.1\r\n"
                f"Host: {address.netloc}\r\nTraining-Key: {running.training_key}\r\n"
                "Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\nxx".encode()
            )
            answer = b""
            while chunk := sock.recv(4096):  # the server answers, then closes: recv returns b""
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b'"code":"RequestTimeout"' in body


def test_slow_headers_are_cut_off_and_a_prompt_client_is_served(tmp_path, monkeypatch):
    """A client that trickles its request head (slowloris) loses the connection; one that sends it in time,
    even over a kept-alive connection after a pause, is answered."""
    import socket
    from urllib.parse import urlsplit

    monkeypatch.setenv("SIGHTLINE_HEADER_TIMEOUT_SECONDS", "1")
    with sightline_server(tmp_path, start_worker=False) as running:
        address = urlsplit(running.url)
        with socket.create_connection((address.hostname, address.port), timeout=30) as slow:
            slow.sendall(f"GET /healthz HTTP/1.1\r\nHost: {address.netloc}\r\nX-Slow: ".encode())
            assert slow.recv(4096) == b""  # closed, no answer to a head never finished (else: a socket timeout)
        with socket.create_connection((address.hostname, address.port), timeout=30) as silent:
            assert silent.recv(4096) == b""  # a connection that never sends a byte goes too
        with socket.create_connection((address.hostname, address.port), timeout=30) as prompt:
            request = f"GET /healthz HTTP/1.1\r\nHost: {address.netloc}\r\n\r\n".encode()
            prompt.sendall(request)
            assert _read_response(prompt).startswith(b"HTTP/1.1 200")
            prompt.sendall(request[:10])  # the next request on the same connection, begun and left unfinished
            assert prompt.recv(4096) == b""


def _read_response(sock) -> bytes:
    """One whole HTTP/1.1 response (head, then Content-Length bytes of body) from a kept-alive socket."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(4096)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head + b"\r\n\r\n" + body
