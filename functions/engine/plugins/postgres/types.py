"""PostgreSQL types -> engine types (Arrow, Iceberg), and the conversion of their text form to Arrow.

Every value is read in the text form PostgreSQL itself prints (COPY and pgoutput agree on it) under a
fixed session (UTC, ISO dates, ISO 8601 intervals, hex bytea; see :mod:`.connection`), and converted
column by column in Arrow. A value that does not fit its column's type (numeric NaN in a decimal,
``infinity`` or a BC date, a multi-dimensional array) rejects its row with the reason; it is never cast
into something else. The table of the mapping, and why, is docs/postgres.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from ...schema import arrow_type

# typname -> (converter kind, engine type); numeric and arrays are decided by their modifiers/elements.
_SCALARS: dict[str, tuple[str, str]] = {
    "bool": ("bool", "bool"),
    "int2": ("cast", "int32"),
    "int4": ("cast", "int32"),
    "int8": ("cast", "int64"),
    "oid": ("cast", "int64"),
    "float4": ("cast", "float32"),
    "float8": ("cast", "float64"),
    "money": ("money", "decimal(19,2)"),
    "date": ("cast", "date"),
    "time": ("time", "time"),
    "timestamp": ("cast", "timestamp"),
    "timestamptz": ("cast", "timestamptz"),
    "bytea": ("bytea", "binary"),
}
# Types kept as their exact text: Iceberg has no such type, or the text is the value's standard form.
_TEXT = {
    "text", "varchar", "bpchar", "char", "name", "citext", "json", "jsonb", "jsonpath", "xml", "uuid",
    "interval", "timetz", "inet", "cidr", "macaddr", "macaddr8", "bit", "varbit", "tsvector", "tsquery",
    "point", "line", "lseg", "box", "path", "polygon", "circle", "pg_lsn", "xid", "xid8", "cid", "tid",
    "regclass", "regtype", "regproc", "txid_snapshot", "pg_snapshot",
}  # fmt: skip
_TEXT_TYPTYPES = {"e": "an enum", "r": "a range", "m": "a multirange", "c": "a composite type"}
MAX_DECIMAL_PRECISION = 38  # Iceberg's and Arrow decimal128's limit


@dataclass(frozen=True)
class PgType:
    """What pg_type says of a type (domains already resolved to their base type)."""

    oid: int
    name: str  # typname
    typtype: str  # b base, e enum, r range, m multirange, c composite, d domain, p pseudo
    element: PgType | None = None  # arrays: the element type
    delimiter: str = ","
    typmod: int = -1  # a domain's own modifier (a domain over numeric(10,2))


@dataclass(frozen=True)
class Mapping:
    """How one column is read: its engine type and the converter of its text values."""

    type: str
    kind: str  # bool | cast | money | time | bytea | text | array
    element: Mapping | None = None
    delimiter: str = ","

    @property
    def arrow(self) -> pa.DataType:
        return arrow_type(self.type)


class Unmappable(ValueError):
    """A type with no lossless mapping: discovery lists the column as unsupported with this reason."""


def numeric_type(typmod: int) -> str:
    """numeric(p,s) -> decimal(p,s) when it fits 38 digits; unconstrained numeric keeps its exact text."""
    if typmod < 4:
        return "string"  # any precision and scale: only text holds every value exactly
    precision = ((typmod - 4) >> 16) & 0xFFFF
    scale = (typmod - 4) & 0x7FF
    scale = scale - 0x800 if scale & 0x400 else scale  # PostgreSQL 15 allows a negative scale
    if scale < 0:
        precision, scale = precision - scale, 0
    if precision > MAX_DECIMAL_PRECISION or scale > precision:
        return "string"
    return f"decimal({precision},{scale})"


def map_type(t: PgType, typmod: int = -1) -> Mapping:
    """The mapping of a column of type ``t`` (its ``atttypmod``), or raise :class:`Unmappable`."""
    if t.element is not None:
        element = map_type(t.element, typmod)
        if element.kind == "array":
            raise Unmappable(f"{t.name}: arrays of arrays have no mapping")
        return Mapping(f"list<{element.type}>", "array", element, t.element.delimiter)
    if t.name == "numeric":
        found = numeric_type(typmod)
        return Mapping(found, "text" if found == "string" else "cast")
    if t.name in _SCALARS:
        kind, engine = _SCALARS[t.name]
        return Mapping(engine, kind)
    if t.name in _TEXT or t.typtype in _TEXT_TYPTYPES:
        return Mapping("string", "text")
    what = "a pseudo-type" if t.typtype == "p" else "an extension or internal type"
    raise Unmappable(
        f"type {t.name} ({what}) has no lossless mapping; leave the column out or cast it in a view"
    )


# ---------------------------------------------------------------- text -> Arrow


def _bool(arr: pa.Array, target: pa.DataType) -> pa.Array:
    return pc.equal(arr, "t")


def _cast(arr: pa.Array, target: pa.DataType) -> pa.Array:
    return pc.cast(arr, target)


def _money(arr: pa.Array, target: pa.DataType) -> pa.Array:
    # money prints with the server's currency symbol and group separators: "-$1,234.50"
    return pc.cast(pc.replace_substring_regex(arr, r"[^0-9.\-]", ""), target)


def _time(arr: pa.Array, target: pa.DataType) -> pa.Array:
    stamps = pc.cast(pc.binary_join_element_wise("1970-01-01 ", arr, ""), pa.timestamp("us"))
    return pc.cast(stamps, target)


def _bytea(arr: pa.Array, target: pa.DataType) -> pa.Array:
    values = arr.to_pylist()
    try:
        return pa.array([None if v is None else bytes.fromhex(v[2:]) for v in values], pa.binary())
    except ValueError as exc:
        raise pa.ArrowInvalid(f"not a hex bytea: {exc}") from None


def _text(arr: pa.Array, target: pa.DataType) -> pa.Array:
    return arr


def parse_array(text: str, delimiter: str = ",") -> list[str | None]:
    """The elements of a one-dimensional array literal (``{1,NULL,"a \\"b\\""}``); ValueError otherwise.

    A lower bound other than 1 (``[0:1]={a,b}``) is dropped: the list keeps the elements in order."""
    if text.startswith("["):
        text = text[text.index("=") + 1 :]
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"not an array: {text[:40]!r}")
    body = text[1:-1]
    if not body:
        return []
    if '"' not in body and "{" not in body:
        return [None if e == "NULL" else e for e in body.split(delimiter)]
    out: list[str | None] = []
    i, n = 0, len(body)
    while i < n:
        if body[i] == "{":
            raise ValueError("a multi-dimensional array has no mapping to a list")
        if body[i] == '"':
            i, value = _quoted(body, i + 1)
            out.append(value)
        else:
            j = body.find(delimiter, i)
            j = n if j < 0 else j
            token = body[i:j]
            out.append(None if token == "NULL" else token)  # noqa: S105 - the NULL element
            i = j
        if i < n and body[i] != delimiter:
            raise ValueError(f"malformed array at {i}: {text[:40]!r}")
        i += 1
    return out


def _quoted(body: str, i: int) -> tuple[int, str]:
    """(index after the closing quote, the unescaped element) of a quoted element starting at ``i``."""
    chars = []
    while body[i] != '"':
        if body[i] == "\\":
            i += 1
        chars.append(body[i])
        i += 1
    return i + 1, "".join(chars)


def _array(mapping: Mapping) -> Callable[[pa.Array, pa.DataType], pa.Array]:
    element = mapping.element
    assert element is not None

    def convert(arr: pa.Array, target: pa.DataType) -> pa.Array:
        try:
            lists = [None if v is None else parse_array(v, mapping.delimiter) for v in arr.to_pylist()]
        except (ValueError, IndexError) as exc:
            raise pa.ArrowInvalid(str(exc)) from None
        parsed = pa.array(lists, pa.list_(pa.string()))
        values = converter(element)(parsed.values, element.arrow)
        return pa.ListArray.from_arrays(parsed.offsets, values, mask=parsed.is_null())

    return convert


_CONVERTERS: dict[str, Callable[[pa.Array, pa.DataType], pa.Array]] = {
    "bool": _bool, "cast": _cast, "money": _money, "time": _time, "bytea": _bytea, "text": _text,
}  # fmt: skip
_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


def converter(mapping: Mapping) -> Callable[[pa.Array, pa.DataType], pa.Array]:
    return _array(mapping) if mapping.kind == "array" else _CONVERTERS[mapping.kind]


def convert_column(mapping: Mapping, arr: pa.Array) -> tuple[pa.Array, list[int]]:
    """The column's text values as its Arrow type, and the positions of the values that do not fit (null
    in the result); one vectorized call, bisected only when it fails."""
    fn, target = converter(mapping), mapping.arrow
    try:
        return fn(arr, target), []
    except _ERRORS:
        pass
    bad: list[int] = []
    stack = [(0, len(arr))]
    while stack:
        lo, hi = stack.pop()
        try:
            fn(arr.slice(lo, hi - lo), target)
            continue
        except _ERRORS:
            pass
        if hi - lo == 1:
            bad.append(lo)
            continue
        mid = (lo + hi) // 2
        stack += [(mid, hi), (lo, mid)]
    bad.sort()
    flags = [False] * len(arr)
    for i in bad:
        flags[i] = True
    mask = pa.array(flags, pa.bool_())
    cleaned = pc.if_else(mask, pa.scalar(None, arr.type), arr)
    return fn(cleaned, target), bad
