"""Sightline on S3 (SeaweedFS): the whole store workflow on SQLite + S3 and PostgreSQL + S3, start-up
errors for a missing bucket or refused keys, and retries when the server throttles."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from shapes_project import shapes_project

from sightline.errors import BlobStoreError
from sightline.service import Worker, Workspace, images, iterations, predictions, projects, training
from sightline.store import BlobStore
from sightline.synthetic import make_image, to_jpeg


@pytest.fixture
def s3_ws(store, s3_blob_url: str) -> Iterator[Workspace]:
    blobs = BlobStore(s3_blob_url)
    blobs.check()
    yield Workspace(store, blobs)


def _objects(ws: Workspace) -> set[str]:
    fs = ws.blobs.fs
    return {path.rsplit("/", 1)[1] for path in fs.find(ws.blobs.root)} if fs.exists(ws.blobs.root) else set()


def test_upload_train_publish_predict_export_and_delete_on_s3(s3_ws: Workspace):
    ws = s3_ws
    project = shapes_project(ws, "Shapes", 5)
    listed = images.list_images(ws, project.id, take=100)
    keys = {image.sha256 for image in listed}
    stored = _objects(ws)
    assert keys <= stored and {f"{key}.thumb" for key in keys} <= stored
    first = listed[0]
    assert images.image_bytes(ws, project.id, first.id)[:2] == b"\xff\xd8"

    queued = training.start_training(ws, project.id)
    assert Worker(ws).run_once() is True
    done = iterations.get_iteration(ws, project.id, queued.id)
    assert done.status == "Completed", done.error
    iterations.publish_iteration(ws, project.id, done.id, "production")
    (view,) = predictions.predict(
        ws, project.id, [to_jpeg(make_image(["circle"], seed=4242))], publish_name="production"
    )
    assert view.stored and view.predictions[0].tag_name in {"circle", "square", "triangle"}
    assert predictions.prediction_image(ws, project.id, view.id)[:2] == b"\xff\xd8"
    export = iterations.export_iteration(ws, project.id, done.id, "ONNX")
    assert export.status == "Completed"
    assert len(iterations.exported_model(ws, project.id, done.id)) > 1000

    # a fresh workspace (another server) reads the same model from the bucket
    other = Workspace(ws.store, BlobStore(ws.blobs.url))
    (again,) = predictions.predict(
        other, project.id, [to_jpeg(make_image(["circle"], seed=4242))], publish_name="production", store=False
    )
    assert again.predictions == view.predictions

    iterations.unpublish_iteration(ws, project.id, done.id)
    projects.delete_project(ws, project.id)
    assert projects.list_projects(ws) == []
    gone = keys | {f"{key}.thumb" for key in keys}
    assert not gone & _objects(ws)  # no other project refers to them: deleted photos are gone from the bucket


def test_a_missing_bucket_is_a_start_up_error(s3_env):
    with pytest.raises(BlobStoreError, match="bucket does not exist"):
        Workspace.open("sqlite://", "s3://no-such-bucket/prefix")


def test_refused_keys_are_a_start_up_error(s3_server, monkeypatch):
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SIGHTLINE_S3_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(BlobStoreError, match="access refused"):
        BlobStore(f"s3://{s3_server.bucket}/x").check()


def test_an_unreachable_endpoint_is_a_start_up_error(monkeypatch):
    monkeypatch.setenv("SIGHTLINE_S3_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("SIGHTLINE_S3_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("SIGHTLINE_S3_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("SIGHTLINE_S3_MAX_ATTEMPTS", "1")
    with pytest.raises(BlobStoreError, match="cannot be reached"):
        BlobStore("s3://bucket/x").check()


class _Throttling(BaseHTTPRequestHandler):
    """Answers 503 SlowDown to every other request, forwards the rest to the real server."""

    protocol_version = "HTTP/1.1"  # so that `Expect: 100-continue` uploads are answered, not left waiting
    upstream: str = ""
    seen = 0
    throttled = 0
    lock = threading.Lock()

    def _handle(self) -> None:
        with self.lock:
            type(self).seen += 1
            throttle = self.seen % 2 == 1
            type(self).throttled += throttle
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if throttle:
            payload = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
            self.send_response(503)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        target = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "expect")}
        conn.request(self.command, self.path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _handle

    def log_message(self, *args) -> None:
        pass


def test_throttled_requests_are_retried_with_backoff(s3_server, s3_blob_url, monkeypatch):
    handler = type("Handler", (_Throttling,), {"upstream": s3_server.endpoint, "seen": 0, "throttled": 0})
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        # The proxy forwards Host as the client sent it, so signatures still match the proxy's address.
        monkeypatch.setenv("SIGHTLINE_S3_ENDPOINT_URL", f"http://127.0.0.1:{proxy.server_address[1]}")
        blobs = BlobStore(s3_blob_url)
        blobs.check()
        data = [f"throttled {i}".encode() for i in range(5)]
        keys = [blobs.put(item) for item in data]
        assert [blobs.get(key) for key in keys] == data
        assert handler.throttled >= 5, "the proxy never throttled: the test proves nothing"
    finally:
        proxy.shutdown()
