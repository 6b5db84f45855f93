"""The query parameters several Training API routes share, with Custom Vision's names."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

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
