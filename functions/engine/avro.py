"""Avro object container files as Arrow tables, block by block.

fastavro decodes each block's records with the writer schema *stripped of its logical types* (dates,
times, timestamps and UUIDs stay the ints and strings they are stored as), the records are turned into
columns in one transpose, and each column becomes an Arrow array of its storage type, cast once to its
logical type. Creating a ``datetime``, ``date``, ``time`` or ``UUID`` object per value was most of the
time of the record-by-record path (``from_pylist`` of fastavro's records). Decimals keep fastavro's
conversion. Records, arrays, maps and unions of several types become JSON text.

Logical types: ``timestamp-millis|micros`` -> timestamptz, ``local-timestamp-millis|micros`` ->
timestamp, ``date`` -> date, ``time-millis|micros`` -> time, ``uuid`` (on a string or a 16-byte fixed)
-> string, ``decimal`` -> decimal(p,s). A time of day outside 00:00 to 24:00 is a reject of its record.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from .errors import UnreadableFileError, unless_transient
from .formats import open_stream
from .parsed import Parsed
from .sources import Source

# logical type -> (Arrow type of the stored value, the column's Arrow type)
_STORED_AS: dict[str, tuple[pa.DataType, pa.DataType]] = {
    "timestamp-millis": (pa.timestamp("ms", tz="UTC"), pa.timestamp("us", tz="UTC")),
    "timestamp-micros": (pa.timestamp("us", tz="UTC"), pa.timestamp("us", tz="UTC")),
    "local-timestamp-millis": (pa.timestamp("ms"), pa.timestamp("us")),
    "local-timestamp-micros": (pa.timestamp("us"), pa.timestamp("us")),
    "date": (pa.date32(), pa.date32()),
    "time-millis": (pa.time32("ms"), pa.time64("us")),
    "time-micros": (pa.time64("us"), pa.time64("us")),
}
_DAY_US = 86_400_000_000
_PRIMITIVES: dict[str, pa.DataType] = {
    "null": pa.null(),
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "bytes": pa.binary(),
    "string": pa.string(),
}


@dataclass(frozen=True)
class AvroColumn:
    """How one top-level field becomes a column: ``stored`` is the Arrow type of the values fastavro
    hands over (None: Python objects that ``type`` takes as they are), ``as_json`` serializes them,
    ``uuid_bytes`` formats a 16-byte fixed as UUID text."""

    name: str
    type: pa.DataType
    stored: pa.DataType | None = None
    as_json: bool = False
    uuid_bytes: bool = False


def avro_column(name: str, t: Any) -> AvroColumn:
    """The column of a field of Avro type ``t`` (a union with null is its other branch, nullable)."""
    if isinstance(t, list):
        branches = [b for b in t if b != "null"]
        return (
            avro_column(name, branches[0])
            if len(branches) == 1
            else AvroColumn(name, pa.string(), as_json=True)
        )
    if isinstance(t, dict):
        logical, base = t.get("logicalType"), t.get("type")
        if logical == "decimal" and base in ("bytes", "fixed"):
            return AvroColumn(name, pa.decimal128(int(t["precision"]), int(t.get("scale", 0))))
        if logical in _STORED_AS and base in ("int", "long"):
            stored, typ = _STORED_AS[logical]
            return AvroColumn(name, typ, stored)
        if logical == "uuid" and base == "fixed" and t.get("size") == 16:
            return AvroColumn(name, pa.string(), uuid_bytes=True)
        if base in ("record", "array", "map"):
            return AvroColumn(name, pa.string(), as_json=True)
        if base == "enum":
            return AvroColumn(name, pa.string())
        if base == "fixed":
            return AvroColumn(name, pa.binary())
        return avro_column(name, base)  # a primitive with an unknown (or a uuid string) logical type
    if t in _PRIMITIVES:
        return AvroColumn(name, _PRIMITIVES[t])
    return AvroColumn(name, pa.string(), as_json=True)  # a named type defined elsewhere in the schema


def _stored_schema(t: Any) -> Any:
    """Field type ``t`` with the logical types this module converts itself removed (at the top level and
    in unions with null; nested values keep fastavro's conversion, they become JSON text)."""
    if isinstance(t, list):
        return [_stored_schema(b) for b in t]
    if isinstance(t, dict) and (t.get("logicalType") in _STORED_AS or t.get("logicalType") == "uuid"):
        return {k: v for k, v in t.items() if k != "logicalType"}
    return t


def _column_array(col: AvroColumn, values: list[Any]) -> pa.Array:
    if col.as_json:
        return pa.array([None if v is None else json.dumps(v, default=str) for v in values], pa.string())
    if col.uuid_bytes:
        return pa.array([None if v is None else str(uuid.UUID(bytes=v)) for v in values], pa.string())
    if col.stored is None:
        return pa.array(values, col.type)
    ints = pa.array(values, pa.int32() if col.stored.bit_width == 32 else pa.int64())
    return ints.view(col.stored).cast(col.type)


def _out_of_day(table: pa.Table, columns: list[AvroColumn]) -> list[int]:
    """Positions whose time of day is outside 00:00 to 24:00 (Arrow would keep such a value)."""
    bad = None
    for col in columns:
        if pa.types.is_time(col.type):
            us = table.column(col.name).cast(pa.int64())
            out = pc.or_(pc.less(us, 0), pc.greater_equal(us, _DAY_US))
            bad = out if bad is None else pc.or_kleene(bad, out)
    if bad is None:
        return []
    return pc.indices_nonzero(pc.fill_null(bad, False)).to_pylist()


def _table(records: list[tuple[Any, ...]], columns: list[AvroColumn], first_row: int) -> Parsed:
    by_column = list(zip(*records, strict=True)) if records else [() for _ in columns]
    arrays = [_column_array(c, list(v)) for c, v in zip(columns, by_column, strict=True)]
    table = pa.Table.from_arrays(arrays, schema=pa.schema([pa.field(c.name, c.type) for c in columns]))
    bad = _out_of_day(table, columns)
    if not bad:
        return Parsed(table, first_row)
    skip = set(bad)
    keep = [i for i in range(table.num_rows) if i not in skip]
    invalid = [
        (
            first_row + i,
            "a time of day outside 00:00 to 24:00",
            json.dumps(table.slice(i, 1).to_pylist()[0], default=str),
        )
        for i in bad
    ]
    return Parsed(
        table.take(pa.array(keep, pa.int64())), first_row, [first_row + i for i in keep], invalid=invalid
    )


class _Counted:
    """A forward-only stream that knows its position (fastavro asks where each block starts)."""

    def __init__(self, stream: Any) -> None:
        self._stream, self._pos = stream, 0

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read() if n is None or n < 0 else self._stream.read(n)
        self._pos += len(data)
        return data

    def tell(self) -> int:
        return self._pos


def _fields(source: Source, writer_schema: Any) -> list[dict[str, Any]]:
    fields = writer_schema.get("fields", []) if isinstance(writer_schema, dict) else []
    if not fields:
        raise UnreadableFileError(f"{source.name}: Avro schema is not a record of fields")
    return fields


def iter_avro(
    source: Source, compression: str, target: pa.Schema | None, batch_rows: int
) -> Iterator[Parsed]:
    """The file's records as :class:`Parsed` pieces of about ``batch_rows`` rows, in file order; with
    ``target`` only its columns are kept."""
    import fastavro

    stream = open_stream(source, compression)
    try:
        try:
            blocks = fastavro.block_reader(cast(Any, _Counted(stream)))
        except Exception as exc:  # noqa: BLE001 - fastavro raises bare ValueError/EOFError/etc. on a bad header
            raise unless_transient(
                exc, UnreadableFileError(f"{source.name}: not a readable Avro file (bad header): {exc}")
            ) from exc
        fields = _fields(source, blocks.writer_schema)
        # at least one column, so that a file sharing no column with the target still counts its rows
        kept = [f for f in fields if target is None or f["name"] in target.names] or fields[:1]
        columns = [avro_column(f["name"], f["type"]) for f in kept]
        writer: dict[str, Any] = cast(dict, blocks.writer_schema)
        stored = fastavro.parse_schema({**writer, "fields": [
            {**f, "type": _stored_schema(f["type"])} for f in fields
        ]})  # fmt: skip
        yield from _pieces(source, blocks, stored, columns, batch_rows)
    finally:
        stream.close()


def _pieces(
    source: Source, blocks: Any, stored: Any, columns: list[AvroColumn], batch_rows: int
) -> Iterator[Parsed]:
    from fastavro import schemaless_reader

    names = [c.name for c in columns]
    one = itemgetter(*names)
    pick: Any = one if len(names) > 1 else (lambda r: (one(r),))
    next_row, records = 1, list[tuple[Any, ...]]()
    try:
        for block in blocks:
            data = block.bytes_
            records.extend(
                pick(cast(Any, schemaless_reader(data, stored, None))) for _ in range(block.num_records)
            )
            while len(records) >= batch_rows:
                yield _table(records[:batch_rows], columns, next_row)
                next_row += batch_rows
                records = records[batch_rows:]
    except Exception as exc:  # noqa: BLE001 - fastavro's decode errors have no common base class
        raise unless_transient(
            exc,
            UnreadableFileError(
                f"{source.name}: corrupt Avro data after record {next_row + len(records) - 1}: "
                f"{type(exc).__name__}: {exc}"
            ),
        ) from exc
    if records:
        yield _table(records, columns, next_row)
