"""The syncs family: upload syncs in the upload-sync dialect (Data Insider's file-upload API) and natively.

Upload-sync dialect (raw objects; errors `{"code": <status>, "msg"}`; `api_key` in the body or query):
  POST /api/ingestion/file/sync/start      {"name", "path", "sync_type", "api_key"} -> {"sync_id"}
  POST /api/lake/file/upload?path=&sync_id= multipart form with `file` (at most 4 MiB) -> {"code": 0}
  POST /api/ingestion/file/sync/end        {"sync_id", "api_key"} -> {"success": true}
  GET  /api/ingestion/file/sync/list?from=&size=      the sessions, newest first
  GET  /api/ingestion/file/sync/history?from=&size=   the uploaded files, newest first
  POST /api/lake/file/multipart/start|complete|abort, GET /api/lake/file/multipart/parts
                                           presigned multipart uploads for bigger files
Native dialect: /api/v1/project/{projectid}/syncs[/{sync_id}[/end|/files|/uploads[/{upload_id}[/complete]]]].
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType
from aws_lambda_powertools.event_handler.openapi.params import Body, File, Header, Path, Query, UploadFile
from pydantic import BaseModel

from functions.core.api import current_caller, make_app, make_lambda_handler
from functions.core.auth import Caller
from functions.core.dialects import Dialect, dialect_for_path, error_response, json_response, native_ok
from functions.core.models import Envelope, ErrorEnvelope, PageEnvelope, dump
from functions.core.models.upload_syncs import (
    DEFAULT_URL_EXPIRY,
    MAX_DIRECT_UPLOAD_BYTES,
    MAX_OFFSET,
    MAX_PARTS,
    MAX_URL_EXPIRY,
    FileSyncHistory,
    FileSyncInfo,
    LakeUploadComplete,
    LakeUploadRef,
    LakeUploadStart,
    SyncCreate,
    SyncEnd,
    SyncEnded,
    SyncFileOut,
    SyncOut,
    SyncStart,
    SyncStarted,
    UploadCode,
    UploadComplete,
    UploadOut,
    UploadStart,
)
from functions.core.openapi import ERROR_TEXT
from functions.core.openapi import responses as native_responses
from functions.core.params import Cursor, Limit, ProjectId
from functions.core.services import upload_syncs as svc
from functions.syncs import idempotency

app = make_app("syncs")

MULTIPART_ROUTE = (
    "POST /api/v1/project/{projectid}/syncs/{sync_id}/uploads (or /api/lake/file/multipart/start)"
)
FORM_OVERHEAD_BYTES = 64 * 1024  # the form's own headers and boundaries around the file

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


class UploadError(BaseModel):
    """The upload-sync dialect's error: `code` is the HTTP status, never 0."""

    code: int
    msg: str


def upload_responses(ok: Any, *errors: int) -> dict:
    """`responses=` of an upload-dialect route: its raw success model and its `{code, msg}` errors."""
    out: dict[int, dict] = {200: {"description": "Success", "content": {"application/json": {"model": ok}}}}
    for code in sorted({400, 401, *errors}):
        out[code] = {"description": ERROR_TEXT[code], "content": {"application/json": {"model": UploadError}}}
    return out


def responses(ok: Any, *errors: int, status: int = 200) -> dict:
    return native_responses(ok, *errors, status=status)


@app.exception_handler(RequestUnsupportedContentType)
def unsupported_content_type(_exc: RequestUnsupportedContentType):
    message = "Invalid request: body: unsupported content type (send JSON, or a multipart form for files)"
    return error_response(dialect_for_path(app.current_event.path), 400, message)


def _caller() -> Caller:
    return current_caller(app)


def _raw(model: BaseModel | list, status: int = 200):
    body = [dump(m) for m in model] if isinstance(model, list) else dump(model)
    return json_response(status, body)


# ---------------------------------------------------------------- upload-sync dialect


@app.post(
    "/api/ingestion/file/sync/start", tags=["upload syncs"], responses=upload_responses(SyncStarted, 403, 404)
)
def dialect_start(body: Annotated[SyncStart, Body()], idempotency_key: IdempotencyKey = None):
    caller = _caller()
    project_id = svc.dialect_project(caller, body.project_id)
    target = SyncCreate(**body.model_dump(include=set(SyncCreate.model_fields)))
    session = idempotency.start_upload_sync(caller, project_id, target, idempotency_key)
    return _raw(SyncStarted(sync_id=int(session.sync_id)))


@app.post(
    "/api/ingestion/file/sync/end",
    tags=["upload syncs"],
    responses=upload_responses(SyncEnded, 403, 404, 409),
)
def dialect_end(body: Annotated[SyncEnd, Body()]):
    caller = _caller()
    svc.end_upload_sync(caller, svc.dialect_project(caller, body.project_id), body.sync_id)
    return _raw(SyncEnded())


@app.get(
    "/api/ingestion/file/sync/list",
    tags=["upload syncs"],
    responses=upload_responses(list[FileSyncInfo], 403, 404),
)
def dialect_list(from_: From = 0, size: Size = 10, api_key: ApiKey = None, project_id: DialectProject = None):
    caller = _caller()
    return _raw(svc.list_sync_infos(caller, svc.dialect_project(caller, project_id), from_, size))


@app.get(
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
    caller = _caller()
    project = svc.dialect_project(caller, project_id)
    return _raw(svc.list_history(caller, project, from_, size, sync_id))


@app.post(
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
    caller = _caller()
    project = svc.dialect_project(caller, project_id)
    svc.direct_upload(caller, project, sync_id, path, file.filename, file.content, idempotency_key)
    return _raw(UploadCode())


@app.post(
    "/api/lake/file/multipart/start",
    tags=["upload syncs"],
    responses=upload_responses(UploadOut, 403, 404, 409),
)
def dialect_multipart_start(body: Annotated[LakeUploadStart, Body()]):
    caller = _caller()
    project = svc.dialect_project(caller, body.project_id)
    start = UploadStart(**body.model_dump(include=set(UploadStart.model_fields)))
    return _raw(svc.start_upload(caller, project, body.sync_id, start))


@app.get(
    "/api/lake/file/multipart/parts", tags=["upload syncs"], responses=upload_responses(UploadOut, 403, 404)
)
def dialect_multipart_parts(
    upload_id: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    from_part: FromPart = 1,
    expires_in: ExpiresIn = DEFAULT_URL_EXPIRY,
    api_key: ApiKey = None,
    project_id: DialectProject = None,
):
    caller = _caller()
    project = svc.dialect_project(caller, project_id)
    return _raw(svc.get_upload(caller, project, upload_id, from_part=from_part, expires_in=expires_in))


@app.post(
    "/api/lake/file/multipart/complete",
    tags=["upload syncs"],
    responses=upload_responses(UploadOut, 403, 404, 409, 503),
)
def dialect_multipart_complete(body: Annotated[LakeUploadComplete, Body()]):
    caller = _caller()
    project = svc.dialect_project(caller, body.project_id)
    return _raw(svc.complete_upload(caller, project, body.upload_id, body.parts))


@app.post(
    "/api/lake/file/multipart/abort",
    tags=["upload syncs"],
    responses=upload_responses(UploadOut, 403, 404, 409),
)
def dialect_multipart_abort(body: Annotated[LakeUploadRef, Body()]):
    caller = _caller()
    project = svc.dialect_project(caller, body.project_id)
    return _raw(svc.abort_upload(caller, project, body.upload_id))


# ---------------------------------------------------------------- native dialect


@app.get("/api/v1/project/<projectid>/syncs", tags=["syncs"], responses=responses(PageEnvelope[SyncOut], 404))
def list_syncs(projectid: ProjectId, limit: Limit = None, cursor: Cursor = None):
    items, next_cursor = svc.list_upload_syncs(_caller(), projectid, limit, cursor)
    return native_ok([dump(i) for i in items], next_cursor=next_cursor, paginated=True)


@app.post(
    "/api/v1/project/<projectid>/syncs",
    tags=["syncs"],
    responses=responses(Envelope[SyncOut], 403, 404, status=201),
)
def create_sync(
    projectid: ProjectId, body: Annotated[SyncCreate, Body()], idempotency_key: IdempotencyKey = None
):
    session = idempotency.start_upload_sync(_caller(), projectid, body, idempotency_key)
    return native_ok(dump(svc.sync_out(session)), "sync started", status=201)


@app.get(
    "/api/v1/project/<projectid>/syncs/<sync_id>", tags=["syncs"], responses=responses(Envelope[SyncOut], 404)
)
def get_sync(projectid: ProjectId, sync_id: SyncId):
    return native_ok(dump(svc.sync_out(svc.get_upload_sync(_caller(), projectid, sync_id))))


@app.post(
    "/api/v1/project/<projectid>/syncs/<sync_id>/end",
    tags=["syncs"],
    responses=responses(Envelope[SyncOut], 403, 404, 409),
)
def end_sync(projectid: ProjectId, sync_id: SyncId):
    session = svc.end_upload_sync(_caller(), projectid, sync_id)
    return native_ok(dump(svc.sync_out(session)), "sync ended")


@app.get(
    "/api/v1/project/<projectid>/syncs/<sync_id>/files",
    tags=["syncs"],
    responses=responses(PageEnvelope[SyncFileOut], 404),
)
def list_files(projectid: ProjectId, sync_id: SyncId, limit: Limit = None, cursor: Cursor = None):
    items, next_cursor = svc.list_files(_caller(), projectid, sync_id, limit, cursor)
    return native_ok([dump(i) for i in items], next_cursor=next_cursor, paginated=True)


@app.post(
    "/api/v1/project/<projectid>/syncs/<sync_id>/files",
    tags=["syncs"],
    responses=responses(Envelope[SyncFileOut], 403, 404, 409, 413, status=201),
)
def upload_file(
    projectid: ProjectId, sync_id: SyncId, file: TheFile, idempotency_key: UploadIdempotencyKey = None
):
    record = svc.direct_upload(
        _caller(), projectid, sync_id, None, file.filename, file.content, idempotency_key
    )
    return native_ok(dump(svc.file_out(record)), "file received", status=201)


@app.post(
    "/api/v1/project/<projectid>/syncs/<sync_id>/uploads",
    tags=["syncs"],
    responses=responses(Envelope[UploadOut], 403, 404, 409, status=201),
)
def start_upload(projectid: ProjectId, sync_id: SyncId, body: Annotated[UploadStart, Body()]):
    upload = svc.start_upload(_caller(), projectid, sync_id, body)
    return native_ok(dump(upload), "upload started: PUT each part to its URL", status=201)


@app.get(
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
        _caller(), projectid, upload_id, from_part=from_part, expires_in=expires_in, sync_id=sync_id
    )
    return native_ok(dump(upload))


@app.post(
    "/api/v1/project/<projectid>/syncs/<sync_id>/uploads/<upload_id>/complete",
    tags=["syncs"],
    responses=responses(Envelope[UploadOut], 403, 404, 409, 503),
)
def complete_upload(
    projectid: ProjectId, sync_id: SyncId, upload_id: UploadId, body: Annotated[UploadComplete, Body()]
):
    upload = svc.complete_upload(_caller(), projectid, upload_id, body.parts, sync_id=sync_id)
    return native_ok(dump(upload), "upload complete: the file is being ingested")


@app.delete(
    "/api/v1/project/<projectid>/syncs/<sync_id>/uploads/<upload_id>",
    tags=["syncs"],
    responses=responses(Envelope[UploadOut], 403, 404, 409),
)
def abort_upload(projectid: ProjectId, sync_id: SyncId, upload_id: UploadId):
    upload = svc.abort_upload(_caller(), projectid, upload_id, sync_id=sync_id)
    return native_ok(dump(upload), "upload aborted")


# ---------------------------------------------------------------- the entry point


def _is_direct_upload(event: dict) -> bool:
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "")
    path = event.get("rawPath") or ""
    return method == "POST" and (
        path == "/api/lake/file/upload" or (path.startswith("/api/v1/project/") and path.endswith("/files"))
    )


def upload_guard(event: dict) -> dict | None:
    """Answers, before any parsing, a direct upload that is too big (413, naming the multipart route)
    and a multipart body Powertools could not parse (400, not its ValueError's 500); else None."""
    dialect = dialect_for_path(event.get("rawPath") or "/")
    body = event.get("body") or ""
    if _is_direct_upload(event):
        size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
        if size > MAX_DIRECT_UPLOAD_BYTES + FORM_OVERHEAD_BYTES:
            message = (
                f"File too large for a direct upload (at most {MAX_DIRECT_UPLOAD_BYTES // (1024 * 1024)} MiB); "
                f"use a presigned multipart upload: {MULTIPART_ROUTE}"
            )
            return _answer(error_response(dialect, 413, message))
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    ctype = headers.get("content-type", "")
    if ctype.strip().lower().startswith("multipart/form-data"):
        boundary = ""
        for segment in ctype.split(";"):
            if segment.strip().startswith("boundary="):
                boundary = segment.strip()[len("boundary=") :].strip('"')
        bad = not boundary
        if event.get("isBase64Encoded"):
            try:
                base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                bad = True
        if bad:
            message = "Invalid request: body: a multipart/form-data body with a boundary is required"
            return _answer(error_response(dialect, 400, message))
    return None


def _answer(resp) -> dict:
    return {"statusCode": resp.status_code, "headers": resp.headers, "body": resp.body}


_handler = make_lambda_handler(app, "syncs")


def lambda_handler(event: dict, context: Any) -> dict:
    idempotency.config.register_lambda_context(context)  # a timeout then never leaves a key in progress
    return upload_guard(event) or _handler(event, context)


__all__ = ["Dialect", "ErrorEnvelope", "app", "lambda_handler"]
