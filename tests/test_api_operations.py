"""Operations: /healthz, /readyz (database, blob store, backbones) and Prometheus /metrics."""

from __future__ import annotations

import httpx
from api_server import run_async

from sightline.api import load_keys
from sightline.app import create_app
from sightline.service import Workspace
from sightline.store import BlobStore


def _get(app, *paths: str, headers: dict | None = None) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.get(path, headers=headers or {}) for path in paths]

    return run_async(run())


def test_health_readiness_and_metrics(store, tmp_path, tiny_backbone):
    ws = Workspace(store, BlobStore(str(tmp_path / "blobs")))
    app = create_app(ws, start_worker=False, backbones=["tiny"], web=False)
    keys = load_keys(ws)
    health, ready, domains, missing = _get(
        app,
        "/healthz",
        "/readyz",
        "/customvision/v3.3/training/domains",
        "/customvision/v3.3/training/projects/00000000-0000-0000-0000-000000000000",
        headers={"Training-Key": keys.training_key},
    )
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200, ready.json()
    assert ready.json()["checks"] == {"database": "ok", "blobs": "ok", "backbones": "ok"}
    assert domains.status_code == 200 and missing.status_code == 404
    (metrics,) = _get(app, "/metrics")
    text = metrics.text
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'route="/customvision/v3.3/training/domains",status="200"' in text
    assert 'route="/customvision/v3.3/training/projects/{projectId}",status="404"' in text
    assert "sightline_http_request_seconds_bucket" in text
    for name in ("prediction_batch_size", "prediction_queue_depth", "training_seconds", "predictions_total"):
        assert f"sightline_{name}" in text


def test_readiness_fails_with_reasons_when_the_blob_store_is_unusable(store, tmp_path, tiny_backbone):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the blob folder should be")
    ws = Workspace(store, BlobStore(str(blocker / "blobs")))
    app = create_app(ws, start_worker=False, backbones=["tiny"], web=False)
    (ready,) = _get(app, "/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable" and body["checks"]["database"] == "ok"
    assert body["checks"]["blobs"].startswith("error:")
