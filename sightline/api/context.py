"""What routes get from the app (workspace, domains, URL fetch policy, prediction batcher); query helpers.

The getters are `async def` only so that FastAPI calls them in the event loop: a plain `def`
dependency costs a hop to a worker thread on every request, for an attribute read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from sightline.api.batching import PredictionBatcher
from sightline.api.domains import Domains
from sightline.api.fetch import FetchPolicy
from sightline.service import Workspace


async def workspace(request: Request) -> Workspace:
    return request.app.state.ws


async def domains(request: Request) -> Domains:
    return request.app.state.domains


async def fetch_policy(request: Request) -> FetchPolicy:
    return request.app.state.fetch_policy


async def batcher(request: Request) -> PredictionBatcher:
    return request.app.state.batcher


WS = Annotated[Workspace, Depends(workspace)]
AppDomains = Annotated[Domains, Depends(domains)]
Fetching = Annotated[FetchPolicy, Depends(fetch_policy)]
Batcher = Annotated[PredictionBatcher, Depends(batcher)]


def id_list(value: str | None) -> list[str]:
    """Custom Vision's id lists in a query string: comma-separated ("a,b,c"), as the SDKs send them."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


# Path parameters as Custom Vision names them, snake_case in Python.
ProjectId = Annotated[str, Path(alias="projectId")]
TagId = Annotated[str, Path(alias="tagId")]
IterationId = Annotated[str, Path(alias="iterationId")]
PublishedName = Annotated[str, Path(alias="publishedName")]
