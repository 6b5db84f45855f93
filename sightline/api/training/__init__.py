"""Custom Vision's Training API (v3.3, and v3.4-preview which the Python SDK 3.1 calls), classification part.

Each route translates between HTTP (camelCase JSON, query strings, status codes) and one call of
the service layer; the rules live there. Routes that read a request body themselves, or fetch URLs,
are async and hand the service call to a worker thread; the rest are plain functions, which FastAPI
runs in its thread pool.

One module per resource, as Azure's reference groups them (domains, projects, tags, images, uploads,
iterations, exports, predictions); `params` holds the query parameters they share.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from sightline.api.keys import require_training_key
from sightline.api.training import domains, exports, images, iterations, predictions, projects, tags, uploads

#: In this order, as they were in one module: a fixed path (/projects/import) before a {parameter} one.
_RESOURCES = (domains, projects, tags, images, uploads, iterations, exports, predictions)

router = APIRouter(dependencies=[Depends(require_training_key)])
for resource in _RESOURCES:
    router.include_router(resource.router)
