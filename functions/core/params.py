"""Request parameters the API families share: the project and a run in the path, and a list's page size and
cursor."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from .constants import DEFAULT_PAGE_SIZE, MAX_PAGE_BYTES, MAX_PAGE_SIZE

ProjectId = Annotated[str, Path(min_length=1, max_length=64, description="The project's id")]
RunId = Annotated[
    str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$", description="The run's id")
]
Limit = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_PAGE_SIZE,
        description=f"Page size (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE}); a page also ends "
        f"before {MAX_PAGE_BYTES // (1024 * 1024)} MiB of items, so it may hold fewer: follow next_cursor",
    ),
]
Cursor = Annotated[str | None, Query(max_length=2048, description="next_cursor of the previous page")]
