"""What the API's routes get from the app: the shared request context (`sightline.http.context`), the
prediction batcher, and Custom Vision's query and path parameters.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from sightline.api.batching import PredictionBatcher
from sightline.http.context import WS, AppDomains, Fetching, domains, fetch_policy, workspace

__all__ = [
    "WS",
    "AppDomains",
    "Batcher",
    "Fetching",
    "IterationId",
    "ProjectId",
    "PublishedName",
    "TagId",
    "batcher",
    "domains",
    "fetch_policy",
    "id_list",
    "workspace",
]


async def batcher(request: Request) -> PredictionBatcher:
    """`async def` for the same reason as `sightline.http.context`'s getters: no thread hop per request."""
    return request.app.state.batcher


Batcher = Annotated[PredictionBatcher, Depends(batcher)]


def id_list(value: str | None) -> list[str]:
    """Custom Vision's id lists in a query string: comma-separated ("a,b,c"), as the SDKs send them."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


# Path parameters as Custom Vision names them, snake_case in Python.
ProjectId = Annotated[str, Path(alias="projectId")]
TagId = Annotated[str, Path(alias="tagId")]
IterationId = Annotated[str, Path(alias="iterationId")]
PublishedName = Annotated[str, Path(alias="publishedName")]
