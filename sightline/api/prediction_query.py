"""QueryPredictions: a PredictionQueryToken in; a page of stored predictions and the token for the next page out.

The token's `continuation` is opaque to clients (here: how many results came before the next page); they
send the returned token back unchanged to continue, and a token without one means there is no more.
"""

from __future__ import annotations

from sightline.api.errors import ApiError
from sightline.api.links import Links
from sightline.api.schemas import PredictionQueryResult, PredictionQueryToken, StoredImagePrediction
from sightline.codes import ErrorCode
from sightline.http.domains import domain_id
from sightline.service import Workspace, predictions, projects
from sightline.service.predictions import TagRange

DEFAULT_COUNT = 50
MAX_COUNT = 256  # a larger maxCount is served in pages of this size
MAX_TAGS = 2  # Custom Vision combines at most two tag filters


def _offset(continuation: str | None) -> int:
    if not continuation:
        return 0
    if not continuation.isdigit() or len(continuation) > 12:
        raise ApiError(
            400,
            ErrorCode.BadRequestPredictionInvalidQueryParameters,
            "continuation is not one this server gave out: send back the token of the previous answer",
        )
    return int(continuation)


def query_predictions(
    ws: Workspace, links: Links, project_id: str, token: PredictionQueryToken
) -> PredictionQueryResult:
    """One page of the project's stored predictions that match `token`, newest first unless it says otherwise."""
    if token.application:
        raise ApiError(
            400, ErrorCode.BadRequestNotSupported, "predictions do not record an application: omit application"
        )
    if len(token.tags or []) > MAX_TAGS:
        raise ApiError(400, ErrorCode.BadRequestPredictionTagsExceededCount, f"filter on at most {MAX_TAGS} tags")
    if (token.max_count or 0) < 0:
        raise ApiError(400, ErrorCode.BadRequestPredictionInvalidQueryParameters, "maxCount cannot be negative")
    offset, count, order = _offset(token.continuation), min(token.max_count or DEFAULT_COUNT, MAX_COUNT), token.order_by
    ranges = [
        TagRange(
            t.id,
            0.0 if t.min_threshold is None else t.min_threshold,
            1.0 if t.max_threshold is None else t.max_threshold,
        )
        for t in token.tags or []
    ]
    rows = predictions.list_predictions(
        ws,
        project_id,
        iteration_id=token.iteration_id,
        reviewed=None,
        order=order or "Newest",
        tag_ranges=ranges,
        since=token.start_time,
        until=token.end_time,
        take=count + 1,
        skip=offset,
    )
    domain = domain_id(projects.get_project(ws, project_id).domain)
    more = len(rows) > count
    update = {"continuation": str(offset + count) if more else None, "max_count": count, "order_by": order or "Newest"}
    return PredictionQueryResult(
        token=token.model_copy(update=update),
        results=[StoredImagePrediction.of(view, domain, links) for view in rows[:count]],
    )
