"""Schema inference from a sample of one or more files.

Text values (CSV, TSV, and the strings of JSON Lines) are typed here rather than by pyarrow's readers,
so that every format follows one rule set and no value is silently made lossy: an integer too large for
int64 becomes ``decimal(p,0)`` (not a float), a number with more significant digits than a float64 keeps
exactly (more than 15) becomes ``decimal(p,s)``, a date stays a ``date``, and a time carrying a zone
(``Z``, ``+02:00``) makes a ``timestamptz`` column while zone-less times make ``timestamp``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .formats import detect_compression, detect_format
from .options import CsvOptions
from .readers import iter_parsed
from .schema import Column, StreamSchema, merge_types, type_from_arrow
from .sources import Source
from .validate import NULL_STRINGS

_INT = r"^[+-]?\d+$"
_DECIMAL = r"^[+-]?(\d+\.\d*|\.\d+)$"
_FLOAT = r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity|nan)$"
_BOOL = r"^(?i:true|false)$"
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_TIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
_ZONE = r"(Z|[+-]\d{2}(:?\d{2})?)$"
SAMPLE_BLOCK_BYTES = 1 << 20
FLOAT_EXACT_DIGITS = 15  # a float64 keeps any decimal of up to 15 significant digits exactly


def _all(arr: pa.Array, pattern: str) -> bool:
    return bool(pc.all(pc.match_substring_regex(arr, pattern)).as_py())


def _casts(arr: pa.Array, typ: pa.DataType) -> bool:
    try:
        pc.cast(arr, typ, safe=True)
        return True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False


def _decimal_of(arr: pa.Array) -> tuple[int, int]:
    """(precision, scale) that holds every plain decimal literal in ``arr`` exactly."""
    parts = pc.extract_regex(arr, r"^[+-]?(?P<whole>\d*)\.?(?P<frac>\d*)$")
    whole = pc.utf8_length(pc.utf8_ltrim(pc.struct_field(parts, "whole"), "0"))
    scale = int(pc.max(pc.utf8_length(pc.struct_field(parts, "frac"))).as_py() or 0)
    digits = int(pc.max(whole).as_py() or 0)
    return max(1, digits + scale), scale


def text_type(arr: pa.Array, *, temporal_only: bool = False) -> str:
    """The engine type of a column of text values (nulls and pyarrow's null spellings ignored)."""
    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
        try:
            arr = pc.cast(arr, pa.string())
        except pa.ArrowInvalid:
            return "string"  # invalid UTF-8: leave it to the validator to reject those rows
    values = pc.drop_null(arr)
    if not temporal_only:
        values = values.filter(pc.invert(pc.is_in(values, pa.array(NULL_STRINGS))))
    else:
        values = values.filter(pc.not_equal(values, ""))
    if len(values) == 0:
        return "null"
    if not temporal_only:
        numeric = _numeric_type(pc.utf8_trim_whitespace(values))
        if numeric is not None:
            return numeric
    return _temporal_type(values) or "string"


def _numeric_type(stripped: pa.Array) -> str | None:
    """int64, an exact decimal, bool or float64 for text values (blanks trimmed) that all are one; else None."""
    if _all(stripped, _INT):
        if _casts(stripped, pa.int64()):
            return "int64"
        p, _ = _decimal_of(stripped)
        return f"decimal({p},0)" if p <= 38 else "string"
    if _all(stripped, _BOOL):
        return "bool"
    if _all(stripped, _FLOAT) and _casts(stripped, pa.float64()):
        if _all(stripped, _DECIMAL) or _all(stripped, f"{_INT}|{_DECIMAL}"):
            p, s = _decimal_of(stripped)
            if p > FLOAT_EXACT_DIGITS and p <= 38:
                return f"decimal({p},{s})"
        return "float64"
    return None


def _temporal_type(values: pa.Array) -> str | None:
    """date, timestamptz (every value zoned) or timestamp (none zoned) for text values; else None."""
    if _all(values, _DATE) and _casts(values, pa.date32()):
        return "date"
    if _all(values, f"{_DATE}|{_TIME}"):
        zoned = pc.match_substring_regex(values, _TIME + r".*" + _ZONE)
        if bool(pc.all(zoned).as_py()) and _casts(values, pa.timestamp("us", tz="UTC")):
            return "timestamptz"
        if not bool(pc.any(zoned).as_py()) and _casts(values, pa.timestamp("us")):
            return "timestamp"
    return None


def infer_table_schema(table: pa.Table) -> StreamSchema:
    """Types for one parsed piece: text columns (binary or string) typed by :func:`text_type`."""
    cols = []
    for f in table.schema:
        if pa.types.is_binary(f.type):
            t = text_type(table.column(f.name).combine_chunks())
        elif pa.types.is_string(f.type):
            t = text_type(table.column(f.name).combine_chunks(), temporal_only=True)
        else:
            t = type_from_arrow(f.type)
        cols.append(Column(f.name, "string" if t == "null" else t))
    return StreamSchema(tuple(cols))


def _sample_types(
    source: Source, sample_rows: int, fmt: str, compression: str, csv_options: Any
) -> dict[str, str]:
    types: dict[str, str] = {}
    rows = 0
    comp = detect_compression(source, compression)
    fmt = detect_format(source, comp) if fmt == "auto" else fmt
    if fmt in ("csv", "tsv", "jsonl"):
        opts = CsvOptions.for_format(fmt, csv_options)
        # a sample needs a small first block, not the reader's full 8 MB one
        csv_options = dataclasses.replace(opts, block_size=min(opts.block_size, SAMPLE_BLOCK_BYTES))
    # Avro and Parquet pieces of the sample's size: decoding 65,536 records for a 10,000-row sample costs
    for parsed in iter_parsed(source, fmt, comp, csv_options, raw=True, batch_rows=max(1, sample_rows)):
        table = parsed.table
        if rows + table.num_rows > sample_rows:
            table = table.slice(0, max(0, sample_rows - rows))
        rows += table.num_rows
        for f in table.schema:
            col = table.column(f.name).combine_chunks()
            if pa.types.is_binary(f.type):
                typ = text_type(col)
            elif pa.types.is_string(f.type) and fmt == "jsonl":
                typ = text_type(col, temporal_only=True)
            else:
                typ = type_from_arrow(f.type)
            types[f.name] = merge_types(types[f.name], typ) if f.name in types else typ
        if rows >= sample_rows:
            break
    return types


def infer_schema(
    sources: Source | Iterable[Source],
    sample_rows: int = 10_000,
    *,
    fmt: str = "auto",
    compression: str = "auto",
    csv_options: CsvOptions | dict[str, Any] | None = None,
) -> StreamSchema:
    """Infer a stream schema from the first ``sample_rows`` records of each source, merged across them.

    Types: int64, float64, decimal(p,s) (where exact: declared by Parquet or Avro, or text numbers a
    float64 cannot hold exactly), bool, string, date, timestamp and timestamptz (values carrying a
    zone), binary. Columns seen in only some files are kept (they will be nullable); a column whose
    files disagree takes the narrowest type holding both (int64 + float64 -> float64, else string). A
    column that is null throughout the sample is a string.
    """
    if isinstance(sources, Source):
        sources = [sources]
    merged: dict[str, str] = {}
    for src in sources:
        for name, typ in _sample_types(src, sample_rows, fmt, compression, csv_options).items():
            merged[name] = merge_types(merged[name], typ) if name in merged else typ
    return StreamSchema(tuple(Column(n, "string" if t == "null" else t) for n, t in merged.items()))
