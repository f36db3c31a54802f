"""Request parameters both upload-sync dialects take (the syncs family's routers share them)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import File, Header, Path, Query, UploadFile

from functions.core.models.upload_syncs import MAX_DIRECT_UPLOAD_BYTES, MAX_OFFSET, MAX_PARTS, MAX_URL_EXPIRY

SyncId = Annotated[int, Path(ge=1, le=2**53, description="The sync's id")]
UploadId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
From = Annotated[int, Query(alias="from", ge=0, le=MAX_OFFSET, description="Offset of the first item")]
Size = Annotated[int, Query(ge=1, le=100, description="Items per page (at most 100)")]
ApiKey = Annotated[str | None, Query(max_length=512, description="An API key of the project")]
DialectProject = Annotated[
    str | None, Query(min_length=1, max_length=64, description="The project, when signed in as a user")
]
QuerySyncId = Annotated[int, Query(ge=1, le=2**53, description="sync_id from sync/start")]
FromPart = Annotated[int, Query(ge=1, le=MAX_PARTS, description="First part to give URLs for")]
ExpiresIn = Annotated[int, Query(ge=60, le=MAX_URL_EXPIRY, description="Seconds the part URLs stay valid")]
IdempotencyKey = Annotated[
    str | None,
    Header(max_length=128, description="Makes a retried start answer the sync the first one started"),
]
UploadIdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=128, description="Makes a retried upload of the same file store it once (counted once)"
    ),
]
TheFile = Annotated[UploadFile, File(description=f"The file (at most {MAX_DIRECT_UPLOAD_BYTES} bytes)")]
