"""Opaque cursors over DynamoDB's LastEvaluatedKey, and the page-size rule every list shares: at most
`limit` items (MAX_PAGE_SIZE). A page of stored records is read and cut at MAX_PAGE_BYTES by
functions.core.repositories.pages."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .constants import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from .errors import Invalid


def page_size(limit: int | None) -> int:
    """The page size for a `limit` query value: default 50, at most 100, at least 1."""
    if limit is None:
        return DEFAULT_PAGE_SIZE
    if limit < 1 or limit > MAX_PAGE_SIZE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE_SIZE}", field="limit")
    return limit


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    raw = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The key to resume from; a cursor that this service did not issue is a 400."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: a 400 too
        raise Invalid("cursor is not valid", field="cursor") from None
    if not isinstance(key, dict) or not all(isinstance(k, str) for k in key):
        raise Invalid("cursor is not valid", field="cursor")
    return key
