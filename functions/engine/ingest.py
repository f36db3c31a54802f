"""``ingest_file``: read, validate, write and count one file (or one work unit of it)."""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

import pyarrow as pa

from .errors import EngineError, SourceNotFoundError
from .options import CsvOptions
from .parsed import Parsed
from .readers import default_threads, iter_parsed
from .schema import StreamSchema
from .sources import Source
from .stats import FileStats
from .units import WorkUnit
from .validate import coerce_table
from .writers import RejectsWriter


class Sink(Protocol):
    """What ``ingest_file`` writes to: :class:`ParquetLakeWriter` or :class:`IcebergTableWriter`."""

    def write(self, table: pa.Table) -> None: ...
    def mark(self) -> Any: ...
    def rollback(self, mark: Any) -> None: ...


class TableCollector:
    """A sink that keeps in memory, in order, the tables it is given (a rolled-back file's are dropped)."""

    def __init__(self) -> None:
        self.tables: list[pa.Table] = []

    def write(self, table: pa.Table) -> None:
        self.tables.append(table)

    def mark(self) -> int:
        return len(self.tables)

    def rollback(self, mark: int) -> None:
        del self.tables[mark:]


def _raw(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _as_bytes(table: pa.Table) -> pa.Table:
    """String columns viewed as bytes, so a value that is not UTF-8 can still be shown in a reject."""
    for i, f in enumerate(table.schema):
        if pa.types.is_string(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.binary()))
    return table


def _ingest_piece(
    parsed: Parsed,
    target: pa.Schema,
    sink: Sink | None,
    rejects: RejectsWriter | None,
    stats: FileStats,
    offset: int,
) -> None:
    """Validate one parsed piece: the rows that fit go to ``sink``, the others to ``rejects``; count both."""
    stats.read += parsed.table.num_rows + len(parsed.invalid)
    good, bad_idx, reasons = coerce_table(parsed.table, target, from_text=parsed.from_text)
    reject_rows = _rejected(parsed, bad_idx, reasons)
    if reject_rows:
        stats.rejected += len(reject_rows)
        if rejects is not None:
            _write_rejects(rejects, stats.file, offset, reject_rows)
    if sink is not None and good.num_rows:
        sink.write(good)
    stats.inserted += good.num_rows


def _rejected(parsed: Parsed, bad_idx: list[int], reasons: list[str]) -> list[tuple[int, str, str]]:
    """(row, reason, record as JSON) of every record of a piece that is rejected: those the reader could
    not parse and those (at ``bad_idx``) the validator refused for ``reasons``."""
    reject_rows = [(row, reason, raw) for row, reason, raw in parsed.invalid]
    if bad_idx:
        numbers = parsed.row_numbers(bad_idx)
        records = _as_bytes(parsed.table.take(pa.array(bad_idx))).to_pylist()
        for row, reason, rec in zip(numbers, reasons, records, strict=True):
            raw = json.dumps({k: _raw(v) for k, v in rec.items()}, default=str, ensure_ascii=False)
            reject_rows.append((row, reason, raw))
    return reject_rows


def _write_rejects(
    rejects: RejectsWriter, uri: str, offset: int, reject_rows: list[tuple[int, str, str]]
) -> None:
    """One piece's rejects, in row order, each with the file and the byte offset of its unit."""
    reject_rows.sort()
    rejects.write(
        pa.table({
            "file": [uri] * len(reject_rows),
            "byte_offset": pa.array([offset] * len(reject_rows), pa.int64()),
            "row": [r[0] for r in reject_rows],
            "reason": [r[1] for r in reject_rows],
            "record": [r[2] for r in reject_rows],
        })
    )  # fmt: skip


def ingest_file(
    source: Source,
    schema: StreamSchema,
    sink: Sink | None,
    *,
    fmt: str = "auto",
    compression: str = "auto",
    csv_options: CsvOptions | dict[str, Any] | None = None,
    unit: WorkUnit | None = None,
    rejects: RejectsWriter | None = None,
    raise_errors: bool = False,
    threads: int | None = None,
) -> FileStats:
    """Validate ``source`` against ``schema`` and write the rows that fit to ``sink``; return its stats.

    Rows that do not fit go to ``rejects`` with file, row number and reason, and are counted. ``row`` is
    the record's 1-based number (header excluded; JSON Lines: the line number), counted from the unit's
    first record when ``unit`` is a byte range (``byte_offset`` then says where the unit starts). A file
    that cannot be parsed at all counts one error with a specific message in ``error`` and inserts
    nothing: whatever it had written to ``sink`` is rolled back (``raise_errors=True`` raises the error
    instead, after the rollback); the rejects it met before failing stay recorded and counted. A read
    that may pass on a retry raises :class:`SourceUnavailableError` and counts nothing: the caller drops
    what ``sink`` holds and tries again, as a bad-file verdict would drop the file's rows for good. A
    file (or the version of it being read) that is gone raises :class:`SourceNotFoundError` after the
    rollback, uncounted too: it says nothing about the file's data, and the caller decides (retry, fail).
    ``threads`` (default: the CPUs this process may use, see :func:`default_threads`) parse blocks at
    once; counts, row numbers and row order are those of a serial read.
    """
    started = time.perf_counter()
    stats = FileStats(
        file=source.uri, bytes=unit.size if unit else source.size, unit=unit.id if unit else None
    )
    if unit is not None:
        fmt, compression = unit.fmt, unit.compression
    target = schema.to_arrow()
    mark = sink.mark() if sink is not None else None
    offset = unit.byte_range[0] if unit and unit.byte_range else 0
    try:
        for parsed in iter_parsed(
            source, fmt, compression, csv_options,
            byte_range=unit.byte_range if unit else None,
            row_groups=list(unit.row_groups) if unit and unit.row_groups is not None else None,
            target=target, threads=default_threads() if threads is None else threads,
        ):  # fmt: skip
            _ingest_piece(parsed, target, sink, rejects, stats, offset)
    except SourceNotFoundError:
        if sink is not None:
            sink.rollback(mark)
        raise
    except EngineError as exc:
        if sink is not None:
            sink.rollback(mark)
        stats.errors += 1
        stats.error = str(exc)
        stats.inserted = 0
        if raise_errors:
            raise
    stats.duration_ms = int((time.perf_counter() - started) * 1000)
    return stats
