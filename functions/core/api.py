"""The resolver every API family uses: validation on, one error mapping, structured logs and tracing.

A family's handler module is `app = make_app("projects")`, its routes, and
`lambda_handler = make_lambda_handler(app)`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.router import Router
from aws_lambda_powertools.logging import correlation_paths

from .constants import MAX_BODY_BYTES
from .dialects import Dialect, dialect_for_path, error_response
from .errors import DomainError, Transient

if TYPE_CHECKING:
    from .auth import Caller

logger = Logger(service="ingestplane")
tracer = Tracer(service="ingestplane")


def _field_of(loc: Any) -> str:
    """`("body", "name")` -> `name`: the leading request part is implied by the route (a body field may
    itself be called `path` or `query`)."""
    parts = [str(p) for p in (loc or ())]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            out.append({"field": "body", "message": "body is not valid JSON"})
            continue
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        out.append({"field": _field_of(err.get("loc")), "message": msg})
    return out


def make_app(family: str) -> APIGatewayHttpResolver:
    """A resolver for one family with the shared error mapping (CORS is API Gateway's job)."""
    app = APIGatewayHttpResolver(enable_validation=True)

    def dialect() -> Dialect:
        return dialect_for_path(app.current_event.path)

    @app.exception_handler(DomainError)
    @app.exception_handler(Transient)
    def domain_error(exc: DomainError | Transient) -> Response:
        errors = [{"field": exc.field, "message": exc.message}] if exc.field else None
        return error_response(dialect(), exc.status, exc.message, errors)

    @app.exception_handler(RequestValidationError)
    def invalid_request(exc: RequestValidationError) -> Response:
        errors = validation_errors(exc)
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        message = f"Invalid request: {first['field']}: {first['message']}"
        return error_response(dialect(), 400, message, errors)

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_content_type(_exc: RequestUnsupportedContentType) -> Response:
        message = "Content-Type must be application/json"
        return error_response(
            dialect(), 400, f"Invalid request: {message}", [{"field": "content-type", "message": message}]
        )

    @app.exception_handler(UnicodeDecodeError)
    def undecodable_body(_exc: UnicodeDecodeError) -> Response:
        errors = [{"field": "body", "message": "body is not valid UTF-8"}]
        return error_response(dialect(), 400, "Invalid request: body: body is not valid UTF-8", errors)

    @app.not_found
    def not_found(_exc: Exception) -> Response:
        return error_response(dialect(), 404, "Resource not found")

    @app.exception_handler(Exception)
    def unexpected(exc: Exception) -> Response:
        # The trace goes to the log (with the correlation id), never to the caller.
        logger.exception("unhandled error")
        return error_response(dialect(), 500, "Internal server error")

    return app


def body_guard(event: dict) -> dict | None:
    """An answer for a body no route can parse, before any parsing: 413 when oversized, 400 when its
    base64 is broken or a multipart body has no boundary. None when the body may go on."""
    body = event.get("body") or ""
    status, message = 0, ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    content_type = next(
        (v for k, v in (event.get("headers") or {}).items() if k.lower() == "content-type"), ""
    )
    if size > MAX_BODY_BYTES:
        status, message = 413, "Payload too large"
    elif event.get("isBase64Encoded") and not _is_base64(body):
        status, message = 400, "Invalid request: body is not valid base64"
    elif str(content_type).lower().startswith("multipart/") and "boundary=" not in str(content_type).lower():
        status, message = 400, "Invalid request: a multipart body needs a boundary in Content-Type"
    elif not event.get("isBase64Encoded") and _json_may_crash(body) and not _json_parses(body):
        status, message = 400, "Invalid request: body: body is not valid JSON"
    if not status:
        return None
    resp = error_response(dialect_for_path(event.get("rawPath", "/")), status, message)
    return {"statusCode": status, "headers": resp.headers, "body": resp.body}


_LONG_NUMBER = re.compile(r"\d{4000}")


def _json_may_crash(body: str) -> bool:
    """Cheap test (no parse) for the two shapes _json_parses looks for: deep nesting, huge integers."""
    return body.count("[") + body.count("{") > 500 or _LONG_NUMBER.search(body) is not None


def _json_parses(body: str) -> bool:
    """False for JSON that the router's parser would crash on rather than refuse: nesting deep enough
    to overflow the stack, an integer of more digits than Python converts. Plain syntax errors pass:
    the router answers those itself."""
    try:
        json.loads(body)
    except json.JSONDecodeError:
        return True
    except (ValueError, RecursionError):
        return False
    return True


def _is_base64(body: str) -> bool:
    try:
        base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def make_lambda_handler(app: APIGatewayHttpResolver, family: str) -> Callable[[dict, Any], dict]:
    """The Lambda entry point of one family: logging context, tracing, the body guard, routing."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    def lambda_handler(event: dict, context: Any) -> dict:
        logger.append_keys(family=family)
        refused = body_guard(event)
        response = refused or app.resolve(event, context)
        http = (event.get("requestContext") or {}).get("http") or {}
        # The path and status only: bodies, headers and query strings may carry credentials.
        logger.info(
            "request",
            extra={
                "method": http.get("method"),
                "path": event.get("rawPath"),
                "status": response["statusCode"],
            },
        )
        return response

    return lambda_handler


def request_body_bytes(app: APIGatewayHttpResolver) -> bytes:
    """The raw request body, decoded from base64 when API Gateway encoded it."""
    event = app.current_event
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode()


def current_caller(app: APIGatewayHttpResolver | Router) -> Caller:
    """The verified caller of the request an app or a router is resolving (401 when there is none)."""
    from .auth import authenticate

    return authenticate(app.current_event.raw_event)
