"""Work units for parallel runs: byte ranges of text files, row-group sets of Parquet files.

Record-boundary rule (text): a record belongs to the unit its first byte falls in; a unit starting at
offset ``o > 0`` begins right after the first newline at or after ``o - 1`` and ends likewise at its end
offset, so consecutive units cover every record exactly once.

Quoted newlines: no byte offset tells whether it sits inside quotes without reading from the file's
start, so text is split only where a newline always ends a record: JSON Lines (JSON escapes newlines in
strings) and CSV/TSV read with ``newlines_in_values=False`` (the default). In that mode a line whose
quote characters do not balance is a record broken by a quoted newline: it is rejected (each of its
lines, with the reason "unbalanced quotes"), never joined or misread, so a file gives the same counts
read whole or in units. CSV with ``newlines_in_values=True`` (quoted newlines parsed as data) and
compressed files are always one unit. Reject row numbers in a byte-range unit count from the unit's first
record; the reject's ``byte_offset`` is the unit's start offset.

Units run anywhere (one process, or one Lambda each): in-process they share one writer and one
``commit()``; across processes each ends with ``writer.stage()`` and one step calls ``commit_staged``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import UnreadableFileError
from .formats import detect_compression, detect_format
from .options import CsvOptions
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
            raise UnreadableFileError(f"{source.name}: not a readable Parquet file: {exc}") from exc
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
    splittable = comp == "none" and (
        fmt == "jsonl"
        or (fmt in ("csv", "tsv") and not CsvOptions.for_format(fmt, csv_options).newlines_in_values)
    )
    if not splittable or source.size <= target_bytes:
        return [whole]
    n = -(-source.size // target_bytes)
    bounds = [source.size * i // n for i in range(n + 1)]
    return [
        WorkUnit(
            source.uri, fmt, comp, i, n, byte_range=(bounds[i], bounds[i + 1]), size=bounds[i + 1] - bounds[i]
        )
        for i in range(n)
    ]
