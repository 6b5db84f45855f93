"""What a request gets from the app, for the API's routes and the web's pages alike: the workspace,
the served domains and the URL fetch policy.

The getters are `async def` only so that FastAPI calls them in the event loop: a plain `def`
dependency costs a hop to a worker thread on every request, for an attribute read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sightline.http.domains import Domains
from sightline.http.fetch import FetchPolicy
from sightline.service import Workspace


async def workspace(request: Request) -> Workspace:
    return request.app.state.ws


async def domains(request: Request) -> Domains:
    return request.app.state.domains


async def fetch_policy(request: Request) -> FetchPolicy:
    return request.app.state.fetch_policy


WS = Annotated[Workspace, Depends(workspace)]
AppDomains = Annotated[Domains, Depends(domains)]
Fetching = Annotated[FetchPolicy, Depends(fetch_policy)]
