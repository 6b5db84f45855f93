"""Rendering pages: the Jinja2 environment, its filters, redirects after a form, and the HTML error page."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from sightline.codes import IterationStatus

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def percent(value: float | None, digits: int = 1) -> str:
    """0.8342 → "83.4%"; a missing figure is a dash, never "nan%"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * 100:.{digits}f}%"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "–"


TEMPLATES.env.filters["percent"] = percent
TEMPLATES.env.filters["when"] = when
TEMPLATES.env.globals["IterationStatus"] = IterationStatus  # templates compare with the enum, not a literal


def page(request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A full page; `?notice=` (set by `redirect`) is shown once at the top."""
    context.setdefault("notice", request.query_params.get("notice"))
    context.setdefault("problem", request.query_params.get("problem"))
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


def redirect(url: str, *, notice: str | None = None, problem: str | None = None) -> RedirectResponse:
    """After a form post: see-other to `url`, carrying a one-line message for the next page."""
    query = urlencode({k: v for k, v in (("notice", notice), ("problem", problem)) if v})
    separator = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{separator}{query}" if query else url, status_code=303)


def error_page(request: Request, status: int, code: str, message: str) -> Response:
    """What a browser gets instead of Custom Vision's error JSON.

    A form that was refused (a duplicate name, a bad image) goes back to the page it was sent from,
    with the reason shown there, so the user fixes it in place.
    """
    back = _referring_path(request)
    if request.method == "POST" and status < 500 and back is not None:
        return redirect(back, problem=message)
    return page(request, "error.html", status_code=status, status=status, code=code, message=message)


def _referring_path(request: Request) -> str | None:
    """The same-site page a form came from, without its old notice/problem messages."""
    referer = urlsplit(request.headers.get("referer", ""))
    if not referer.path or referer.netloc != request.headers.get("host"):
        return None
    query = urlencode([(k, v) for k, v in parse_qsl(referer.query) if k not in ("notice", "problem")])
    return referer.path + (f"?{query}" if query else "")
