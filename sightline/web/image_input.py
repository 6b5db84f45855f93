"""One image from a page's form: an uploaded file or a URL (fetched under the server's SSRF policy), and a preview.

The quick test and the tagging page take an image the same way; the preview is a small JPEG data URI, so
a result page that keeps nothing can still show what was sent.
"""

from __future__ import annotations

import base64

from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool

from sightline.errors import InvalidRequestError
from sightline.http.fetch import FetchPolicy, fetch_image
from sightline.imaging import make_thumbnail

PREVIEW_SIDE = 512


async def one_image(file: UploadFile | None, url: str | None, policy: FetchPolicy) -> bytes:
    """The chosen file's bytes, else the image at `url`; a form with neither is a plain-words error."""
    if file is not None and file.filename:
        data = await file.read()
        if data:
            return data
    if url and url.strip():
        return await fetch_image(url.strip(), policy)
    raise InvalidRequestError("choose an image file, drop one on the page, or give an image's URL")


async def preview_uri(data: bytes) -> str:
    """A JPEG of at most PREVIEW_SIDE px as a data URI (made from an image the service has accepted)."""
    thumbnail = await run_in_threadpool(make_thumbnail, data, PREVIEW_SIDE)
    return "data:image/jpeg;base64," + base64.b64encode(thumbnail).decode("ascii")
