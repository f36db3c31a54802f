"""Validation and coercion of parsed data against a stream schema, column by column in Arrow.

A column is cast in one vectorized call; only when that call fails is it bisected to find exactly the
values that do not fit, which are rejected with a reason. Nothing is cast unsafely: a lossy cast
(1.5 -> int64, overflow, bad UTF-8, a zone-less time for a ``timestamptz`` column) rejects the row.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# pyarrow's CSV null spellings: the same set applies when a failed block is re-read as raw bytes.
NULL_STRINGS = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"]  # fmt: skip
_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


def _cast(arr: pa.Array, target: pa.DataType) -> pa.Array:
    if pa.types.is_time(target) and pa.types.is_string(arr.type):
        # Arrow casts no text to a time of day: "13:45:00.25" is read as that time on 1970-01-01
        arr = pc.binary_join_element_wise("1970-01-01 ", arr, "").cast(pa.timestamp("us"))
    return pc.cast(arr, target, safe=True)


def _bad_positions(arr: pa.Array, target: pa.DataType) -> list[int]:
    """Positions whose value cannot be cast: bisect the failing array (cost ~ bad values x log n)."""
    bad: list[int] = []
    stack = [(0, len(arr))]
    while stack:
        lo, hi = stack.pop()
        try:
            _cast(arr.slice(lo, hi - lo), target)
            continue
        except _CAST_ERRORS:
            pass
        if hi - lo == 1:
            bad.append(lo)
            continue
        mid = (lo + hi) // 2
        stack.append((mid, hi))
        stack.append((lo, mid))
    return sorted(bad)


def _utf8(arr: pa.Array) -> tuple[pa.Array, list[int]]:
    try:
        return _cast(arr, pa.string()), []
    except _CAST_ERRORS:
        pass
    bad = []
    for i, v in enumerate(arr.to_pylist()):
        if v is not None:
            try:
                v.decode("utf-8")
            except UnicodeDecodeError:
                bad.append(i)
    cleaned = pc.if_else(_mask(len(arr), bad), pa.scalar(None, arr.type), arr)
    return _cast(cleaned, pa.string()), bad


def coerce_table(
    table: pa.Table, target: pa.Schema, from_text: bool = False
) -> tuple[pa.Table, list[int], list[str]]:
    """Cast ``table`` to ``target``; return the good rows, the positions of the bad ones and their reasons.

    Columns missing from ``table`` become nulls; extra columns are dropped. ``from_text`` means raw text
    values, where pyarrow's CSV null spellings count as null in non-string columns (and whose string
    columns the CSV reader has already checked for valid UTF-8; other sources' strings are checked here).
    """
    n = table.num_rows
    reasons: dict[int, str] = {}
    columns = [
        _coerce_column(table.column(f.name).combine_chunks(), f, from_text, reasons)
        if f.name in table.column_names
        else pa.nulls(n, f.type)
        for f in target
    ]
    for f, col in zip(target, columns, strict=True):
        if not f.nullable:
            for i in pc.indices_nonzero(col.is_null()).to_pylist():
                reasons.setdefault(int(i), f"column {f.name!r}: null in a required column")
    out = pa.Table.from_arrays(columns, schema=target)
    if not reasons:
        return out, [], []
    bad_idx = sorted(reasons)
    keep = pc.invert(_mask(n, bad_idx))
    return out.filter(keep), bad_idx, [reasons[i] for i in bad_idx]


def _coerce_column(arr: pa.Array, f: pa.Field, from_text: bool, reasons: dict[int, str]) -> pa.Array:
    """``arr`` cast to ``f``'s type, values that do not fit made null; their reasons go into ``reasons``
    by position (a row's first reason is kept)."""
    if pa.types.is_string(arr.type) and not from_text and not _valid_utf8(arr):
        # some readers (JSON, Parquet) pass invalid UTF-8 through: reject exactly those values
        arr, bad_utf8 = _utf8(arr.view(pa.binary()))
        for i in bad_utf8:
            reasons.setdefault(i, f"column {f.name!r}: invalid UTF-8")
    if arr.type == f.type:
        return arr
    if pa.types.is_nested(arr.type) and pa.types.is_string(f.type):
        arr = _json_text(arr)  # a nested JSON value in a string column keeps its JSON text
    if pa.types.is_binary(arr.type) and not pa.types.is_binary(f.type):
        arr, bad_utf8 = _utf8(arr)
        for i in bad_utf8:
            reasons.setdefault(i, f"column {f.name!r}: invalid UTF-8")
    if from_text and pa.types.is_string(arr.type) and not pa.types.is_string(f.type):
        # as pyarrow's typed parse (the fast path) does: " 12" is 12, whatever rows share the block
        arr = pc.utf8_trim_whitespace(arr)
        arr = pc.if_else(pc.is_in(arr, pa.array(NULL_STRINGS)), pa.scalar(None, pa.string()), arr)
    try:
        return _cast(arr, f.type)
    except _CAST_ERRORS:
        pass
    bad = _bad_positions(arr, f.type)
    values = arr.take(pa.array(bad, pa.int64())).to_pylist() if bad else []
    for i, v in zip(bad, values, strict=True):
        shown = repr(v)[:80]
        reasons.setdefault(i, f"column {f.name!r}: value {shown} does not fit type {_type_name(f.type)}")
    return _cast(pc.if_else(_mask(len(arr), bad), pa.scalar(None, arr.type), arr), f.type)


def _valid_utf8(arr: pa.Array) -> bool:
    try:
        arr.validate(full=True)
        return True
    except pa.ArrowInvalid:
        return False


def _json_text(arr: pa.Array) -> pa.Array:
    import json

    return pa.array(
        [None if v is None else json.dumps(v, default=str, ensure_ascii=False) for v in arr.to_pylist()],
        pa.string(),
    )


def _mask(n: int, positions: list[int]) -> pa.Array:
    """A boolean array of length ``n``, true at ``positions``."""
    flags = [False] * n
    for i in positions:
        flags[i] = True
    return pa.array(flags, pa.bool_())


def _type_name(t: pa.DataType) -> str:
    from .schema import type_from_arrow

    if pa.types.is_int32(t):
        return "int32"
    if pa.types.is_float32(t):
        return "float32"
    return type_from_arrow(t)
