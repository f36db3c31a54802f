"""Streaming readers: every format is parsed into Arrow tables in bounded memory (parsing only: the
validator, inference and :mod:`.batches` work on what they give).

Delimited text and JSON Lines are cut into blocks of whole records (a block ends at its last newline)
and each block is parsed by pyarrow in one call. With a target schema, CSV blocks are parsed straight
into the target types; a block that fails is parsed again as raw bytes so the validator can reject
exactly the rows at fault. Parquet streams by row group; Avro is read block by block (see :mod:`.avro`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from .avro import iter_avro
from .errors import EngineError, UnreadableFileError, unless_transient
from .formats import _BOM, FORMATS, detect_compression, detect_format, open_stream
from .options import CsvOptions
from .parsed import Parsed
from .records import RecordScanner, Spans, record_lines
from .sources import Source
from .validate import NULL_STRINGS

BATCH_ROWS = 65_536
MAX_RECORD_BYTES = 64 << 20
NEVER_CLOSED = "a quoted value opened in this record is never closed (the file ends inside it)"
SPANS_LINES = "the record spans lines (a quoted newline) and newlines_in_values is false"


def default_threads(limit: int = 8) -> int:
    """The CPUs this process may use (a Lambda function gets more vCPUs with more memory: up to 6 at
    10 GB), at most ``limit``: how many blocks a work unit parses at once by default."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(limit, cpus))


def ordered_map(fn: Callable[[Any], Any], items: Iterator[Any], threads: int) -> Iterator[Any]:
    """``map(fn, items)`` in order, with up to ``threads`` calls running at once (pyarrow's parsers and
    casts release the GIL). At most ``threads + 1`` results wait, so memory stays bounded."""
    if threads <= 1:
        yield from map(fn, items)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads, thread_name_prefix="engine") as pool:
        pending: deque[Any] = deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) > threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


def _wrap_io(source: Source, what: str) -> Callable[[Exception], Exception]:
    def make(exc: Exception) -> Exception:
        msg = str(exc)
        if "Truncated" in msg or "truncated" in msg:
            return UnreadableFileError(f"{source.name}: truncated {what} stream: {msg}")
        return unless_transient(exc, UnreadableFileError(f"{source.name}: cannot read {what} data: {msg}"))

    return make


def align_offset(source: Source, offset: int) -> int:
    """Record-boundary rule for byte ranges: a record belongs to the range its first byte falls in; a
    range starting at ``offset`` > 0 begins just after the first newline at or after ``offset - 1``."""
    if offset <= 0:
        return 0
    if offset >= source.size:
        return source.size
    with source.open() as f:
        pos = offset - 1
        f.seek(pos)
        while pos < source.size:
            data = f.read(1 << 16)
            if not data:
                break
            i = data.find(b"\n")
            if i >= 0:
                return pos + i + 1
            pos += len(data)
    return source.size


def _read_first_record(source: Source, scanner: RecordScanner | None) -> bytes:
    """The file's first record (its header), read from the start whatever range is being read."""
    with source.open() as f:
        buf = b""
        while True:
            data = f.read(1 << 16)
            buf += data
            head, rest = _split_first_record(buf.removeprefix(_BOM), scanner)
            if rest or not data:
                return head
            if len(buf) > MAX_RECORD_BYTES:
                raise UnreadableFileError(f"{source.name}: first record longer than {MAX_RECORD_BYTES} bytes")


class TextStream:
    """The decompressed bytes of a text file (or of one byte range) as blocks of whole lines."""

    def __init__(
        self,
        source: Source,
        compression: str,
        byte_range: tuple[int, int] | None,
        block_size: int,
        scanner: RecordScanner | None = None,
    ):
        self.source = source
        self.block_size = block_size
        self.scanner = scanner
        self.at_file_start = True
        self.offset = 0  # where the next block starts in the (decompressed) file
        if byte_range is not None:
            if compression != "none":
                raise EngineError("byte ranges apply to uncompressed files only")
            start, end = align_offset(source, byte_range[0]), align_offset(source, byte_range[1])
            self.at_file_start = start == 0
            self.offset = start
            f = source.open()
            f.seek(start)
            remaining = [max(0, end - start)]

            def read(n: int) -> bytes:
                if remaining[0] <= 0:
                    return b""
                data = f.read(min(n, remaining[0]))
                remaining[0] -= len(data)
                return data

            self._read = read
            self._close = f.close
        else:
            stream = open_stream(source, compression)
            self._read = stream.read
            self._close = stream.close
        self._err = _wrap_io(source, compression if compression != "none" else "file")

    def blocks(self) -> Iterator[tuple[bytes, Spans | None]]:
        """Blocks of whole records, each with its records that span lines (quoted or escaped newlines,
        found by the scanner; None when there are none). The last block may end in a record never
        closed."""
        carry = b""
        first = True
        try:
            while True:
                try:
                    data = self._read(self.block_size)
                except OSError as exc:
                    raise self._err(exc) from exc
                if first and self.at_file_start:
                    if data.startswith(_BOM):
                        data = data[len(_BOM) :]
                        self.offset += len(_BOM)
                    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
                        raise UnreadableFileError(
                            f"{self.source.name}: UTF-16 text (byte-order mark); only UTF-8 text is read"
                        )
                first = False
                if not data:
                    if carry:
                        block = carry if carry.endswith(b"\n") else carry + b"\n"
                        yield block, self.scanner.spans_of(block) if self.scanner is not None else None
                    return
                buf = carry + data if carry else data
                if self.scanner is not None:
                    cut, spans = self.scanner.cut(buf)
                else:
                    cut, spans = buf.rfind(b"\n") + 1, None
                if cut == 0:
                    carry = buf
                    if len(carry) > MAX_RECORD_BYTES:
                        why = "not line-delimited text"
                        if self.scanner is not None and self.scanner.has_multiline(carry + b"\n"):
                            why = "a quoted value opened there is never closed"
                        raise UnreadableFileError(
                            f"{self.source.name}: no record ends in the {len(carry)} bytes from offset "
                            f"{self.offset} (limit {MAX_RECORD_BYTES}): {why}"
                        )
                    continue
                yield buf[:cut], spans
                self.offset += cut
                carry = buf[cut:]
        finally:
            self._close()


def _split_first_record(block: bytes, scanner: RecordScanner | None) -> tuple[bytes, bytes]:
    """(first record, rest); the rest is empty while the first record is not complete."""
    i = block.find(b"\n")
    if i < 0:
        return block, b""
    if scanner is None or not scanner.has_multiline(block[: i + 1]):
        return block[: i + 1], block[i + 1 :]
    lines = block.split(b"\n")[:-1]
    _, last = scanner.spans(lines)[0]
    if last is None:
        return block, b""
    n = sum(len(line) + 1 for line in lines[: last + 1])
    return block[:n], block[n:]


def _csv_parse_options(opts: CsvOptions, handler: Any = None) -> pcsv.ParseOptions:
    return pcsv.ParseOptions(
        delimiter=opts.delimiter,
        quote_char=opts.quote_char if opts.quote_char else False,
        double_quote=opts.double_quote,
        escape_char=opts.escape_char if opts.escape_char else False,
        # blocks hold whole records (see records.py), so pyarrow's own record splitting is not needed
        newlines_in_values=False,
        invalid_row_handler=handler,
    )


def _convert_options(
    opts: CsvOptions, column_types: dict[str, pa.DataType] | None, include: list[str] | None
) -> pcsv.ConvertOptions:
    kw: dict[str, Any] = {
        "column_types": column_types or {},
        "strings_can_be_null": True,
        "quoted_strings_can_be_null": False,
    }
    if include is not None:
        kw["include_columns"] = include
    if opts.null_values is not None:
        kw["null_values"] = list(opts.null_values)
    return pcsv.ConvertOptions(**kw)


def _header_names(line: bytes, opts: CsvOptions, source: Source) -> list[str]:
    try:
        t = pcsv.read_csv(
            pa.BufferReader(line if line.endswith(b"\n") else line + b"\n"),
            read_options=pcsv.ReadOptions(autogenerate_column_names=not opts.header, use_threads=False),
            parse_options=_csv_parse_options(opts),
        )
        names = [str(n).strip() for n in t.column_names]
    except pa.ArrowInvalid as exc:
        raise UnreadableFileError(f"{source.name}: cannot parse the CSV header: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(f"{source.name}: the CSV header is not UTF-8 text: {exc}") from exc
    if opts.header:
        # blank or repeated names get the column's position, so every column stays addressable
        seen: set[str] = set()
        for i, n in enumerate(names):
            if not n or n in seen:
                names[i] = f"{n or 'column'}_{i}"
            seen.add(names[i])
    return names


class _Ragged:
    def __init__(self) -> None:
        self.rows: list[tuple[int | None, str]] = []

    def __call__(self, row: Any) -> str:
        self.rows.append(
            (row.number, f"expected {row.expected_columns} columns, got {row.actual_columns}|{row.text}")
        )
        return "skip"


def _is_utf8(data: bytes) -> bool:
    offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
    try:
        pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)]).cast(
            pa.large_string()
        )
        return True
    except pa.ArrowInvalid:
        return False


def _is_blank(line: bytes) -> bool:
    """A line pyarrow skips at a record start (it counts as no record)."""
    return line in (b"", b"\r")


def _parse_csv_block(
    block: bytes,
    names: list[str],
    opts: CsvOptions,
    target: pa.Schema | None,
    first_row: int,
    source: Source,
    raw: bool = False,
    scanner: RecordScanner | None = None,
    spans: Spans | None = None,
) -> Parsed:
    """Parse a block of whole records. ``spans`` (from the scanner) are its records that span lines:
    parsed as data with ``newlines_in_values``, rejected without it; a record the file ends inside is
    always rejected."""
    if spans and (not opts.newlines_in_values or spans[-1][1] is None):
        lines = block.split(b"\n")[:-1]
        return _parse_csv_without_spans(lines, spans, names, opts, target, first_row, source, raw, scanner)
    include = [n for n in target.names if n in names] if target is not None else list(names)
    if target is not None and not include:
        include = names[:1]
    # serial parsing: pyarrow gives a ragged row no row number when it parses with threads
    read_opts = pcsv.ReadOptions(column_names=names, use_threads=False, block_size=len(block) + 1)
    attempts: list[tuple[dict[str, pa.DataType] | None, bool]] = []
    if target is not None:
        attempts.append(({n: target.field(n).type for n in include if n in target.names}, True))
        attempts.append(({n: pa.binary() for n in include}, False))
    elif raw:
        attempts.append(({n: pa.binary() for n in names}, False))
    else:
        attempts.append((None, False))
    # pyarrow cannot hand a ragged row that is not UTF-8 to the handler: such blocks go the slow way
    utf8 = _is_utf8(block)
    for types, typed in attempts:
        ragged = _Ragged()
        try:
            table = pcsv.read_csv(
                pa.BufferReader(block),
                read_options=read_opts,
                parse_options=_csv_parse_options(opts, ragged if utf8 else None),
                convert_options=_convert_options(opts, types, include),
            )
        except pa.ArrowInvalid:
            continue
        invalid: list[tuple[int, str, str]] = []
        rows = None
        if ragged.rows:
            bad = []
            for number, text in ragged.rows:
                reason, _, record = text.partition("|")
                row = first_row + (number - 1 if number else 0)
                bad.append(row)
                invalid.append((row, f"ragged row: {reason}", record))
            total = table.num_rows + len(bad)
            skipped = set(bad)
            rows = [r for r in range(first_row, first_row + total) if r not in skipped]
        return Parsed(
            table, first_row, rows, typed=typed and target is not None, from_text=True, invalid=invalid
        )
    return _csv_records_slowly(_records_of(block, scanner), names, opts, target, first_row)


def _records_of(block: bytes, scanner: RecordScanner | None) -> list[bytes]:
    """The non-blank records of a block of whole records, each without its final newline."""
    lines = block.split(b"\n")[:-1]
    spans = (scanner.spans_of(block) if scanner is not None else None) or []
    out: list[bytes] = []
    for first, last in record_lines(len(lines), spans):
        if first != last:
            out.append(b"\n".join(lines[first : len(lines) if last is None else last + 1]))
        elif not _is_blank(lines[first]):
            out.append(lines[first])
    return out


def _parse_csv_without_spans(
    lines: list[bytes],
    spans: Spans,
    names: list[str],
    opts: CsvOptions,
    target: pa.Schema | None,
    first_row: int,
    source: Source,
    raw: bool,
    scanner: RecordScanner | None,
) -> Parsed:
    """A block whose records spanning lines are rejected (each one record): the other records are
    parsed as one block and keep their record numbers."""
    kept: list[bytes] = []
    numbers: list[int] = []  # the record number of each kept record
    invalid: list[tuple[int, str, str]] = []
    row = first_row
    for first, last in record_lines(len(lines), spans):
        if first == last:
            if _is_blank(lines[first]):
                continue
            kept.append(lines[first])
            numbers.append(row)
        else:
            text = b"\n".join(lines[first : len(lines) if last is None else last + 1])
            if last is not None and opts.newlines_in_values:
                kept.append(text)
                numbers.append(row)
            else:
                reason = NEVER_CLOSED if last is None else SPANS_LINES
                invalid.append((row, reason, text.decode("utf-8", "replace")))
        row += 1
    block = b"\n".join(kept) + b"\n" if kept else b""
    if not block:
        include = [n for n in target.names if n in names] if target is not None else names
        empty = pa.table({n: pa.array([], pa.binary()) for n in include})
        return Parsed(empty, first_row, [], from_text=True, invalid=invalid)
    inner = _parse_csv_block(
        block, names, opts, target, 1, source, raw, scanner, scanner.spans_of(block) if scanner else None
    )
    rows = [numbers[r - 1] for r in (inner.rows or range(1, inner.table.num_rows + 1))]
    invalid += [(numbers[r - 1], reason, text) for r, reason, text in inner.invalid]
    invalid.sort(key=lambda x: x[0])
    return Parsed(inner.table, first_row, rows, inner.typed, True, invalid)


def _csv_records_slowly(
    records: list[bytes], names: list[str], opts: CsvOptions, target: pa.Schema | None, first_row: int
) -> Parsed:
    """Slow path for a block pyarrow refused (e.g. a ragged row that is not UTF-8): Python's csv module
    splits each record; values stay bytes for the validator."""
    import csv

    nulls = set(opts.null_values if opts.null_values is not None else NULL_STRINGS)
    include = [n for n in target.names if n in names] if target is not None else names
    pos = [names.index(n) for n in include]
    values: list[list[bytes | None]] = [[] for _ in include]
    rows: list[int] = []
    invalid: list[tuple[int, str, str]] = []
    for row, record in enumerate(records, first_row):
        text = record.removesuffix(b"\r").decode("utf-8", "surrogateescape")
        try:
            fields = next(
                csv.reader(
                    [text], delimiter=opts.delimiter, quotechar=opts.quote_char or '"',
                    quoting=csv.QUOTE_MINIMAL if opts.quote_char else csv.QUOTE_NONE,
                    doublequote=opts.double_quote, escapechar=opts.escape_char, strict=False,
                )
            )  # fmt: skip
        except csv.Error as exc:
            invalid.append((row, f"unparseable CSV record: {exc}", record.decode("utf-8", "replace")))
            continue
        if len(fields) != len(names):
            raw = record.decode("utf-8", "replace")
            invalid.append((row, f"ragged row: expected {len(names)} columns, got {len(fields)}", raw))
        else:
            rows.append(row)
            for out, i in zip(values, pos, strict=True):
                v = fields[i]
                out.append(None if v in nulls else v.encode("utf-8", "surrogateescape"))
    table = pa.table({n: pa.array(v, pa.binary()) for n, v in zip(include, values, strict=True)})
    return Parsed(table, first_row, rows, typed=False, from_text=True, invalid=invalid)


def _count_records(parsed: Parsed) -> int:
    return parsed.table.num_rows + len(parsed.invalid)


def _iter_csv(
    source: Source,
    compression: str,
    opts: CsvOptions,
    byte_range: tuple[int, int] | None,
    target: pa.Schema | None,
    raw: bool = False,
    threads: int = 1,
) -> Iterator[Parsed]:
    scanner = RecordScanner.for_options(opts)
    text = TextStream(source, compression, byte_range, opts.block_size, scanner)
    names: list[str] | None = list(opts.column_names) if opts.column_names else None
    if byte_range is not None and not text.at_file_start and names is None:
        first = _read_first_record(source, scanner)
        names = _header_names(first, opts, source)
    skip_header = opts.header and text.at_file_start

    def tasks() -> Iterator[tuple[bytes, list[str], Spans | None]]:
        nonlocal names, skip_header
        for block, spans in text.blocks():
            if skip_header:
                while skip_header and block:
                    header, block = _split_first_record(block, scanner)
                    if header.strip():  # blank lines before the header are skipped, as pyarrow skips them
                        skip_header = False
                        if names is None:
                            names = _header_names(header, opts, source)
                if spans is not None and scanner is not None:
                    spans = scanner.spans_of(block)  # the header's lines are gone: line numbers moved
            if len(block) < 4096 and not block.strip():
                continue
            if names is None:
                names = _header_names(_split_first_record(block, scanner)[0], opts, source)
            yield block, names, spans

    def parse(task: tuple[bytes, list[str], Spans | None]) -> Parsed:
        block, block_names, spans = task
        return _parse_csv_block(block, block_names, opts, target, 1, source, raw, scanner, spans)

    next_row, yielded = 1, False
    for parsed in ordered_map(parse, tasks(), threads):
        parsed.renumbered(next_row - 1)
        next_row += _count_records(parsed)
        yielded = True
        yield parsed
    if not yielded and names and text.at_file_start:
        # a header-only file still names its columns (inference lists them, with no type evidence)
        yield Parsed(pa.table({n: pa.array([], pa.binary()) for n in names}), 1, from_text=True)


def _json_parse_schema(target: pa.Schema) -> pa.Schema:
    """The schema the JSON parser reads into: dates and times stay text so the validator parses them
    strictly (pyarrow's JSON reader would silently drop a zone offset or invent one)."""
    fields = []
    for f in target:
        temporal = pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)
        fields.append(pa.field(f.name, pa.string()) if temporal else f.with_nullable(True))
    return pa.schema(fields)


def _iter_jsonl(
    source: Source,
    compression: str,
    byte_range: tuple[int, int] | None,
    target: pa.Schema | None,
    block_size: int,
    raw: bool = False,
    threads: int = 1,
) -> Iterator[Parsed]:
    text = TextStream(source, compression, byte_range, block_size)
    schema = _json_parse_schema(target) if target is not None else None

    def parse(block: bytes) -> tuple[Parsed, int]:
        parsed, n_lines = _parse_jsonl_block(block, schema)
        if raw:
            parsed.table = _json_times_as_text(block, parsed.table, parsed.rows, 1)
        return parsed, n_lines

    next_row = 1
    for parsed, n_lines in ordered_map(parse, (b for b, _ in text.blocks()), threads):
        yield parsed.renumbered(next_row - 1)
        next_row += n_lines


def _read_json(block: bytes, schema: pa.Schema | None) -> tuple[pa.Table | None, Exception | None]:
    """One pyarrow parse of whole lines: the table, or the error that refused them."""
    parse = pjson.ParseOptions(
        explicit_schema=schema, unexpected_field_behavior="ignore" if schema is not None else "infer"
    )
    try:
        table = pjson.read_json(
            pa.BufferReader(block),
            read_options=pjson.ReadOptions(use_threads=False, block_size=len(block) + 1),
            parse_options=parse,
        )
    except pa.ArrowInvalid as exc:
        return None, exc
    return table, None


def _parse_jsonl_block(block: bytes, schema: pa.Schema | None) -> tuple[Parsed, int]:
    """A block of whole lines as one parse; lines numbered from 1. A block pyarrow refuses is cut in
    halves until the refused lines stand alone, so a bad line costs a few parses, not one per line."""
    n_lines = block.count(b"\n")
    table, _ = _read_json(block, schema)
    if table is not None and table.num_rows == n_lines:
        return Parsed(table, 1), n_lines
    lines = block.split(b"\n")[:-1]
    kept = [i for i, line in enumerate(lines) if line.strip()]
    if table is not None and table.num_rows == len(kept):
        # pyarrow skips blank lines: if that is the whole difference, the parse stands
        return Parsed(table, 1, [i + 1 for i in kept]), n_lines
    parts: list[tuple[pa.Table, list[int]]] = []
    invalid: list[tuple[int, str, str]] = []
    blank_before = [0]
    for line in lines:
        blank_before.append(blank_before[-1] + (0 if line.strip() else 1))
    mid = len(lines) // 2
    for lo, hi in ((0, mid), (mid, len(lines))):
        _bisect_jsonl(lines, lo, hi, schema, blank_before, parts, invalid)
    tables = [t for t, _ in parts]
    rows = [r for _, rs in parts for r in rs]
    if tables and schema is None:
        out = _concat_inferred(tables)
    elif tables:
        out = pa.concat_tables([t.cast(schema) if t.schema != schema else t for t in tables])
    else:
        out = schema.empty_table() if schema is not None else pa.table({})
    return Parsed(out, 1, rows, invalid=invalid), n_lines


def _bisect_jsonl(
    lines: list[bytes],
    lo: int,
    hi: int,
    schema: pa.Schema | None,
    blank_before: list[int],
    parts: list[tuple[pa.Table, list[int]]],
    invalid: list[tuple[int, str, str]],
) -> None:
    """Parse lines ``lo..hi`` (0-based) in one call if pyarrow takes them, else each half; a line refused
    alone is one reject with its reason."""
    want = (hi - lo) - (blank_before[hi] - blank_before[lo])
    if want == 0:
        return
    table, exc = _read_json(b"\n".join(lines[lo:hi]) + b"\n", schema)
    if table is not None and table.num_rows == want:
        parts.append((table, [i + 1 for i in range(lo, hi) if lines[i].strip()]))
        return
    if hi - lo > 1:
        mid = (lo + hi) // 2
        _bisect_jsonl(lines, lo, mid, schema, blank_before, parts, invalid)
        _bisect_jsonl(lines, mid, hi, schema, blank_before, parts, invalid)
        return
    invalid.append((lo + 1, _json_line_reason(lines[lo], exc), lines[lo].decode("utf-8", "replace")[:2000]))


def _json_line_reason(line: bytes, exc: Exception | None) -> str:
    """Why pyarrow refused one line: not JSON, not an object, or a value that does not fit its column."""
    try:
        obj = json.loads(line)
    except UnicodeDecodeError:
        return "invalid UTF-8"
    except ValueError as jexc:
        return f"invalid JSON: {jexc}"
    if not isinstance(obj, dict):
        return "not a JSON object"
    return f"value does not fit: {exc}" if exc is not None else "not one JSON object"


def _json_times_as_text(
    block: bytes, table: pa.Table, rows: list[int] | None = None, first_row: int = 1
) -> pa.Table:
    """``table`` with its timestamp columns as the original strings (inference decides date, timestamp or
    timestamptz from the text: pyarrow's JSON inference reads dates and zoned times as naive timestamps)."""
    times = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
    if not times:
        return table
    lines = block.split(b"\n")[:-1]
    if rows is not None:
        lines = [lines[r - first_row] for r in rows]
    else:
        lines = [ln for ln in lines if ln.strip()]
    values: dict[str, list[Any]] = {n: [] for n in times}
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            obj = {}
        for n in times:
            v = obj.get(n) if isinstance(obj, dict) else None
            values[n].append(v if isinstance(v, str) else None)
    for n in times:
        if len(values[n]) == table.num_rows:
            table = table.set_column(table.schema.get_field_index(n), n, pa.array(values[n], pa.string()))
    return table


def _concat_inferred(tables: list[pa.Table]) -> pa.Table:
    """Lines parsed one by one, each with its own types: promote, and where a column's lines disagree
    (a number here, a string there) keep that column's values as JSON text."""
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    names: list[str] = []
    for t in tables:
        names.extend(n for n in t.column_names if n not in names)
    columns = {}
    for n in names:
        values: list[Any] = []
        for t in tables:
            values.extend(t.column(n).to_pylist() if n in t.column_names else [None] * t.num_rows)
        try:
            columns[n] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[n] = pa.array(
                [v if v is None or isinstance(v, str) else json.dumps(v, default=str) for v in values],
                pa.string(),
            )
    return pa.table(columns)


def _iter_parquet(
    source: Source, row_groups: list[int] | None, target: pa.Schema | None, batch_rows: int
) -> Iterator[Parsed]:
    err = _wrap_io(source, "Parquet")
    if source.size == 0:
        raise UnreadableFileError(f"{source.name}: empty file (0 bytes), not a Parquet file")
    f = source.open()
    try:
        try:
            pf = pq.ParquetFile(f)
        except (pa.ArrowInvalid, OSError) as exc:
            raise unless_transient(
                exc, UnreadableFileError(f"{source.name}: not a readable Parquet file: {exc}")
            ) from exc
        names = pf.schema_arrow.names
        columns = None
        if target is not None:
            # at least one column, so that a file sharing no column with the target still counts its rows
            columns = [n for n in target.names if n in names] or names[:1]
        next_row = 1
        if row_groups:
            if max(row_groups) >= pf.num_row_groups or min(row_groups) < 0:
                raise EngineError(
                    f"{source.name}: has {pf.num_row_groups} row groups, asked for {row_groups}"
                )
            next_row += sum(pf.metadata.row_group(i).num_rows for i in range(min(row_groups)))
        try:
            for batch in pf.iter_batches(
                batch_size=batch_rows, row_groups=row_groups, columns=columns, use_threads=False
            ):
                yield Parsed(pa.Table.from_batches([batch]), next_row)
                next_row += batch.num_rows
        except (pa.ArrowInvalid, OSError) as exc:
            raise err(exc) from exc
    finally:
        f.close()


def iter_parsed(
    source: Source,
    fmt: str = "auto",
    compression: str = "auto",
    csv_options: CsvOptions | dict[str, Any] | None = None,
    byte_range: tuple[int, int] | None = None,
    row_groups: list[int] | None = None,
    target: pa.Schema | None = None,
    batch_rows: int = BATCH_ROWS,
    raw: bool = False,
    threads: int = 1,
) -> Iterator[Parsed]:
    """Parse ``source`` into :class:`Parsed` pieces (the validator's input); see :func:`.batches.read_batches`.

    With ``target`` text is parsed towards its types (what does not fit is left for the validator);
    without it each piece gets the reader's own types, or, with ``raw``, text values stay text (CSV:
    binary columns; JSON Lines: times as strings) for :mod:`.infer` to type. ``threads`` > 1 parses
    that many text blocks (or Parquet row groups) at once; pieces still come in file order, numbered
    as a serial read numbers them.
    """
    comp = detect_compression(source, compression)
    fmt = detect_format(source, comp) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise EngineError(f"unknown format {fmt!r}; expected auto or one of {', '.join(FORMATS)}")
    if source.size == 0 and fmt not in ("parquet", "avro"):
        return
    if fmt in ("csv", "tsv"):
        opts = CsvOptions.for_format(fmt, csv_options)
        yield from _iter_csv(source, comp, opts, byte_range, target, raw, threads)
    elif fmt == "jsonl":
        block = CsvOptions.for_format("csv", csv_options).block_size
        yield from _iter_jsonl(source, comp, byte_range, target, block, raw, threads)
    elif fmt == "parquet":
        if comp != "none":
            raise UnreadableFileError(f"{source.name}: a Parquet file cannot be {comp}-compressed as a whole")
        yield from _iter_parquet(source, row_groups, target, batch_rows)
    else:
        if source.size == 0:
            raise UnreadableFileError(f"{source.name}: empty file (0 bytes), not an Avro file")
        yield from iter_avro(source, comp, target, batch_rows)
