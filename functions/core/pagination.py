"""Opaque cursors over DynamoDB's LastEvaluatedKey, and the page-size rule every list shares."""

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


_KEY_NAMES = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})


def _start_key(cursor: str | None, query: Any, hash_key: str) -> dict[str, Any] | None:
    """The cursor's key, if it is one this query could have issued: only our key attributes, each a
    string or number, and the query's own partition (a cursor of another list or project is a 400)."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    owner = getattr(getattr(query, "func", query), "__self__", None)  # (a functools.partial too)
    hash_name = owner._hash_key_attribute().attr_name if owner is not None else "pk"
    shaped = set(key) <= _KEY_NAMES and all(
        isinstance(v, dict) and len(v) == 1 and isinstance(v.get("S", v.get("N")), str) for v in key.values()
    )
    if not shaped or key.get(hash_name) != {"S": hash_key}:
        raise Invalid("cursor is not valid", field="cursor")
    return key


def query_page(
    query: Any,
    hash_key: str,
    condition: Any = None,
    *,
    limit: int | None,
    cursor: str | None,
    **options: Any,
):
    """One page of a pynamodb `Model.query` or `Index.query`: (records, next_cursor).

    `limit` is checked by `page_size`; `cursor` is the previous page's `next_cursor` (a bad one, or one
    of another list, is a 400). `options` go to the query (filter_condition, scan_index_forward).
    """
    from pynamodb.exceptions import QueryError

    size = page_size(limit)
    start = _start_key(cursor, query, hash_key)
    result = query(hash_key, condition, limit=size, page_size=size, last_evaluated_key=start, **options)
    try:
        records = list(result)
    except QueryError as exc:
        if start is not None and exc.cause_response_code == "ValidationException":
            raise Invalid("cursor is not valid", field="cursor") from None  # outside this query's range
        raise
    return records, encode_cursor(result.last_evaluated_key)
