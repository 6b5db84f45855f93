"""Mounting the web UI onto the app (`sightline.app.create_app`): static files, page routers, sign-in."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from sightline.web import auth
from sightline.web.pages import ROUTERS

STATIC = Path(__file__).parent / "static"


def mount_web(app: FastAPI) -> None:
    """Add the pages at `/` and their assets at `/static` (the factory passes `render.error_page` to the API's
    error handlers, so that errors on pages answer as pages, not JSON)."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(auth.router, include_in_schema=False)
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False, dependencies=[auth.SignedIn])
    auth.install(app)
