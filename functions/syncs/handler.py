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

One Powertools Router per dialect (functions/syncs/datainsider.py, functions/syncs/native.py), joined
here with `include_router`; this module keeps what both share: the error mapping and the guard that
answers a direct upload too big (or a form Powertools cannot parse) before any routing.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType

from functions.core.api import make_app, make_lambda_handler
from functions.core.dialects import Dialect, dialect_for_path, error_response
from functions.core.models import ErrorEnvelope
from functions.core.models.upload_syncs import MAX_DIRECT_UPLOAD_BYTES
from functions.syncs import datainsider, idempotency, native

app = make_app("syncs")
app.include_router(datainsider.router)
app.include_router(native.router)

MULTIPART_ROUTE = (
    "POST /api/v1/project/{projectid}/syncs/{sync_id}/uploads (or /api/lake/file/multipart/start)"
)
FORM_OVERHEAD_BYTES = 64 * 1024  # the form's own headers and boundaries around the file


@app.exception_handler(RequestUnsupportedContentType)
def unsupported_content_type(_exc: RequestUnsupportedContentType):
    message = "Invalid request: body: unsupported content type (send JSON, or a multipart form for files)"
    return error_response(dialect_for_path(app.current_event.path), 400, message)


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
