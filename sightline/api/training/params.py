"""The query parameters several Training API routes share, with Custom Vision's names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from sightline.api.context import id_list

TagIds = Annotated[str | None, Query(alias="tagIds", description="Comma-separated tag ids.")]
ImageIds = Annotated[str | None, Query(alias="imageIds", description="Comma-separated image ids.")]
TaggingStatus = Annotated[str | None, Query(alias="taggingStatus", pattern="^(All|Tagged|Untagged)$")]
OrderBy = Annotated[str | None, Query(alias="orderBy", pattern="^(Newest|Oldest|Suggested)$")]
Take = Annotated[int, Query(ge=0, le=256)]
#: Beyond this the databases cannot hold the number (a 500 once); no project has this many images anyway.
MAX_SKIP = 2**31 - 1
Skip = Annotated[int, Query(ge=0, le=MAX_SKIP)]
MetadataFilter = Annotated[
    str | None,
    Query(
        alias="$filter",
        description="Keep the images whose metadata match, e.g. `key1 eq 'value1' and key2 ne 'value2'`: "
        "eq, ne, and (binds tighter), or; values in single quotes ('' for a quote); no parentheses. "
        "An image without the key matches `ne`.",
    ),
]
AsOfIteration = Annotated[
    str | None,
    Query(
        alias="iterationId",
        description="A trained iteration: list what it trained on (its tags as named then, with its image counts; "
        "its training images still in the project, with the tags they had then). Defaults to the workspace.",
    ),
]

_TAGGED = {None: None, "All": None, "Tagged": True, "Untagged": False}


@dataclass(frozen=True)
class ImageQuery:
    """Which images a listing shows: as of an iteration (None: the workspace), carrying any of `tag_ids`
    (None: any), newest or oldest first, one page."""

    iteration_id: str | None
    tag_ids: list[str] | None
    newest_first: bool
    take: int
    skip: int


def image_query(
    iteration_id: AsOfIteration = None,
    tag_ids: TagIds = None,
    order_by: OrderBy = None,
    take: Take = 50,
    skip: Skip = 0,
) -> ImageQuery:
    """The listing's query parameters, with Custom Vision's names, as one `ImageQuery`."""
    return ImageQuery(iteration_id, id_list(tag_ids), order_by != "Oldest", take, skip)


ImageQueryParameters = Annotated[ImageQuery, Depends(image_query)]
