"""Operations endpoints: `/healthz` (the process answers), `/readyz` (it can do its work) and
Prometheus `/metrics`, plus the middleware that counts requests by route and status.

A load balancer sends traffic to a server once `/readyz` says 200: the database answers, the blob
store is reachable (bucket and keys), and the default backbone loads.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from sightline import telemetry

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks = await run_in_threadpool(_checks, request.app)
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics")
async def metrics() -> Response:
    body, content_type = telemetry.render()
    return Response(body, media_type=content_type)


def _checks(app) -> dict[str, str]:
    ws = getattr(app.state, "ws", None)
    if ws is None:
        return {"database": "not open", "blobs": "not open", "backbones": "not loaded"}
    checks = {}
    try:
        with ws.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # whatever the driver raises: reported, not a 500
        checks["database"] = f"error: {exc}"
    try:
        ws.blobs.check()
        checks["blobs"] = "ok"
    except Exception as exc:
        checks["blobs"] = f"error: {exc}"
    checks["backbones"] = _backbone_ready(app)
    return checks


def _backbone_ready(app) -> str:
    """Load the default domain's backbone once (it is cached by the registry); ok from then on."""
    if getattr(app.state, "backbone_ready", False):
        return "ok"
    from sightline.service.engine import load_backbone

    try:
        load_backbone(app.state.domains.default)
    except Exception as exc:
        return f"error: {exc}"
    app.state.backbone_ready = True
    return "ok"


def _template(request: Request) -> str:
    """The request's path with its parameters' values put back as `{name}`; "unmatched" without a route."""
    if request.scope.get("route") is None:
        return "unmatched"
    path = request.url.path
    for name, value in request.path_params.items():
        if value:
            path = path.replace(f"/{value}", f"/{{{name}}}")
    return path


async def count_requests(request: Request, call_next):
    """Requests by route template (not raw path: ids would explode the label set), status and latency."""
    started = time.perf_counter()
    status = 500
    try:
        response = await call_next(request)
        status = response.status_code
        return response
    finally:
        name = _template(request)
        telemetry.REQUESTS.labels(request.method, name, str(status)).inc()
        telemetry.LATENCY.labels(request.method, name).observe(time.perf_counter() - started)
