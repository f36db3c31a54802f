"""The four dialects' envelopes, and the one place where domain errors become HTTP answers. What each
dialect means in the domain is in its own module here (native.py, gathr.py, amperity.py, ...).

native       {"success", "message", "data"}            (olake-style control plane)
application  {"message", "status": "Success"|"Error"}  (Gathr application API)
ingest       raw objects; errors {"message"}            (Amperity ingest-job API)
upload       raw objects; errors {"code", "msg"}        (Data Insider file-upload API)
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie

JSON = "application/json"


class Dialect(str, Enum):
    NATIVE = "native"
    APPLICATION = "application"
    INGEST = "ingest"
    UPLOAD = "upload"


def dialect_for_path(path: str) -> Dialect:
    """Which dialect a request path speaks; errors are shaped in that dialect."""
    if path.startswith("/api/v1/application/"):
        return Dialect.APPLICATION
    if path.startswith("/api/ingest/"):
        return Dialect.INGEST
    if path.startswith(("/api/ingestion/file/", "/api/lake/file/")):
        return Dialect.UPLOAD
    return Dialect.NATIVE


def json_text(body: Any) -> str:
    """A body as every answer encodes it (compact, ASCII: non-ASCII characters are escaped)."""
    return json.dumps(body, default=str, separators=(",", ":"))


def json_size(body: Any) -> int:
    """Bytes `body` takes in an answer (a pydantic model counts as its JSON dump)."""
    if hasattr(body, "model_dump"):
        body = body.model_dump(mode="json")
    return len(json_text(body))


def json_response(
    status: int, body: Any, headers: dict[str, str] | None = None, cookies: list[Cookie] | None = None
) -> Response:
    return Response(
        status_code=status,
        content_type=JSON,
        body=json_text(body),
        headers=headers,
        cookies=cookies,
    )


def native_ok(
    data: Any = None,
    message: str = "success",
    *,
    status: int = 200,
    next_cursor: str | None = None,
    paginated: bool = False,
    cookies: list[Cookie] | None = None,
) -> Response:
    """The native success envelope; lists carry `next_cursor` beside `data` (null on the last page)."""
    body: dict[str, Any] = {"success": True, "message": message, "data": data}
    if paginated:
        body["next_cursor"] = next_cursor
    return json_response(status, body, cookies=cookies)


def application_ok(message: str) -> Response:
    return json_response(200, {"message": message, "status": "Success"})


def error_body(dialect: Dialect, status: int, message: str, errors: list[dict] | None = None) -> dict:
    if dialect is Dialect.APPLICATION:
        return {"message": message, "status": "Error"}
    if dialect is Dialect.UPLOAD:
        return {"code": status, "msg": message}
    if dialect is Dialect.INGEST:
        return {"message": message}
    body: dict[str, Any] = {"success": False, "message": message}
    if errors:
        body["errors"] = errors
    return body


def error_response(
    dialect: Dialect,
    status: int,
    message: str,
    errors: list[dict] | None = None,
    cookies: list[Cookie] | None = None,
) -> Response:
    return json_response(status, error_body(dialect, status, message, errors), cookies=cookies)
