"""The API's machinery: safe URL fetching (no SSRF), the body cap, keys, rate limits, micro-batching."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from api_server import run_async, static_http_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sightline.api import load_keys, rotate_keys
from sightline.api.batching import PredictionBatcher, Target
from sightline.api.bodies import BodyLimitMiddleware
from sightline.api.keys import KeyRing
from sightline.api.ratelimit import RateLimiter
from sightline.app import create_app
from sightline.errors import ImageTooLargeError, ImageUrlError, NotAnImageError, NotFoundError
from sightline.http import fetch
from sightline.http.fetch import FetchPolicy, fetch_image, is_public
from sightline.service import Workspace
from sightline.store import BlobStore

ALLOWED = FetchPolicy(allow_private=True, max_bytes=1000, max_redirects=3)
BODY = b"\xff\xd8 pretend this is a jpeg"


@pytest.fixture(scope="module")
def host() -> Iterator[str]:
    files = {
        "/image.jpg": (200, {"Content-Type": "image/jpeg"}, BODY),
        "/moved": (302, {"Location": "/image.jpg"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/huge": (200, {}, b"x" * 5000),
        "/elsewhere": (307, {"Location": "http://127.0.0.2:9/secret"}, b""),
    }
    with static_http_server(files) as url:
        yield url


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("172.16.0.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),  # cloud metadata
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        # IPv6 forms that embed an IPv4 address are judged by it (never sent traffic: only judged)
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254 (cloud metadata)
        ("64:ff9b::7f00:1", False),  # NAT64 of loopback
        ("64:ff9b:1::a00:1", False),  # local-use NAT64 of 10.0.0.1
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
        ("2002:c0a8:1::1", False),  # 6to4 of 192.168.0.1
        ("2002:808:808::1", True),  # 6to4 of 8.8.8.8
        ("::7f00:1", False),  # IPv4-compatible 127.0.0.1
        ("::a9fe:a9fe", False),  # IPv4-compatible 169.254.169.254
        ("::ffff:0:7f00:1", False),  # IPv4-translated 127.0.0.1
        ("::ffff:0:a9fe:a9fe", False),  # IPv4-translated 169.254.169.254
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
        ("fec0::1", False),  # deprecated site-local
        ("feff::1", False),
        ("::", False),
        ("224.0.0.1", False),
    ],
)
def test_only_public_addresses_count_as_public(address: str, public: bool):
    assert is_public(address) is public


def test_private_hosts_are_refused_by_default(host: str):
    strict = FetchPolicy()
    for url in (f"{host}/image.jpg", host.replace("127.0.0.1", "localhost") + "/image.jpg", "http://[::1]/x"):
        with pytest.raises(ImageUrlError, match="refusing"):
            run_async(fetch_image(url, strict))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.jpg", "gopher://x", "not a url", "http://"])
def test_only_http_and_https_urls_are_fetched(url: str):
    with pytest.raises(ImageUrlError):
        run_async(fetch_image(url, ALLOWED))


def test_redirects_are_followed_by_hand_and_bounded(host: str):
    assert run_async(fetch_image(f"{host}/moved", ALLOWED)) == BODY
    with pytest.raises(ImageUrlError, match="redirects more than 3 times"):
        run_async(fetch_image(f"{host}/loop", ALLOWED))


def test_every_redirect_hop_is_checked_again(host: str, monkeypatch: pytest.MonkeyPatch):
    """The first hop is allowed; the redirect to another private address is refused before connecting."""
    monkeypatch.setattr(fetch, "is_public", lambda address: address == "127.0.0.1")
    with pytest.raises(ImageUrlError, match=r"refusing.*127\.0\.0\.2"):
        run_async(fetch_image(f"{host}/elsewhere", FetchPolicy()))


def test_size_and_status_are_checked(host: str):
    with pytest.raises(ImageTooLargeError):
        run_async(fetch_image(f"{host}/huge", ALLOWED))
    with pytest.raises(ImageUrlError, match="HTTP 404"):
        run_async(fetch_image(f"{host}/missing", ALLOWED))


def test_the_environment_can_allow_private_addresses(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SIGHTLINE_ALLOW_PRIVATE_URLS", "1")
    assert FetchPolicy.from_env().allow_private is True
    monkeypatch.delenv("SIGHTLINE_ALLOW_PRIVATE_URLS")
    assert FetchPolicy.from_env().allow_private is False


def test_request_bodies_over_the_cap_are_refused():
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    async def form(request: Request) -> PlainTextResponse:
        try:
            return PlainTextResponse(str(len(await request.form())))
        except Exception:  # what a route's body parser does: any read failure becomes a 400
            return PlainTextResponse("unreadable body", status_code=400)

    routes = [Route("/", echo, methods=["POST"]), Route("/form", form, methods=["POST"])]
    app = BodyLimitMiddleware(Starlette(routes=routes), limit=100)

    async def post(content) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.post("/", content=content)

    assert run_async(post(b"x" * 100)).text == "100"
    declared = run_async(post(b"x" * 101))
    assert declared.status_code == 413 and declared.json()["code"] == "BadRequestImageSizeBytes"

    async def chunks():  # no Content-Length: counted while it streams in
        for _ in range(5):
            yield b"x" * 30

    with pytest.raises(httpx.HTTPStatusError, match="413"):
        run_async(post(chunks())).raise_for_status()

    async def post_form() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            headers = {"content-type": "application/x-www-form-urlencoded"}
            return await client.post("/form", content=chunks(), headers=headers)

    over = run_async(post_form())  # the route swallowed the read error: still 413, not its 400
    assert over.status_code == 413 and over.json()["code"] == "BadRequestImageSizeBytes"


def test_rotated_keys_replace_the_old_ones(store, tmp_path):
    ws = Workspace(store, BlobStore(str(tmp_path / "blobs")))
    first = load_keys(ws)
    assert load_keys(ws) == first and first.training_key != first.prediction_key and len(first.training_key) == 32
    ring = KeyRing(ws, refresh_seconds=0.0)
    assert ring.keys == first
    second = rotate_keys(ws)
    assert second.training_key != first.training_key and ring.keys == second


def test_the_rate_limiter_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    assert [limiter.wait_seconds("k") for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]
    assert limiter.wait_seconds("other") == 0.0  # each key has its own bucket
    now[0] = 0.5
    assert limiter.wait_seconds("k") == 0.0
    assert RateLimiter(rate=0).wait_seconds("k") == 0.0  # no limit


def test_over_the_rate_limit_answers_429_with_retry_after(store, tmp_path):
    ws = Workspace(store, BlobStore(str(tmp_path / "blobs")))
    app = create_app(ws, start_worker=False, backbones=["tiny"], rate_limit=0.5)
    keys = load_keys(ws)

    async def get_domains(n: int) -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/customvision/v3.3/training") as client:
            return [await client.get("/domains", headers={"Training-Key": keys.training_key}) for _ in range(n)]

    first, second = run_async(get_domains(2))
    assert first.status_code == 200
    assert second.status_code == 429 and second.json()["code"] == "TooManyRequests"
    assert int(second.headers["Retry-After"]) >= 1


class _SlowModel:
    """Stands in for `predictions.predict`: takes a while, answers "ok:<bytes>", fails bad images alone."""

    def __init__(self, fail_with: Exception | None = None):
        self.calls: list[list[bytes]] = []
        self.fail_with = fail_with
        self.running = self.peak = 0  # how many calls overlapped
        self._lock = threading.Lock()

    def __call__(self, _target, images: list[bytes]):
        with self._lock:
            self.calls.append(images)
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(0.05)
        with self._lock:
            self.running -= 1
        if self.fail_with is not None:
            raise self.fail_with
        return [NotAnImageError("bad") if data == b"bad" else f"ok:{data.decode()}" for data in images]


def _gather(batcher: PredictionBatcher, payloads: list[bytes]) -> list:
    async def run():
        target = Target("project", publish_name="live")
        return await asyncio.gather(*(batcher.predict(target, p) for p in payloads), return_exceptions=True)

    return run_async(run())


def test_requests_that_arrive_together_run_as_one_batch(store, tmp_path):
    batcher = PredictionBatcher(Workspace(store, BlobStore(str(tmp_path))), max_batch=4)
    batcher._predict = model = _SlowModel()
    results = _gather(batcher, [b"0", b"1", b"bad", b"3", b"4", b"5"])
    assert results[:2] == ["ok:0", "ok:1"] and results[3:] == ["ok:3", "ok:4", "ok:5"]
    assert isinstance(results[2], NotAnImageError)  # only that request fails
    # all queued before the first batch ran; at most 4 each (two drains run at once, in either order)
    assert sorted(len(call) for call in model.calls) == [2, 4]


def test_a_batch_error_reaches_every_request_and_no_batching_runs_all_at_once(store, tmp_path):
    ws = Workspace(store, BlobStore(str(tmp_path)))
    batcher = PredictionBatcher(ws)
    batcher._predict = _SlowModel(fail_with=NotFoundError("no such project", "NotFoundProject"))
    assert all(isinstance(r, NotFoundError) for r in _gather(batcher, [b"0", b"1", b"2"]))
    alone = PredictionBatcher(ws, max_batch=1)
    alone._predict = model = _SlowModel()
    assert _gather(alone, [b"0", b"1", b"2", b"3"]) == ["ok:0", "ok:1", "ok:2", "ok:3"]
    assert [len(call) for call in model.calls] == [1, 1, 1, 1]
    assert model.peak > 1  # in parallel threads, not one after another
