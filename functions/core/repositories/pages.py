"""Pages of stored records: one DynamoDB query page behind an opaque cursor, cut at MAX_PAGE_BYTES of
answer JSON, so no page can pass Lambda's 6 MiB response limit whatever its items hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import QueryError

from ..constants import MAX_PAGE_BYTES
from ..dialects import json_size
from ..errors import Invalid
from ..pagination import decode_cursor, encode_cursor, page_size

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
