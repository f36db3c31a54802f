"""Stream schemas: the engine's column types, their Arrow and Iceberg mappings, inference and evolution.

Type strings (the serializable form, ``[{"name", "type"}]``): ``int32``, ``int64``, ``float32``,
``float64``, ``decimal(p,s)``, ``bool``, ``string``, ``binary``, ``date``, ``time`` (microseconds),
``timestamp`` (no zone, microseconds), ``timestamptz`` (UTC, microseconds) and ``list<T>`` (a list of
one of the others; what database arrays become).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from .errors import SchemaError

_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_LIST = re.compile(r"^list<(.+)>$")
_SIMPLE_TYPES: dict[str, pa.DataType] = {
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "string": pa.string(),
    "binary": pa.binary(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}
_ALIASES = {
    "int": "int32",
    "integer": "int32",
    "long": "int64",
    "bigint": "int64",
    "float": "float32",
    "double": "float64",
    "boolean": "bool",
    "str": "string",
    "varchar": "string",
    "bytes": "binary",
}
_INTS = ("int32", "int64")


def normalize_type(type_str: str) -> str:
    """The canonical spelling of a type string; raises :class:`SchemaError` for an unknown type."""
    t = type_str.strip().lower().replace(" ", "")
    t = _ALIASES.get(t, t)
    if t in _SIMPLE_TYPES:
        return t
    m = _DECIMAL.match(t)
    if m:
        p, s = int(m.group(1)), int(m.group(2))
        if not (1 <= p <= 38 and 0 <= s <= p):
            raise SchemaError(f"invalid decimal precision/scale in {type_str!r}")
        return f"decimal({p},{s})"
    m = _LIST.match(t)
    if m and not _LIST.match(m.group(1)):
        return f"list<{normalize_type(m.group(1))}>"
    raise SchemaError(f"unknown column type {type_str!r}")


def _decimal_ps(t: str) -> tuple[int, int] | None:
    m = _DECIMAL.match(t)
    return (int(m.group(1)), int(m.group(2))) if m else None


def arrow_type(type_str: str) -> pa.DataType:
    """The Arrow type for an engine type string."""
    t = normalize_type(type_str)
    ps = _decimal_ps(t)
    if ps:
        return pa.decimal128(*ps)
    m = _LIST.match(t)
    if m:
        return pa.list_(arrow_type(m.group(1)))
    return _SIMPLE_TYPES[t]


def type_from_arrow(dtype: pa.DataType) -> str:
    """The engine type string for an Arrow type (``null`` for the all-null type; nested types as string)."""
    if pa.types.is_null(dtype):
        return "null"
    if pa.types.is_boolean(dtype):
        return "bool"
    if pa.types.is_int32(dtype) or pa.types.is_int16(dtype) or pa.types.is_int8(dtype):
        return "int64"
    if pa.types.is_integer(dtype):
        return "int64"
    if pa.types.is_floating(dtype):
        return "float64"
    if pa.types.is_decimal(dtype):
        return f"decimal({dtype.precision},{dtype.scale})"
    if pa.types.is_date(dtype):
        return "date"
    if pa.types.is_time(dtype):
        return "time"
    if pa.types.is_timestamp(dtype):
        return "timestamptz" if dtype.tz else "timestamp"
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype) or pa.types.is_fixed_size_binary(dtype):
        return "binary"
    return "string"


def merge_types(a: str, b: str) -> str:
    """The narrowest type holding values of both ``a`` and ``b`` (inference across samples and files)."""
    if a == b:
        return a
    if a == "null":
        return b
    if b == "null":
        return a
    pair = {a, b}
    if pair <= {"int32", "int64"}:
        return "int64"
    if pair <= {"int32", "int64", "float32", "float64"}:
        return "float64"
    da, db = _decimal_ps(a), _decimal_ps(b)
    if da or db:
        other = b if da else a
        if da and db:
            scale = max(da[1], db[1])
            whole = max(da[0] - da[1], db[0] - db[1])
            return f"decimal({min(38, whole + scale)},{scale})" if whole + scale <= 38 else "float64"
        if other in _INTS:
            p, s = da or db  # type: ignore[misc]
            return f"decimal({max(p, 19 + s)},{s})" if 19 + s <= 38 else "float64"
        if other in ("float32", "float64"):
            return "float64"
    if pair == {"date", "timestamp"}:
        return "timestamp"
    return "string"


# Promotions an existing column may take without rewriting or reinterpreting a stored value.
def is_widening(old: str, new: str) -> bool:
    """True when a column of type ``old`` may become ``new`` (int -> long -> double, wider decimal, ...)."""
    if old == new:
        return True
    if old == "int32" and new in ("int64", "float64"):
        return True
    if old == "int64" and new == "float64":
        return True
    if old == "float32" and new == "float64":
        return True
    if old == "date" and new == "timestamp":
        return True
    do, dn = _decimal_ps(old), _decimal_ps(new)
    if do and dn:
        return dn[1] == do[1] and dn[0] >= do[0]
    if old in _INTS and dn:
        return dn[0] - dn[1] >= (10 if old == "int32" else 19)
    return False


@dataclass(frozen=True)
class Column:
    """One column of a stream: its name, engine type string and nullability."""

    name: str
    type: str
    nullable: bool = True

    def __post_init__(self) -> None:
        if not self.name:
            raise SchemaError("column name must not be empty")
        object.__setattr__(self, "type", normalize_type(self.type))

    @property
    def arrow_type(self) -> pa.DataType:
        return arrow_type(self.type)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type}
        if not self.nullable:
            d["nullable"] = False
        return d


@dataclass(frozen=True)
class StreamSchema:
    """The columns of a stream, in order. Serializable as ``[{"name", "type"}]``."""

    columns: tuple[Column, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        names = [c.name for c in self.columns]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise SchemaError(f"duplicate column names: {sorted(dupes)}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None

    def to_list(self) -> list[dict[str, Any]]:
        """The serializable form: ``[{"name": ..., "type": ...}, ...]``."""
        return [c.to_dict() for c in self.columns]

    @classmethod
    def from_list(cls, items: Iterable[dict[str, Any]]) -> StreamSchema:
        try:
            return cls(tuple(Column(i["name"], i["type"], bool(i.get("nullable", True))) for i in items))
        except (KeyError, TypeError) as exc:
            raise SchemaError(f"a column needs a name and a type: {exc}") from exc

    def to_arrow(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])

    @classmethod
    def from_arrow(cls, schema: pa.Schema) -> StreamSchema:
        cols = []
        for f in schema:
            t = type_from_arrow(f.type)
            cols.append(Column(f.name, "string" if t == "null" else t))
        return cls(tuple(cols))

    def to_iceberg(self) -> Any:
        """A pyiceberg ``Schema`` (field ids 1..n, optional unless the column is not nullable)."""
        from pyiceberg.schema import Schema
        from pyiceberg.types import NestedField

        return Schema(
            *[
                NestedField(
                    field_id=i, name=c.name, field_type=_iceberg_type(c.type), required=not c.nullable
                )
                for i, c in enumerate(self.columns, start=1)
            ]
        )

    @classmethod
    def from_iceberg(cls, schema: Any) -> StreamSchema:
        from pyiceberg.io.pyarrow import schema_to_pyarrow

        arrow = schema_to_pyarrow(schema)
        cols = []
        for f in arrow:
            cols.append(Column(f.name, _exact_type(f.type), f.nullable))
        return cls(tuple(cols))


_element_ids = itertools.count(1_000_000)


def _exact_type(dtype: pa.DataType) -> str:
    """The type string of a table's int32, float32 or list column (the file inference of
    :func:`type_from_arrow` widens the first two and reads lists as strings)."""
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return f"list<{_exact_type(dtype.value_type)}>"
    if pa.types.is_int32(dtype):
        return "int32"
    if pa.types.is_float32(dtype):
        return "float32"
    return type_from_arrow(dtype)


def _iceberg_type(t: str) -> Any:
    from pyiceberg import types as it

    ps = _decimal_ps(t)
    if ps:
        return it.DecimalType(*ps)
    m = _LIST.match(t)
    if m:  # element ids are placeholders: pyiceberg assigns fresh ids when it creates or evolves a table
        return it.ListType(
            element_id=next(_element_ids), element_type=_iceberg_type(m.group(1)), element_required=False
        )
    return {
        "int32": it.IntegerType(),
        "int64": it.LongType(),
        "float32": it.FloatType(),
        "float64": it.DoubleType(),
        "bool": it.BooleanType(),
        "string": it.StringType(),
        "binary": it.BinaryType(),
        "date": it.DateType(),
        "time": it.TimeType(),
        "timestamp": it.TimestampType(),
        "timestamptz": it.TimestamptzType(),
    }[t]


def merge_schemas(*schemas: StreamSchema) -> StreamSchema:
    """Union of columns (first-seen order) with each column's type merged by :func:`merge_types`."""
    types: dict[str, str] = {}
    for s in schemas:
        for c in s.columns:
            types[c.name] = merge_types(types[c.name], c.type) if c.name in types else c.type
    return StreamSchema(tuple(Column(n, "string" if t == "null" else t) for n, t in types.items()))


@dataclass(frozen=True)
class Evolution:
    """The result of evolving a stream schema with a file's schema."""

    schema: StreamSchema
    added: tuple[str, ...] = ()
    widened: tuple[tuple[str, str, str], ...] = ()
    incompatible: tuple[tuple[str, str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema.to_list(),
            "added": list(self.added),
            "widened": [{"name": n, "from": a, "to": b} for n, a, b in self.widened],
            "incompatible": [{"name": n, "type": a, "incoming": b} for n, a, b in self.incompatible],
        }


def evolve_schema(current: StreamSchema, incoming: StreamSchema) -> Evolution:
    """Apply the evolution rules: new columns are added as nullable, widening is allowed, anything else
    keeps the current type (rows whose values do not fit it are then rejected, never silently cast)."""
    cols = list(current.columns)
    added, widened, incompatible = [], [], []
    by_name = {c.name: i for i, c in enumerate(cols)}
    for c in incoming.columns:
        if c.type == "null":
            continue
        if c.name not in by_name:
            cols.append(Column(c.name, c.type, nullable=True))
            added.append(c.name)
            continue
        old = cols[by_name[c.name]]
        if old.type == c.type:
            continue
        if is_widening(old.type, c.type):
            cols[by_name[c.name]] = Column(old.name, c.type, old.nullable)
            widened.append((c.name, old.type, c.type))
        elif not is_widening(c.type, old.type):
            incompatible.append((c.name, old.type, c.type))
    return Evolution(StreamSchema(tuple(cols)), tuple(added), tuple(widened), tuple(incompatible))
