"""The syncs family's routes in the Data Insider file-upload dialect (raw objects; errors `{"code", "msg"}`;
`api_key` in the body or query). Requests and answers are translated by functions.core.dialects.datainsider.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.core.api import current_caller
from functions.core.dialects import datainsider
from functions.core.dialects.datainsider import UploadError, raw
from functions.core.models.upload_syncs import (
    DEFAULT_URL_EXPIRY,
    FileSyncHistory,
    FileSyncInfo,
    LakeUploadComplete,
    LakeUploadRef,
    LakeUploadStart,
    SyncEnd,
    SyncEnded,
    SyncStart,
    SyncStarted,
    UploadCode,
    UploadOut,
)
from functions.core.openapi import ERROR_TEXT
from functions.core.services import upload_syncs as svc
from functions.syncs import idempotency
from functions.syncs.params import (
    ApiKey,
    DialectProject,
    ExpiresIn,
    From,
    FromPart,
    IdempotencyKey,
    QuerySyncId,
    Size,
    TheFile,
    UploadIdempotencyKey,
)

router = APIGatewayHttpRouter()


def upload_responses(ok: Any, *errors: int) -> dict:
    """`responses=` of an upload-dialect route: its raw success model and its `{code, msg}` errors."""
    out: dict[int, dict] = {200: {"description": "Success", "content": {"application/json": {"model": ok}}}}
    for code in sorted({400, 401, *errors}):
        out[code] = {"description": ERROR_TEXT[code], "content": {"application/json": {"model": UploadError}}}
    return out


@router.post(
    "/api/ingestion/file/sync/start", tags=["upload syncs"], responses=upload_responses(SyncStarted, 403, 404)
)
def dialect_start(body: Annotated[SyncStart, Body()], idempotency_key: IdempotencyKey = None):
    caller = current_caller(router)
    project_id = datainsider.project_of(caller, body.project_id)
    target = datainsider.sync_create(body)
    session = idempotency.start_upload_sync(caller, project_id, target, idempotency_key)
    return raw(SyncStarted(sync_id=int(session.sync_id)))


@router.post(
    "/api/ingestion/file/sync/end",
    tags=["upload syncs"],
    responses=upload_responses(SyncEnded, 403, 404, 409),
)
def dialect_end(body: Annotated[SyncEnd, Body()]):
    caller = current_caller(router)
    svc.end_upload_sync(caller, datainsider.project_of(caller, body.project_id), body.sync_id)
    return raw(SyncEnded())


@router.get(
    "/api/ingestion/file/sync/list",
    tags=["upload syncs"],
    responses=upload_responses(list[FileSyncInfo], 403, 404),
)
def dialect_list(from_: From = 0, size: Size = 10, api_key: ApiKey = None, project_id: DialectProject = None):
    caller = current_caller(router)
    return raw(svc.list_sync_infos(caller, datainsider.project_of(caller, project_id), from_, size))


@router.get(
    "/api/ingestion/file/sync/history",
    tags=["upload syncs"],
    responses=upload_responses(list[FileSyncHistory], 403, 404),
)
def dialect_history(
    from_: From = 0,
    size: Size = 10,
    sync_id: Annotated[int | None, Query(ge=1, le=2**53, description="Only this sync's files")] = None,
    api_key: ApiKey = None,
    project_id: DialectProject = None,
):
    caller = current_caller(router)
    project = datainsider.project_of(caller, project_id)
    return raw(svc.list_history(caller, project, from_, size, sync_id))


@router.post(
    "/api/lake/file/upload", tags=["upload syncs"], responses=upload_responses(UploadCode, 403, 404, 409, 413)
)
def dialect_upload(
    sync_id: QuerySyncId,
    file: TheFile,
    path: Annotated[str | None, Query(max_length=4096, description="The sync's lake path")] = None,
    api_key: ApiKey = None,
    project_id: DialectProject = None,
    idempotency_key: UploadIdempotencyKey = None,
):
    caller = current_caller(router)
    project = datainsider.project_of(caller, project_id)
    svc.direct_upload(caller, project, sync_id, path, file.filename, file.content, idempotency_key)
    return raw(UploadCode())


@router.post(
    "/api/lake/file/multipart/start",
    tags=["upload syncs"],
    responses=upload_responses(UploadOut, 403, 404, 409),
)
def dialect_multipart_start(body: Annotated[LakeUploadStart, Body()]):
    caller = current_caller(router)
    project = datainsider.project_of(caller, body.project_id)
    start = datainsider.upload_start(body)
    return raw(svc.start_upload(caller, project, body.sync_id, start))


@router.get(
    "/api/lake/file/multipart/parts", tags=["upload syncs"], responses=upload_responses(UploadOut, 403, 404)
)
def dialect_multipart_parts(
    upload_id: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    from_part: FromPart = 1,
    expires_in: ExpiresIn = DEFAULT_URL_EXPIRY,
    api_key: ApiKey = None,
    project_id: DialectProject = None,
):
    caller = current_caller(router)
    project = datainsider.project_of(caller, project_id)
    return raw(svc.get_upload(caller, project, upload_id, from_part=from_part, expires_in=expires_in))


@router.post(
    "/api/lake/file/multipart/complete",
    tags=["upload syncs"],
    responses=upload_responses(UploadOut, 403, 404, 409, 503),
)
def dialect_multipart_complete(body: Annotated[LakeUploadComplete, Body()]):
    caller = current_caller(router)
    project = datainsider.project_of(caller, body.project_id)
    return raw(svc.complete_upload(caller, project, body.upload_id, body.parts))


@router.post(
    "/api/lake/file/multipart/abort",
    tags=["upload syncs"],
    responses=upload_responses(UploadOut, 403, 404, 409),
)
def dialect_multipart_abort(body: Annotated[LakeUploadRef, Body()]):
    caller = current_caller(router)
    project = datainsider.project_of(caller, body.project_id)
    return raw(svc.abort_upload(caller, project, body.upload_id))
