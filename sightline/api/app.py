"""The HTTP API: Custom Vision's Training and Prediction APIs, and Image Analysis' tags, over one workspace.

    app = create_api()                        # the configured workspace, opened on startup
    uvicorn.run(app, host="127.0.0.1", port=8080)

Training routes answer under /customvision/v3.3/training and /customvision/v3.4-preview/training
(what the Python SDK 3.1 calls), prediction routes under /customvision/v3.0/prediction and v3.1,
Image Analysis at /computervision/imageanalysis:analyze. The OpenAPI document is at /openapi.json.
`sightline.app.create_app` adds the web UI (`sightline.web`) at `/` to this app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

import sightline
from sightline.api import analysis, batch_predictions, detection, files, operations, prediction, thresholds, training
from sightline.api.analysis import TaggerSlot
from sightline.api.batching import PredictionBatcher
from sightline.api.bodies import BodyLimitMiddleware
from sightline.api.docs import mount_docs
from sightline.api.errors import HtmlErrorPage, install_error_handlers
from sightline.api.keys import KeyRing
from sightline.api.paths import AzurePathMiddleware
from sightline.api.ratelimit import FailureThrottle, RateLimiter
from sightline.api.request_ids import RequestIdMiddleware
from sightline.batch import jobs as batch_jobs
from sightline.config import check_environment, env_text
from sightline.http.domains import Domains
from sightline.http.fetch import FetchPolicy
from sightline.service import Workspace, start_background_worker
from sightline.service.engine import default_backbone_name, default_tagger

if TYPE_CHECKING:
    from sightline.service.engine import Tagger

TRAINING_VERSIONS = ("v3.3", "v3.4-preview")
PREDICTION_VERSIONS = ("v3.0", "v3.1")


def default_backbones() -> list[str]:
    """The default backbone, plus `tiny` (random weights) to try the API out without downloading a model."""
    return [default_backbone_name(), "tiny"]


def create_api(
    ws: Workspace | None = None,
    *,
    start_worker: bool = True,
    backbones: Sequence[str] | None = None,
    fetch_policy: FetchPolicy | None = None,
    tagger: Tagger | None = None,
    rate_limit: float | None = None,
    max_batch: int = 32,
    html_error_page: HtmlErrorPage | None = None,
    cors_origins: Sequence[str] | None = None,
    tagger_backbone: str | None = None,
    azure_domains: Mapping[str, str] | None = None,
    auth_failures_per_minute: float | None = None,
) -> FastAPI:
    """The app over `ws` (default: `Workspace.open()` at startup, closed at shutdown).

    `start_worker` runs a training worker thread while the app is up (the embedded default; turn it off when
    `sightline worker` processes do the training). `backbones` are the domains offered; `azure_domains` maps
    Azure's domain names (General, Food ...) to backbones (default `SIGHTLINE_AZURE_DOMAINS`; unmapped ones
    train with the first backbone). `tagger` answers Image Analysis (default: the shipped vocabulary on
    `tagger_backbone`, else `SIGHTLINE_TAGGER_BACKBONE`, else the first domain able to tag (text tower or
    classifier), else the default backbone: an embedding-only first domain never breaks tagging; built on the
    first request). `rate_limit`: requests per second per key (default `SIGHTLINE_RATE_LIMIT`; 0: none).
    `max_batch`: the most concurrent predictions run as one batch (1: none). A lone request never waits for a
    batch; at 32 clients, batching measured 1.2-1.6x the throughput of one by one on 2 CPU cores
    (benchmarks/api_load.py), and far more is expected on a GPU. `html_error_page`: how errors answer a browser
    asking for HTML outside the API's paths (the web UI's page; default: Azure's JSON everywhere).
    `cors_origins`: the origins whose browser scripts may call the API (default
    `SIGHTLINE_CORS_ORIGINS`, comma-separated, `*` for any; none when unset). `auth_failures_per_minute`: wrong
    keys and sign-ins allowed per client address after a burst of 10 (default
    `SIGHTLINE_AUTH_FAILURES_PER_MINUTE`, 10; 0: no throttle).
    """

    check_environment()  # a bad SIGHTLINE_* value stops the start with one line, never a server that answers 500

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = None
        if not hasattr(app.state, "ws"):
            opened = Workspace.open()
            _attach(app, opened, max_batch)
        worker = start_background_worker(app.state.ws, other_jobs=[batch_jobs.run_next]) if start_worker else None
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            if opened is not None:
                opened.close()

    app = FastAPI(
        title="Sightline",
        version=sightline.__version__,
        summary="Custom Vision-compatible image classification API",
        lifespan=lifespan,
        docs_url=None,  # served by `mount_docs` from local assets
        redoc_url=None,
    )
    mount_docs(app)
    app.state.domains = domains = Domains.of(backbones or default_backbones(), azure_domains)
    tagging = tagger_backbone or env_text("SIGHTLINE_TAGGER_BACKBONE")
    app.state.tagger = TaggerSlot(lambda: tagger or default_tagger(tagging, domains.backbones))
    app.state.rate_limiter = RateLimiter.from_env() if rate_limit is None else RateLimiter(rate_limit)
    app.state.auth_failures = (
        FailureThrottle.from_env() if auth_failures_per_minute is None else FailureThrottle(auth_failures_per_minute)
    )
    app.state.fetch_policy = fetch_policy or FetchPolicy.from_env(ws.image_limits if ws else None)
    if ws is not None:
        _attach(app, ws, max_batch)
    install_error_handlers(app, html_error_page)
    app.add_middleware(BodyLimitMiddleware)
    app.middleware("http")(operations.count_requests)
    app.include_router(operations.router)
    origins = list(cors_origins) if cors_origins is not None else cors_origins_from_env()
    if origins:  # outside the body limit, so that its 413 reaches the browser's script too
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_headers=["*"], max_age=600)
    app.add_middleware(AzurePathMiddleware)  # routing and CORS see the routes' spelling
    app.add_middleware(RequestIdMiddleware)  # outermost: every response and log line of a request has its id
    for version in TRAINING_VERSIONS:  # each version served is documented in /openapi.json
        prefix = f"/customvision/{version}/training"
        app.include_router(training.router, prefix=prefix)
        app.include_router(thresholds.router, prefix=prefix)
        app.include_router(detection.training_router, prefix=prefix)
        # after the training routes, whose fixed paths (images/tagged/count ...) must match first
        app.include_router(files.router, prefix=prefix)
    for version in PREDICTION_VERSIONS:
        prefix = f"/customvision/{version}/prediction"
        app.include_router(prediction.router, prefix=prefix)
        app.include_router(detection.prediction_router, prefix=prefix)
    app.include_router(analysis.router)
    app.include_router(batch_predictions.router, prefix="/sightline/v1")
    return app


def cors_origins_from_env() -> list[str]:
    """`SIGHTLINE_CORS_ORIGINS`: comma-separated origins (`https://app.example.com`), `*` for any; none by default."""
    return [o.strip().rstrip("/") for o in (env_text("SIGHTLINE_CORS_ORIGINS") or "").split(",") if o.strip()]


def _attach(app: FastAPI, ws: Workspace, max_batch: int) -> None:
    """The workspace, its keys (generated on first start), and the prediction batcher over it."""
    app.state.ws = ws
    app.state.key_ring = KeyRing(ws)
    app.state.batcher = PredictionBatcher(ws, max_batch=max_batch)
