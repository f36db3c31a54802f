"""The syncs family's routes in the native dialect: /api/v1/project/{projectid}/syncs[/{sync_id}[/end|/files|
/uploads[/{upload_id}[/complete]]]], answers in the native envelope."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.core.api import current_caller
from functions.core.dialects import native_ok
from functions.core.models import Envelope, PageEnvelope, dump
from functions.core.models.upload_syncs import (
    DEFAULT_URL_EXPIRY,
    SyncCreate,
    SyncFileOut,
    SyncOut,
    UploadComplete,
    UploadOut,
    UploadStart,
)
from functions.core.openapi import responses
from functions.core.params import Cursor, Limit, ProjectId
from functions.core.services import upload_syncs as svc
from functions.syncs import idempotency
from functions.syncs.params import (
    ExpiresIn,
    FromPart,
    IdempotencyKey,
    SyncId,
    TheFile,
    UploadId,
    UploadIdempotencyKey,
)

router = APIGatewayHttpRouter()


@router.get(
    "/api/v1/project/<projectid>/syncs", tags=["syncs"], responses=responses(PageEnvelope[SyncOut], 404)
)
def list_syncs(projectid: ProjectId, limit: Limit = None, cursor: Cursor = None):
    items, next_cursor = svc.list_upload_syncs(current_caller(router), projectid, limit, cursor)
    return native_ok([dump(i) for i in items], next_cursor=next_cursor, paginated=True)


@router.post(
    "/api/v1/project/<projectid>/syncs",
    tags=["syncs"],
    responses=responses(Envelope[SyncOut], 403, 404, status=201),
)
def create_sync(
    projectid: ProjectId, body: Annotated[SyncCreate, Body()], idempotency_key: IdempotencyKey = None
):
    session = idempotency.start_upload_sync(current_caller(router), projectid, body, idempotency_key)
    return native_ok(dump(svc.sync_out(session)), "sync started", status=201)


@router.get(
    "/api/v1/project/<projectid>/syncs/<sync_id>", tags=["syncs"], responses=responses(Envelope[SyncOut], 404)
)
def get_sync(projectid: ProjectId, sync_id: SyncId):
    return native_ok(dump(svc.sync_out(svc.get_upload_sync(current_caller(router), projectid, sync_id))))


@router.post(
    "/api/v1/project/<projectid>/syncs/<sync_id>/end",
    tags=["syncs"],
    responses=responses(Envelope[SyncOut], 403, 404, 409),
)
def end_sync(projectid: ProjectId, sync_id: SyncId):
    session = svc.end_upload_sync(current_caller(router), projectid, sync_id)
    return native_ok(dump(svc.sync_out(session)), "sync ended")


@router.get(
    "/api/v1/project/<projectid>/syncs/<sync_id>/files",
    tags=["syncs"],
    responses=responses(PageEnvelope[SyncFileOut], 404),
)
def list_files(projectid: ProjectId, sync_id: SyncId, limit: Limit = None, cursor: Cursor = None):
    items, next_cursor = svc.list_files(current_caller(router), projectid, sync_id, limit, cursor)
    return native_ok([dump(i) for i in items], next_cursor=next_cursor, paginated=True)


@router.post(
    "/api/v1/project/<projectid>/syncs/<sync_id>/files",
    tags=["syncs"],
    responses=responses(Envelope[SyncFileOut], 403, 404, 409, 413, status=201),
)
def upload_file(
    projectid: ProjectId, sync_id: SyncId, file: TheFile, idempotency_key: UploadIdempotencyKey = None
):
    record = svc.direct_upload(
        current_caller(router), projectid, sync_id, None, file.filename, file.content, idempotency_key
    )
    return native_ok(dump(svc.file_out(record)), "file received", status=201)


@router.post(
    "/api/v1/project/<projectid>/syncs/<sync_id>/uploads",
    tags=["syncs"],
    responses=responses(Envelope[UploadOut], 403, 404, 409, status=201),
)
def start_upload(projectid: ProjectId, sync_id: SyncId, body: Annotated[UploadStart, Body()]):
    upload = svc.start_upload(current_caller(router), projectid, sync_id, body)
    return native_ok(dump(upload), "upload started: PUT each part to its URL", status=201)


@router.get(
    "/api/v1/project/<projectid>/syncs/<sync_id>/uploads/<upload_id>",
    tags=["syncs"],
    responses=responses(Envelope[UploadOut], 403, 404),
)
def get_upload(
    projectid: ProjectId,
    sync_id: SyncId,
    upload_id: UploadId,
    from_part: FromPart = 1,
    expires_in: ExpiresIn = DEFAULT_URL_EXPIRY,
):
    upload = svc.get_upload(
        current_caller(router),
        projectid,
        upload_id,
        from_part=from_part,
        expires_in=expires_in,
        sync_id=sync_id,
    )
    return native_ok(dump(upload))


@router.post(
    "/api/v1/project/<projectid>/syncs/<sync_id>/uploads/<upload_id>/complete",
    tags=["syncs"],
    responses=responses(Envelope[UploadOut], 403, 404, 409, 503),
)
def complete_upload(
    projectid: ProjectId, sync_id: SyncId, upload_id: UploadId, body: Annotated[UploadComplete, Body()]
):
    upload = svc.complete_upload(current_caller(router), projectid, upload_id, body.parts, sync_id=sync_id)
    return native_ok(dump(upload), "upload complete: the file is being ingested")


@router.delete(
    "/api/v1/project/<projectid>/syncs/<sync_id>/uploads/<upload_id>",
    tags=["syncs"],
    responses=responses(Envelope[UploadOut], 403, 404, 409),
)
def abort_upload(projectid: ProjectId, sync_id: SyncId, upload_id: UploadId):
    upload = svc.abort_upload(current_caller(router), projectid, upload_id, sync_id=sync_id)
    return native_ok(dump(upload), "upload aborted")
