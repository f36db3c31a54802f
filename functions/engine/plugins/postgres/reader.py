"""Reading a query as Arrow batches: ``COPY (SELECT ...) TO STDOUT (FORMAT csv)``, streamed.

One thread pulls the COPY stream off the socket through libpq directly (psycopg's ``pgconn``: about
0.7 us of client CPU per row, against 1.8 us through its ``Copy`` iterator) and cuts it into blocks of
whole rows (COPY sends one message per row); the caller's thread parses each block with Arrow's CSV
reader and converts each column (:mod:`.types`). At most ``QUEUE_BLOCKS`` blocks wait between them, so
memory stays flat whatever the table's size. A statement is one snapshot: a unit's rows are consistent.
"""

from __future__ import annotations

import json
import queue
import re
import select
import threading
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ...errors import SourceUnavailableError
from ..base import Reject, RejectSink, SourceError
from .types import Mapping, convert_column

BLOCK_BYTES = 8 << 20
QUEUE_BLOCKS = 3
IDLE_TIMEOUT = 600.0  # seconds without a byte from the server before the read is given up (a retry may pass)


class CopyStream(threading.Thread):
    """Runs one ``COPY ... TO STDOUT`` on ``conn`` and queues its rows in blocks of whole rows."""

    def __init__(self, conn: Any, query: bytes, block_bytes: int = BLOCK_BYTES):
        super().__init__(name="pg-copy", daemon=True)
        self.conn, self.query, self.block_bytes = conn, query, block_bytes
        self.blocks: queue.Queue[bytearray | BaseException | None] = queue.Queue(QUEUE_BLOCKS)
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            for block in self._produce():
                self._put(block)
            self._put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread, which raises it
            self._put(exc)

    def _put(self, item: bytearray | BaseException | None) -> None:
        while not self.stopped.is_set():
            try:
                self.blocks.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _wait(self) -> None:
        pg = self.conn.pgconn
        ready, _, _ = select.select([pg.socket], [], [], IDLE_TIMEOUT)
        if not ready:
            raise SourceUnavailableError(f"no data from the server for {IDLE_TIMEOUT:.0f} s")
        pg.consume_input()

    def _produce(self) -> Iterator[bytearray]:
        """The COPY's rows in blocks (run by the thread, or inline by :meth:`blocks_inline`)."""
        pg = self.conn.pgconn
        pg.send_query(self.query)
        while pg.is_busy():
            self._wait()
        _check(pg.get_result(), expect_copy=True)
        # rows are appended to one buffer: keeping each row's object until the block is cut would
        # make the cyclic GC walk millions of them (4x the CPU of the whole copy). The loop runs once
        # per row, so whether the reader stopped is asked per block and per wait only.
        block = bytearray()
        while True:
            nbytes, data = pg.get_copy_data(1)
            if nbytes > 0:
                block += data
                if len(block) >= self.block_bytes:
                    yield block
                    if self.stopped.is_set():
                        return
                    block = bytearray()
            elif nbytes == 0:
                if self.stopped.is_set():
                    return
                self._wait()
            else:
                break
        if nbytes == -2:
            raise SourceUnavailableError(pg.error_message.decode(errors="replace").strip())
        while pg.is_busy():
            self._wait()
        while (result := pg.get_result()) is not None:
            _check(result)
        if block:
            yield block

    def blocks_inline(self) -> Iterator[bytearray]:
        """The blocks read in the caller's thread: for a consumer that is Python-bound itself (CDC
        decoding), where two threads would only pass the GIL back and forth."""
        done = False
        try:
            yield from self._produce()
            done = True
        finally:
            if not done:
                self.stopped.set()
                try:
                    self.conn.cancel()
                except Exception:  # noqa: BLE001, S110 - the connection is closed by the caller anyway
                    pass

    def blocks_read(self) -> Iterator[bytearray]:
        self.start()
        try:
            while (item := self.blocks.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop early (the reader was closed): cancel the statement and wait for the thread."""
        if self.is_alive():
            self.stopped.set()
            try:
                self.conn.cancel()
            except Exception:  # noqa: BLE001, S110 - the connection is closed by the caller anyway
                pass
            self.join(timeout=10)


def _check(result: Any, expect_copy: bool = False) -> None:
    from psycopg import pq

    ok = pq.ExecStatus.COPY_OUT if expect_copy else pq.ExecStatus.COMMAND_OK
    if result.status in (ok, pq.ExecStatus.TUPLES_OK):
        return
    message = (result.error_message or b"").decode(errors="replace").strip()
    state = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
    if state.startswith(("08", "57", "53", "40")):  # connection, shutdown/cancel, resources, serialization
        raise SourceUnavailableError(message)
    raise SourceError(message or f"the query failed ({result.status})")


def parse_block(
    block: bytearray | bytes, names: list[str], types: dict[str, pa.DataType] | None = None
) -> pa.Table:
    """A block of COPY CSV rows as a table of text columns (an unquoted empty field is NULL, ``""`` is
    the empty string), or with ``types`` for some columns parsed straight into them."""
    return pacsv.read_csv(
        pa.py_buffer(block),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=len(block) + 1),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: (types or {}).get(n, pa.string()) for n in names},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    )


# Engine types whose PostgreSQL text Arrow's CSV parser reads exactly as the converters of .types do;
# a block with a value it refuses (NaN in a decimal, infinity in a date) is parsed again as text.
DIRECT_TYPES = re.compile(r"^(bool|int32|int64|decimal\(\d+,\d+\)|date|timestamp|timestamptz)$")


def parse_typed(block: bytearray, names: list[str], mappings: list[Mapping]) -> pa.Table:
    """The block with the columns Arrow parses exactly already typed (less CPU than text then a cast)."""
    direct = {
        n: m.arrow
        for n, m in zip(names, mappings, strict=True)
        if m.kind in ("cast", "bool") and DIRECT_TYPES.match(m.type)
    }
    if direct:
        try:
            return parse_block(block, names, direct)
        except pa.ArrowInvalid:
            pass
    return parse_block(block, names)


def typed_batch(
    text: pa.Table, mappings: list[Mapping], schema: pa.Schema, key: list[str], stream: str,
    on_reject: RejectSink | None, extra: list[pa.Array] | None = None,
) -> pa.RecordBatch:  # fmt: skip
    """Text columns converted to ``schema``; rows with a value that does not fit go to ``on_reject``."""
    columns: list[pa.Array] = []
    reasons: dict[int, str] = {}
    for i, mapping in enumerate(mappings):
        arr = text.column(i).combine_chunks()
        if arr.type == schema.field(i).type:  # parsed straight into its type
            columns.append(arr)
            continue
        converted, bad = convert_column(mapping, arr)
        columns.append(converted)
        for row in bad:
            reasons.setdefault(
                row,
                f"column {schema.field(i).name!r}: {arr[row].as_py()!r:.80} is not a valid {mapping.type}",
            )
    columns += extra or []
    batch = pa.RecordBatch.from_arrays(columns, schema=schema)
    if not reasons:
        return batch
    rows = sorted(reasons)
    if on_reject is not None:
        for row in rows:
            record = {name: text.column(name)[row].as_py() for name in text.column_names}
            position = json.dumps([record.get(k) for k in key]) if key else f"row {row}"
            on_reject(
                Reject(stream, position, reasons[row], json.dumps(record, ensure_ascii=False, default=str))
            )
    keep = pc.invert(pa.array([i in reasons for i in range(batch.num_rows)], pa.bool_()))
    return batch.filter(keep)


def copy_batches(
    conn: Any, query: bytes, mappings: list[Mapping], schema: pa.Schema, key: list[str], stream: str,
    on_reject: RejectSink | None = None, block_bytes: int = BLOCK_BYTES,
) -> Iterator[pa.RecordBatch]:  # fmt: skip
    """The rows of ``query`` (a COPY ... TO STDOUT (FORMAT csv)) as batches of ``schema``."""
    names = schema.names
    for block in CopyStream(conn, query, block_bytes).blocks_read():
        batch = typed_batch(parse_typed(block, names, mappings), mappings, schema, key, stream, on_reject)
        if batch.num_rows:
            yield batch
