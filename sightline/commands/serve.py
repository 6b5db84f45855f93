"""`sightline serve` (the Custom Vision-compatible HTTP API) and `sightline keys` (its API keys)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from sightline.commands.context import AsJson, open_workspace
from sightline.commands.render import console, err_console


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
    backbone: Annotated[
        list[str] | None,
        typer.Option(help="A backbone to offer as a domain (repeatable). Default: the default backbone and `tiny`."),
    ] = None,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Train queued iterations in this process (default).")
    ] = True,
    max_batch: Annotated[
        int,
        typer.Option(min=1, help="Run up to this many concurrent predictions as one batch (1: no batching)."),
    ] = 32,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level: debug, info, warning, error.")] = "info",
) -> None:
    """Serve Custom Vision's Training and Prediction APIs (point an Azure SDK at http://HOST:PORT) and the web UI at /.

    Also Image Analysis' tags: /computervision/imageanalysis:analyze. API keys: `sightline keys`.

    Environment:
    SIGHTLINE_RATE_LIMIT: requests per second per key (0, the default: no limit).
    SIGHTLINE_ALLOW_PRIVATE_URLS=1: image URLs may reach loopback and private addresses.
    SIGHTLINE_URL_TIMEOUT_SECONDS, SIGHTLINE_MAX_REQUEST_BYTES: limits on URL fetches and request bodies.
    SIGHTLINE_LOG_JSON=1: one JSON object per log line, with the request id (X-Request-Id).
    SIGHTLINE_HEADER_TIMEOUT_SECONDS (30), SIGHTLINE_BODY_TIMEOUT_SECONDS (60): slow clients are cut off.
    """
    import uvicorn

    from sightline.api import load_keys
    from sightline.api.protocol import HeaderTimeoutProtocol
    from sightline.app import create_app
    from sightline.logs import json_logs

    with open_workspace() as ws:
        training_key = load_keys(ws).training_key  # created on first start, so the sign-in link works at once
    app = create_app(start_worker=worker, backbones=backbone or None, max_batch=max_batch)
    domains = ", ".join(app.state.domains.backbones)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    err_console.print(f"Sightline on http://{host}:{port} (domains: {domains}); `sightline keys` shows the API keys")
    err_console.print(f"Web UI: http://{shown_host}:{port}/login?token={training_key}", markup=False, soft_wrap=True)
    # JSON logs: uvicorn's loggers keep no handler of their own and reach the root's (sightline.logs)
    log_config = None if json_logs() else uvicorn.config.LOGGING_CONFIG
    uvicorn.run(app, host=host, port=port, log_level=log_level, log_config=log_config, http=HeaderTimeoutProtocol)


def keys(
    as_json: AsJson = False,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Replace both keys; clients using the old ones stop working.")
    ] = False,
) -> None:
    """Show the API keys (Training-Key: everything; Prediction-Key: prediction only), created on first use."""
    from sightline.api import load_keys, rotate_keys

    with open_workspace() as ws:
        current = rotate_keys(ws) if rotate else load_keys(ws)
    if as_json:
        typer.echo(json.dumps(current.to_dict()))
        return
    console.print(f"Training-Key:   {current.training_key}", markup=False)
    console.print(f"Prediction-Key: {current.prediction_key}", markup=False)
