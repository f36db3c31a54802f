"""The OpenAPI responses of the jobs family's routes in the application and ingest-job dialects."""

from __future__ import annotations

from typing import Any

from functions.core.openapi import ERROR_TEXT


def dialect_responses(ok: Any, error_model: Any, *errors: int) -> dict:
    """Responses of a route whose errors are in another dialect's envelope."""
    out: dict[int, dict] = {200: {"description": "Success", "content": {"application/json": {"model": ok}}}}
    for code in sorted({400, 401, *errors}):
        out[code] = {"description": ERROR_TEXT[code], "content": {"application/json": {"model": error_model}}}
    return out
