"""Opaque cursors over DynamoDB's LastEvaluatedKey, and the page-size rules every list shares: at most
`limit` items (MAX_PAGE_SIZE) and at most MAX_PAGE_BYTES of JSON, so no page can pass Lambda's 6 MiB
response limit whatever its items hold."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from .constants import DEFAULT_PAGE_SIZE, MAX_PAGE_BYTES, MAX_PAGE_SIZE
from .dialects import json_size
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


def _owner(query: Any) -> Any:
    """The Model or Index whose bound `query` this is (a functools.partial of one too)."""
    return getattr(getattr(query, "func", query), "__self__", None)


def _start_key(cursor: str | None, query: Any, hash_key: str) -> dict[str, Any] | None:
    """The cursor's key, if it is one this query could have issued: only our key attributes, each a
    string or number, and the query's own partition (a cursor of another list or project is a 400)."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    owner = _owner(query)
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
) -> tuple[list, str | None]:
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


def _key_of(record: Any, query: Any) -> dict[str, Any]:
    """The key DynamoDB would give as LastEvaluatedKey after `record` in `query` (an index query's key
    holds the index's key attributes and the table's)."""
    model = type(record)
    attributes = [model._hash_key_attribute(), model._range_key_attribute()]
    owner = _owner(query)
    if owner is not None and owner is not model:
        attributes += [owner._hash_key_attribute(), owner._range_key_attribute()]
    key = {}
    for attr in filter(None, attributes):
        value = getattr(record, model._dynamo_to_python_attr(attr.attr_name))
        key[attr.attr_name] = {attr.attr_type: attr.serialize(value)}
    return key


def fit_page(query: Any, records: list, items: list, next_cursor: str | None) -> tuple[list, str | None]:
    """A query_page page's answer items cut at MAX_PAGE_BYTES of JSON: (items, next_cursor).

    `items[i]` is the answer of `records[i]`; when the items pass the budget the page ends after the last
    one that fits (the first item always stays: one stored record is far below it) and the cursor resumes
    right after it, so a client that follows next_cursor still sees every item once.
    """
    used = 0
    for i, item in enumerate(items):
        used += json_size(item)
        if i and used > MAX_PAGE_BYTES:
            return items[:i], encode_cursor(_key_of(records[i - 1], query))
    return items, next_cursor


@dataclass
class RecordPage:
    """One page of stored records, as a repository answers it: the records, the cursor after them, and
    the query that read them (so `fit` can cut the answer at MAX_PAGE_BYTES and resume after the last
    item kept)."""

    records: list
    next_cursor: str | None
    query: Any = None

    def fit(self, items: list) -> tuple[list, str | None]:
        """The answer items (`items[i]` answers `records[i]`) cut at MAX_PAGE_BYTES: (items, next_cursor)."""
        return fit_page(self.query, self.records, items, self.next_cursor)
