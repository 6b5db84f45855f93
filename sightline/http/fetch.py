"""Fetch an image from a URL a client gave us, without letting the client reach our private network (SSRF).

Only http and https; every address the host name resolves to must be public (no loopback, private,
link-local, cloud metadata ...) unless `SIGHTLINE_ALLOW_PRIVATE_URLS=1`; the connection then goes to
the address that was checked (the name is not resolved twice, so DNS rebinding cannot swap it), with
the original name in the Host header and for TLS. Redirects are followed by hand and each hop is
checked the same way. Size and time are bounded.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from sightline.config import ImageLimits, env_flag, env_float
from sightline.errors import ImageError, ImageTooLargeError, ImageUrlError

_SCHEMES = ("http", "https")
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int = ImageLimits.max_bytes
    timeout_seconds: float = 15.0
    max_redirects: int = 5
    allow_private: bool = False

    @classmethod
    def from_env(cls, limits: ImageLimits | None = None) -> FetchPolicy:
        return cls(
            max_bytes=(limits or ImageLimits.from_env()).max_bytes,
            timeout_seconds=env_float("SIGHTLINE_URL_TIMEOUT_SECONDS", cls.timeout_seconds),
            allow_private=env_flag("SIGHTLINE_ALLOW_PRIVATE_URLS"),
        )


#: IPv6 prefixes whose last 32 bits are an IPv4 address that the packet ends up at (or is judged by):
#: NAT64 (RFC 6052 and the local-use RFC 8215 prefix), IPv4-compatible (::a.b.c.d, deprecated) and
#: IPv4-translated (::ffff:0:a.b.c.d, RFC 2765).
_EMBEDDING_LAST_32_BITS = tuple(
    ipaddress.IPv6Network(prefix) for prefix in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96")
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo client, NAT64 ...), or None."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in network for network in _EMBEDDING_LAST_32_BITS):
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return None


def is_public(address: str) -> bool:
    """Whether `address` is on the public internet: an IPv6 form that embeds an IPv4 address is judged by
    that address (`64:ff9b::a9fe:a9fe` is 169.254.169.254), and deprecated site-local fec0::/10 is private."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast


async def _checked_address(url: httpx.URL, policy: FetchPolicy) -> str:
    """The address to connect to: resolved once, and refused unless public (or private ones are allowed)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(url.host, url.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise ImageUrlError(f"cannot resolve the host of {url}: {error}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise ImageUrlError(f"the host of {url} has no address")
    if not policy.allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise ImageUrlError(
                f"refusing to fetch {url}: {url.host} is a loopback, private or link-local address ({refused[0]}); "
                "set SIGHTLINE_ALLOW_PRIVATE_URLS=1 on the server to allow it"
            )
    return addresses[0]


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as error:
        raise ImageUrlError(f"not a valid URL: {url!r} ({error})") from None
    if parsed.scheme not in _SCHEMES or not parsed.host:
        raise ImageUrlError(f"only http and https image URLs are accepted, not {url!r}")
    return parsed


async def _get_once(client: httpx.AsyncClient, url: httpx.URL, policy: FetchPolicy) -> tuple[bytes | None, str | None]:
    """One request: (body, None) on success, or (None, next URL) for a redirect."""
    address = await _checked_address(url, policy)
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    headers = {"Host": url.netloc.decode("ascii"), "Accept": "image/*", "User-Agent": "sightline"}
    async with client.stream("GET", url.copy_with(host=address), headers=headers, extensions=extensions) as response:
        if response.status_code in _REDIRECTS and "location" in response.headers:
            return None, urljoin(str(url), response.headers["location"])
        if response.status_code != 200:
            raise ImageUrlError(f"fetching {url} answered HTTP {response.status_code}")
        declared = int(response.headers.get("content-length") or 0)
        if declared > policy.max_bytes:
            raise ImageTooLargeError(f"the image at {url} is {declared} bytes; the limit is {policy.max_bytes}")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > policy.max_bytes:
                raise ImageTooLargeError(f"the image at {url} is over the limit of {policy.max_bytes} bytes")
        return bytes(body), None


async def fetch_image(url: str, policy: FetchPolicy) -> bytes:
    """The bytes at `url`; ImageUrlError (or ImageTooLargeError) says why not."""
    current = url
    try:
        async with (
            asyncio.timeout(policy.timeout_seconds),
            httpx.AsyncClient(follow_redirects=False, timeout=policy.timeout_seconds, trust_env=False) as client,
        ):
            for _hop in range(policy.max_redirects + 1):
                body, next_url = await _get_once(client, _parse(current), policy)
                if body is not None:
                    return body
                current = next_url or current
    except TimeoutError:
        raise ImageUrlError(f"fetching {current} took longer than {policy.timeout_seconds:g} s") from None
    except httpx.HTTPError as error:
        raise ImageUrlError(f"cannot fetch {current}: {error}") from None
    raise ImageUrlError(f"{url} redirects more than {policy.max_redirects} times")


async def fetch_all(urls: list[str], policy: FetchPolicy, *, concurrency: int = 8) -> list[bytes | ImageError]:
    """Fetch several URLs at once; each gives its bytes or the error that stopped it."""
    gate = asyncio.Semaphore(concurrency)

    async def one(url: str) -> bytes | ImageError:
        async with gate:
            try:
                return await fetch_image(url, policy)
            except ImageError as error:
                return error

    return list(await asyncio.gather(*(one(url) for url in urls)))
