"""Signing in to the web UI with the Training-Key, as a browser cookie.

Like Jupyter's token: `sightline serve` prints `/login?token=KEY`; the form takes the key too. The
cookie holds an HMAC of the key, never the key, so rotating the keys (`sightline keys --rotate`) signs
every browser out. The cookie is HttpOnly and SameSite=Strict, and a form posted from another origin
is refused, so other sites cannot act through a signed-in browser.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException

from sightline.web.render import page, redirect

COOKIE = "sightline_session"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

router = APIRouter()


class SignInRequired(HTTPException):
    """Raised by `signed_in`; answered with a redirect to the sign-in page (see `install`)."""

    def __init__(self, next_url: str):
        super().__init__(status_code=303, headers={"Location": f"/login?next={quote(next_url, safe='')}"})


def _session_value(training_key: str) -> str:
    return hmac.new(training_key.encode(), b"sightline web session", hashlib.sha256).hexdigest()


def _is_signed_in(request: Request) -> bool:
    given = request.cookies.get(COOKIE)
    expected = _session_value(request.app.state.key_ring.keys.training_key)
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _same_origin(request: Request) -> bool:
    """Origin, or else Referer, must name this server. With neither (curl, some privacy settings) the
    request is let through: SameSite=Strict keeps the session cookie off requests other sites start."""
    sender = request.headers.get("origin") or request.headers.get("referer")
    if sender is None:
        return True
    return urlsplit(sender).netloc == request.headers.get("host")


def same_origin(request: Request) -> None:
    """Refuse a change (a form post) that another site's page sent: 403 Forbidden."""
    if request.method in _UNSAFE and not _same_origin(request):
        raise HTTPException(403, "this form was sent from another site")


def signed_in(request: Request) -> None:
    """Every page's guard: a valid session cookie, and for changes, a request from our own pages."""
    if not _is_signed_in(request):
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path if request.method == "GET" else "/")
    same_origin(request)


SignedIn = Depends(signed_in)


def _safe_next(next_url: str | None) -> str:
    """Only paths on this server: `next=https://evil.example` must not become an open redirect."""
    if not next_url or not next_url.startswith("/") or next_url.startswith("//"):
        return "/"
    return next_url


def _sign_in(request: Request, key: str, next_url: str | None) -> RedirectResponse | HTMLResponse:
    keys = request.app.state.key_ring.keys
    throttle = request.app.state.auth_failures
    address = request.client.host if request.client else "unknown"
    throttle.check(address)  # 429 once this address has failed too often
    if not hmac.compare_digest(key.strip().encode(), keys.training_key.encode()):
        throttle.failed(address)
        return page(request, "login.html", status_code=401, next=next_url, problem="That is not the training key.")
    response = RedirectResponse(_safe_next(next_url), status_code=303)
    response.set_cookie(
        COOKIE,
        _session_value(keys.training_key),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=30 * 24 * 3600,
    )
    return response


@router.get("/login")
def login_page(request: Request, next: str | None = None, token: str | None = None):
    """The sign-in form; with `?token=KEY` (the link `sightline serve` prints) it signs in directly."""
    if token:
        return _sign_in(request, token, next)
    return page(request, "login.html", next=next)


@router.post("/login", dependencies=[Depends(same_origin)])
def login(request: Request, key: Annotated[str, Form()], next: Annotated[str | None, Form()] = None):
    return _sign_in(request, key, next)


@router.post("/logout", dependencies=[Depends(same_origin)])
def logout() -> RedirectResponse:
    """Sign out; only from our own pages (another site must not sign the user out)."""
    response = redirect("/login", notice="Signed out.")
    response.delete_cookie(COOKIE)
    return response


def install(app: FastAPI) -> None:
    """Answer `SignInRequired` with its redirect (the API's handlers would make it error JSON)."""

    async def to_sign_in(request: Request, error: SignInRequired) -> RedirectResponse:
        return RedirectResponse((error.headers or {})["Location"], status_code=303)

    app.add_exception_handler(SignInRequired, to_sign_in)  # type: ignore[arg-type]  # Starlette's Exception-typed slot
