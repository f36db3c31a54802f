"""Change data capture through a logical replication slot (pgoutput), over plain SQL.

A run reads the slot with ``pg_logical_slot_peek_binary_changes`` up to an LSN fixed when it was
planned, without consuming anything; only after the commit that saved that LSN does
:func:`advance_slot` move the slot (``pg_replication_slot_advance``). A crash in between replays the
same changes, and the reader skips every transaction that committed at or before the saved LSN, so a
replay neither loses nor repeats a change.

Change batches hold the stream's columns plus ``_op`` (insert, update, delete, truncate) and ``_lsn``
(the commit LSN), in commit order: applied by key, the last change of a key wins. A delete carries only
the key (the replica identity). An update that left a TOASTed value unchanged does not send it: the
value is taken from the old row (REPLICA IDENTITY FULL) or else read from the table by key, which is
at least as new as the change and is overwritten by any later change of that row.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..base import LSN_COLUMN, OP_COLUMN, RejectSink, SourceError
from .catalog import Relation, quote_ident
from .pgoutput import UNCHANGED, Change, Decoder
from .reader import CopyStream, typed_batch
from .types import Mapping

CHANGES_PER_BATCH = 100_000
BATCH_BYTES = 64 << 20  # change messages held before a batch is made: memory stays flat with wide rows
_HEADER = b"PGCOPY\n\xff\r\n\x00"
_COUNT = struct.Struct("!h")
_LENGTH = struct.Struct("!i")


def lsn_to_int(lsn: str) -> int:
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def int_to_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


@dataclass(frozen=True)
class SlotStatus:
    """A slot's position and how far it lags: ``lag_bytes`` of WAL not yet confirmed (what the next run
    reads at most), ``retained_bytes`` of WAL the server keeps for it."""

    slot: str
    plugin: str
    active: bool
    confirmed_flush_lsn: str | None
    current_lsn: str  # the WAL flushed to disk: decoding reads no further, so a run reads up to here
    lag_bytes: int
    retained_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def slot_status(conn: Any, slot: str) -> SlotStatus | None:
    row = conn.execute(
        """SELECT slot_name, plugin, active, confirmed_flush_lsn::text, pg_current_wal_flush_lsn()::text,
                  coalesce(pg_wal_lsn_diff(pg_current_wal_flush_lsn(), confirmed_flush_lsn), 0)::bigint,
                  coalesce(pg_wal_lsn_diff(pg_current_wal_flush_lsn(), restart_lsn), 0)::bigint
           FROM pg_replication_slots WHERE slot_name = %s AND slot_type = 'logical'""",
        [slot],
    ).fetchone()
    return SlotStatus(*row) if row else None


def ensure_slot(conn: Any, slot: str) -> SlotStatus:
    """The slot, created (pgoutput) when missing; SourceError when it exists with another plugin."""
    status = slot_status(conn, slot)
    if status is None:
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [slot])
        status = slot_status(conn, slot)
    assert status is not None
    if status.plugin != "pgoutput":
        raise SourceError(f"replication slot {slot!r} uses {status.plugin}, not pgoutput")
    return status


def advance_slot(conn: Any, slot: str, lsn: str) -> str:
    """Move the slot to ``lsn`` (never back); the slot's confirmed position afterwards."""
    status = slot_status(conn, slot)
    if status is None:
        raise SourceError(f"replication slot {slot!r} does not exist")
    if status.confirmed_flush_lsn and lsn_to_int(status.confirmed_flush_lsn) >= lsn_to_int(lsn):
        return status.confirmed_flush_lsn
    row = conn.execute("SELECT end_lsn::text FROM pg_replication_slot_advance(%s, %s::pg_lsn)", [slot, lsn])
    return str(row.fetchone()[0])


def peek_sql(conn: Any, slot: str, publication: str, upto_lsn: str) -> bytes:
    from psycopg import sql

    query = sql.SQL(
        "COPY (SELECT data FROM pg_logical_slot_peek_binary_changes({}, {}::pg_lsn, NULL, "
        "'proto_version', '1', 'publication_names', {})) TO STDOUT (FORMAT binary)"
    ).format(sql.Literal(slot), sql.Literal(upto_lsn), sql.Literal(publication))
    return query.as_bytes(conn)


def binary_rows(blocks: Iterator[bytearray]) -> Iterator[bytes]:
    """The single bytea field of each row of a ``COPY ... (FORMAT binary)`` stream."""
    first = True
    for block in blocks:
        view = memoryview(block)
        pos = 0
        if first:
            if bytes(view[: len(_HEADER)]) != _HEADER:
                raise SourceError("unexpected COPY binary header")
            (ext,) = struct.unpack_from("!i", view, len(_HEADER) + 4)
            pos = len(_HEADER) + 8 + ext
            first = False
        while pos < len(view):
            (nfields,) = _COUNT.unpack_from(view, pos)
            if nfields == -1:  # the trailer
                return
            (length,) = _LENGTH.unpack_from(view, pos + 2)
            yield bytes(view[pos + 6 : pos + 6 + length])
            pos += 6 + length


class ChangeBuffer:
    """Changes of one table, one row of text values per change in the stream's column order, until
    flushed as a batch (the rows are turned into columns at once)."""

    def __init__(self, rel: Relation, columns: list[str]):
        self.rel, self.columns = rel, columns
        self.rows: list[list[object]] = []
        self.ops: list[str] = []
        self.lsns: list[int] = []
        self.unchanged: list[int] = []  # rows with a value the server did not send

    def __len__(self) -> int:
        return len(self.ops)

    def add(self, change: Change, index: list[int | None] | None) -> None:
        """Append a change; ``index`` gives each stream column's position in the relation's tuples
        (None: the same columns in the same order)."""
        row = change.values if change.op in ("insert", "update") else change.old
        if row is None:
            values: list[object] = [None] * len(self.columns)
        elif index is None:
            values = row
        else:
            values = [None if i is None else row[i] for i in index]
        if UNCHANGED in values:
            old = (
                change.old
                if index is None or change.old is None
                else [change.old[i] if i is not None else None for i in index]
            )
            if old is not None:  # REPLICA IDENTITY FULL sends the old row
                values = [o if v is UNCHANGED else v for v, o in zip(values, old, strict=True)]
            if UNCHANGED in values:
                self.unchanged.append(len(self.ops))
        self.rows.append(values)
        self.ops.append(change.op)
        self.lsns.append(change.commit_lsn)

    def take(self) -> tuple[list[list[object]], list[str], list[int], list[int]]:
        columns = [list(c) for c in zip(*self.rows, strict=True)] if self.rows else [[] for _ in self.columns]
        out = (columns, self.ops, self.lsns, self.unchanged)
        self.rows, self.ops, self.lsns, self.unchanged = [], [], [], []
        return out


def _text(value: object) -> str | None:
    return value.decode() if isinstance(value, bytes) else None


def fill_unchanged(
    conn: Any, rel: Relation, columns: list[str], values: list[list[object]], rows: list[int]
) -> None:
    """Replace unsent TOASTed values by the table's current ones, read by key (null if the row is gone)."""
    key_idx = [columns.index(k) for k in rel.primary_key]
    keys = [tuple(_text(values[k][r]) for k in key_idx) for r in rows]
    key_sql = "(" + ", ".join(quote_ident(k) for k in rel.primary_key) + ")"
    as_text = ", ".join(f"{quote_ident(c)}::text" for c in [*rel.primary_key, *columns])
    found: dict[tuple, tuple] = {}
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        placeholders = ", ".join("(" + ", ".join(["%s"] * len(key_idx)) + ")" for _ in chunk)
        query = f"SELECT {as_text} FROM {rel.qualified} WHERE {key_sql} IN ({placeholders})"  # noqa: S608
        for row in conn.execute(query, [v for k in chunk for v in k]).fetchall():
            found[tuple(row[: len(key_idx)])] = row[len(key_idx) :]
    for r, key in zip(rows, keys, strict=True):
        current = found.get(key)
        for j in range(len(columns)):
            if values[j][r] is UNCHANGED:
                text = current[j] if current is not None else None
                values[j][r] = None if text is None else str(text).encode()


def change_batches(
    conn: Any, rel: Relation, columns: list[str], mappings: list[Mapping], schema: pa.Schema, *,
    slot: str, publication: str, after_lsn: str | None, upto_lsn: str,
    lookup: Callable[[], Any], on_reject: RejectSink | None = None,
) -> Iterator[pa.RecordBatch]:  # fmt: skip
    """The table's changes committed after ``after_lsn`` and before ``upto_lsn``, as change batches of
    ``schema`` (the stream's columns, then ``_op`` and ``_lsn``). ``lookup`` opens a second connection
    when unsent TOASTed values must be read from the table."""
    decoder = Decoder(rel.id, lsn_to_int(after_lsn) if after_lsn else -1)
    buffer = ChangeBuffer(rel, columns)
    indexes: dict[int, list[int | None] | None] = {}  # id(RelationInfo) -> the stream's column positions
    key_at = [columns.index(k) for k in rel.primary_key]
    stream = CopyStream(conn, peek_sql(conn, slot, publication, upto_lsn), block_bytes=1 << 20)
    held = 0
    other: list[Any] = []
    try:
        for data in binary_rows(stream.blocks_inline()):
            for change in decoder.feed(data):
                info = decoder.relations[change.relid]
                if id(info) not in indexes:
                    position = {name: i for i, name in enumerate(info.columns)}
                    found = [position.get(c) for c in columns]
                    indexes[id(info)] = None if info.columns == columns else found
                index = indexes[id(info)]
                if change.op == "update" and _key_changed(change, index, key_at):
                    buffer.add(Change("delete", change.relid, change.commit_lsn, None, change.old), index)
                buffer.add(change, index)
                held += len(data)
            if len(buffer) >= CHANGES_PER_BATCH or held >= BATCH_BYTES:
                held = 0
                yield _flush(buffer, rel, columns, mappings, schema, lookup, other, on_reject)
        if len(buffer):
            yield _flush(buffer, rel, columns, mappings, schema, lookup, other, on_reject)
    finally:
        for c in other:
            c.close()


def _key_changed(change: Change, index: list[int | None] | None, key_at: list[int]) -> bool:
    """An update that moved a row to another key (its old key is sent): the old key must be deleted."""
    if change.old is None or change.values is None:
        return False
    for j in key_at:
        i = j if index is None else index[j]
        if i is not None and change.old[i] is not None and change.old[i] != change.values[i]:
            return True
    return False


def _flush(
    buffer: ChangeBuffer, rel: Relation, columns: list[str], mappings: list[Mapping], schema: pa.Schema,
    lookup: Callable[[], Any], other: list[Any], on_reject: RejectSink | None,
) -> pa.RecordBatch:  # fmt: skip
    values, ops, lsns, unchanged = buffer.take()
    if unchanged:
        if not other:
            other.append(lookup())
        fill_unchanged(other[0], rel, columns, values, unchanged)
    text = pa.table(
        [pa.array(v, pa.binary()).cast(pa.string()) for v in values], names=columns
    )  # the server's text is UTF-8 (client_encoding)
    extra = [pa.array(ops, pa.string()), pa.array(lsns, pa.int64())]
    return typed_batch(text, mappings, schema, rel.primary_key, rel.id, on_reject, extra)


def change_schema(stream_schema: pa.Schema) -> pa.Schema:
    """The stream's columns (all nullable: a delete carries only the key), then ``_op`` and ``_lsn``."""
    fields = [f.with_nullable(True) for f in stream_schema]
    return pa.schema([*fields, pa.field(OP_COLUMN, pa.string()), pa.field(LSN_COLUMN, pa.int64())])
