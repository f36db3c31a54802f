"""Change data capture through a logical replication slot (pgoutput), over plain SQL.

A run reads the slot with ``pg_logical_slot_peek_binary_changes`` up to an LSN fixed when it was
planned, without consuming anything; only after the commit that saved that LSN does
:func:`advance_slot` move the slot (``pg_replication_slot_advance``). A crash in between replays the
same changes, and the reader skips every transaction that committed before the saved LSN (the server
stops at the record that ends at ``upto``, so a commit starting there is the next run's), so a replay
neither loses nor repeats a change.

Change batches hold the stream's columns plus ``_op`` (insert, update, delete, truncate) and ``_lsn``
(the commit LSN), in commit order: applied by key, the last change of a key wins. A delete carries only
the key (the replica identity). An update that left a TOASTed value unchanged does not send it: the
value is taken from the old row (REPLICA IDENTITY FULL) or else read from the table by key, which is
at least as new as the change and is overwritten by any later change of that row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..base import LSN_COLUMN, OP_COLUMN, RejectSink, SourceError
from .catalog import Relation, quote_ident
from .pgoutput import Decoder, Rows
from .reader import CopyStream, typed_batch
from .types import Mapping

CHANGES_PER_BATCH = 100_000
BATCH_BYTES = 64 << 20  # change messages held before a batch is made: memory stays flat with wide rows


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


def fill_unchanged(conn: Any, rel: Relation, rows: Rows) -> None:
    """Replace unsent TOASTed values by the table's current ones, read by key (null if the row is gone)."""
    masks = [m for m in rows.unchanged if m is not None]
    if not masks:
        return
    some = masks[0]
    for m in masks[1:]:
        some = pc.or_(some, m)
    at = pc.indices_nonzero(some)
    key_idx = [rows.info.columns.index(k) for k in rel.primary_key]
    key_text = [pc.take(rows.values[k], at).cast(pa.string()).to_pylist() for k in key_idx]
    keys = list(zip(*key_text, strict=True))
    found = _rows_by_key(conn, rel, rows.info.columns, keys)
    position = {r: i for i, r in enumerate(at.to_pylist())}
    for j, mask in enumerate(rows.unchanged):
        if mask is None:
            continue
        current = [found.get(keys[position[r]]) for r in pc.indices_nonzero(mask).to_pylist()]
        texts = [None if row is None or row[j] is None else str(row[j]).encode() for row in current]
        rows.values[j] = pc.replace_with_mask(rows.values[j], mask, pa.array(texts, pa.binary()))
        rows.unchanged[j] = None


def _rows_by_key(conn: Any, rel: Relation, columns: list[str], keys: list[tuple]) -> dict[tuple, tuple]:
    """The table's current rows of ``keys`` (text values), in the relation's column order."""
    key_sql = "(" + ", ".join(quote_ident(k) for k in rel.primary_key) + ")"
    as_text = ", ".join(f"{quote_ident(c)}::text" for c in [*rel.primary_key, *columns])
    nkey = len(rel.primary_key)
    found: dict[tuple, tuple] = {}
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        placeholders = ", ".join("(" + ", ".join(["%s"] * nkey) + ")" for _ in chunk)
        query = f"SELECT {as_text} FROM {rel.qualified} WHERE {key_sql} IN ({placeholders})"  # noqa: S608
        for row in conn.execute(query, [v for k in chunk for v in k]).fetchall():
            found[tuple(row[:nkey])] = row[nkey:]
    return found


def change_batches(
    conn: Any, rel: Relation, columns: list[str], mappings: list[Mapping], schema: pa.Schema, *,
    slot: str, publication: str, after_lsn: str | None, upto_lsn: str,
    lookup: Callable[[], Any], on_reject: RejectSink | None = None,
) -> Iterator[pa.RecordBatch]:  # fmt: skip
    """The table's changes committed at or after ``after_lsn`` and before ``upto_lsn``, as change batches of
    ``schema`` (the stream's columns, then ``_op`` and ``_lsn``). ``lookup`` opens a second connection
    when unsent TOASTed values must be read from the table."""
    decoder = Decoder(rel.id, rel.primary_key, lsn_to_int(after_lsn) if after_lsn else -1)
    stream = CopyStream(conn, peek_sql(conn, slot, publication, upto_lsn), block_bytes=1 << 20)
    pending: list[pa.Table] = []
    held = count = 0
    other: list[Any] = []
    try:
        for block in stream.blocks_inline():
            for rows in decoder.feed(block):
                if any(m is not None for m in rows.unchanged):
                    if not other:
                        other.append(lookup())
                    fill_unchanged(other[0], rel, rows)
                pending.append(_stream_table(rows, columns))
                count += len(rows)
            held += len(block)
            if count >= CHANGES_PER_BATCH or (count and held >= BATCH_BYTES):
                yield _flush(pending, rel, mappings, schema, on_reject)
                pending, held, count = [], 0, 0
        if count:
            yield _flush(pending, rel, mappings, schema, on_reject)
    finally:
        for c in other:
            c.close()


def _stream_table(rows: Rows, columns: list[str]) -> pa.Table:
    """The stream's columns (text as binary; null where the relation has no such column), ``_op``, ``_lsn``."""
    position = {name: i for i, name in enumerate(rows.info.columns)}
    values = [
        rows.values[position[c]] if c in position else pa.nulls(len(rows), pa.binary()) for c in columns
    ]
    return pa.table([*values, rows.ops, rows.lsns], names=[*columns, OP_COLUMN, LSN_COLUMN])


def _flush(
    pending: list[pa.Table], rel: Relation, mappings: list[Mapping], schema: pa.Schema,
    on_reject: RejectSink | None,
) -> pa.RecordBatch:  # fmt: skip
    changes = pa.concat_tables(pending)
    n = len(mappings)
    text = pa.table(
        [changes.column(i).cast(pa.string()) for i in range(n)], names=changes.column_names[:n]
    )  # the server's text is UTF-8 (client_encoding)
    extra = [changes.column(n).combine_chunks(), changes.column(n + 1).combine_chunks()]
    return typed_batch(text, mappings, schema, rel.primary_key, rel.id, on_reject, extra)


def change_schema(stream_schema: pa.Schema) -> pa.Schema:
    """The stream's columns (all nullable: a delete carries only the key), then ``_op`` and ``_lsn``."""
    fields = [f.with_nullable(True) for f in stream_schema]
    return pa.schema([*fields, pa.field(OP_COLUMN, pa.string()), pa.field(LSN_COLUMN, pa.int64())])
