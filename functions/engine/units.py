"""Work units for parallel runs: byte ranges of text files, row-group sets of Parquet files.

Record-boundary rule (text): a record belongs to the unit its first byte falls in; a unit starting at
offset ``o > 0`` begins right after the first newline at or after ``o - 1`` and ends likewise at its end
offset, so consecutive units cover every record exactly once.

Quoted newlines: a quoted value may hold a newline (RFC 4180; the quote rule is in ``records.py``), so
a newline inside quotes is not a record boundary, and no byte offset tells whether it sits inside quotes
without reading from the file's start. So the planner of a CSV/TSV file with a quote or escape character
reads the file once and moves each bound to a record start it found; the units then start at record
starts and give exactly the records (and counts) of the file read whole. Text with no quote or escape
character (TSV by default) and JSON Lines (JSON escapes newlines in strings) split at any newline,
without that read. Compressed files are always one unit. Reject row numbers in a byte-range unit count
from the unit's first record; the reject's ``byte_offset`` is the unit's start offset.

Units run anywhere (one process, or one Lambda each): in-process they share one writer and one
``commit()``; across processes each ends with ``writer.stage()`` and one step calls ``commit_staged``.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import UnreadableFileError, unless_transient
from .formats import detect_compression, detect_format
from .options import CsvOptions
from .readers import TextStream
from .records import RecordScanner, record_lines
from .sources import Source

TARGET_BYTES = 128 << 20


@dataclass(frozen=True)
class WorkUnit:
    """One independently readable piece of a file; JSON-serializable via :meth:`to_dict`."""

    uri: str
    fmt: str
    compression: str
    index: int = 0
    count: int = 1
    byte_range: tuple[int, int] | None = None
    row_groups: tuple[int, ...] | None = None
    size: int = 0

    @property
    def id(self) -> str:
        return f"{self.uri}#{self.index}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["byte_range"] = list(self.byte_range) if self.byte_range else None
        d["row_groups"] = list(self.row_groups) if self.row_groups is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorkUnit:
        br, rg = d.get("byte_range"), d.get("row_groups")
        return cls(**{**d, "byte_range": tuple(br) if br else None,
                      "row_groups": tuple(rg) if rg is not None else None})  # fmt: skip


def plan_units(
    source: Source,
    target_bytes: int = TARGET_BYTES,
    *,
    fmt: str = "auto",
    compression: str = "auto",
    csv_options: CsvOptions | dict[str, Any] | None = None,
) -> list[WorkUnit]:
    """Split ``source`` into units of about ``target_bytes`` (see the module docstring for the rule)."""
    comp = detect_compression(source, compression)
    fmt = detect_format(source, comp) if fmt == "auto" else fmt
    whole = WorkUnit(source.uri, fmt, comp, size=source.size)
    if fmt == "parquet" and comp == "none" and source.size > 0:
        try:
            with source.open() as f:
                meta = pq.ParquetFile(f).metadata
        except (pa.ArrowInvalid, OSError) as exc:
            raise unless_transient(
                exc, UnreadableFileError(f"{source.name}: not a readable Parquet file: {exc}")
            ) from exc
        groups: list[list[int]] = []
        sizes: list[int] = []
        for i in range(meta.num_row_groups):
            size = meta.row_group(i).total_byte_size
            if not groups or sizes[-1] + size > target_bytes:
                groups.append([])
                sizes.append(0)
            groups[-1].append(i)
            sizes[-1] += size
        if len(groups) <= 1:
            return [whole]
        return [
            WorkUnit(source.uri, fmt, comp, i, len(groups), row_groups=tuple(g), size=s)
            for i, (g, s) in enumerate(zip(groups, sizes, strict=True))
        ]
    opts = CsvOptions.for_format(fmt, csv_options) if fmt in ("csv", "tsv") else None
    if comp != "none" or fmt not in ("jsonl", "csv", "tsv") or source.size <= target_bytes:
        return [whole]
    n = -(-source.size // target_bytes)
    bounds = [source.size * i // n for i in range(n + 1)]
    scanner = RecordScanner.for_options(opts) if opts is not None else None
    if opts is not None and scanner is not None:
        bounds = _record_bounds(source, opts, scanner, bounds)
        if len(bounds) <= 2:
            return [whole]
    return [
        WorkUnit(
            source.uri, fmt, comp, i, len(bounds) - 1, byte_range=(bounds[i], bounds[i + 1]),
            size=bounds[i + 1] - bounds[i],
        )
        for i in range(len(bounds) - 1)
    ]  # fmt: skip


def _record_bounds(source: Source, opts: CsvOptions, scanner: RecordScanner, bounds: list[int]) -> list[int]:
    """Unit bounds moved to record starts, by the same rule as ``align_offset`` (the first record start
    at or after the bound). The file is read once from its start: nothing else tells whether an offset
    sits inside a quoted value. Blocks hold whole records, so only blocks with a record spanning lines
    need their records listed."""
    text = TextStream(source, "none", None, opts.block_size, scanner)
    wanted = iter(bounds[1:-1])
    b = next(wanted, None)
    out = [0]
    for block, spans in text.blocks():
        start, end = text.offset, text.offset + len(block)
        if b is None:
            break
        if b >= end:
            continue
        if spans:
            lines = block.split(b"\n")[:-1]
            line_starts = [start]
            for line in lines:
                line_starts.append(line_starts[-1] + len(line) + 1)
            starts = [line_starts[first] for first, _ in record_lines(len(lines), spans)]
        while b is not None and b < end:
            if spans:
                i = bisect_left(starts, b)
                at = starts[i] if i < len(starts) else end
            else:
                at = b if b == start else start + block.index(b"\n", b - start - 1) + 1
            if out[-1] < at < source.size:
                out.append(at)
            b = next(wanted, None)
    return [*out, source.size]
