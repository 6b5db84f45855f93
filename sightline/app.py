"""The one app factory: the HTTP API (`sightline.api`) and the web UI (`sightline.web`) on one FastAPI
app. Neither front end imports the other; what they share lives in `sightline.http`.

    app = create_app()                        # the configured workspace, opened on startup
    uvicorn.run(app, host="127.0.0.1", port=8080)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sightline.api.app import create_api

if TYPE_CHECKING:
    from fastapi import FastAPI

    from sightline.service import Workspace


def create_app(ws: Workspace | None = None, *, web: bool = True, **options: Any) -> FastAPI:
    """The API over `ws` (`options`: as `sightline.api.app.create_api`), and with `web` the browser UI at `/`
    (sign-in with the Training-Key), whose errors answer as pages rather than JSON."""
    if not web:
        return create_api(ws, **options)
    from sightline.web import mount_web
    from sightline.web.render import error_page

    app = create_api(ws, html_error_page=error_page, **options)
    mount_web(app)
    return app
