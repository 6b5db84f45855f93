"""`/docs`: Swagger UI from the pinned `fastapi-offline` package's assets, served here rather than from a CDN,
so the API page works on a machine without internet (FastAPI's default loads it from jsDelivr).

Only the assets are used (Swagger UI 5: it reads OpenAPI 3.1, which `swagger-ui-bundle`'s 4.15 cannot).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
SWAGGER_UI = Path(str(files("fastapi_offline") / "static"))


def mount_docs(app: FastAPI) -> None:
    """Serve the Swagger UI page at `/docs` with its script, stylesheet and icon under `/docs-assets`."""
    app.mount(ASSETS, StaticFiles(directory=SWAGGER_UI), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )
