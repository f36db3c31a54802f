"""Record batches of one schema from any file: the readers' pieces typed by inference or a given schema.

It sits above both :mod:`.readers` (which only parses) and :mod:`.infer` (which types text the readers
parsed), so neither imports the other's caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from .formats import detect_compression, detect_format
from .infer import infer_table_schema
from .options import CsvOptions
from .readers import BATCH_ROWS, iter_parsed
from .sources import Source
from .validate import coerce_table


def read_batches(
    source: Source,
    fmt: str = "auto",
    compression: str = "auto",
    csv_options: CsvOptions | dict[str, Any] | None = None,
    byte_range: tuple[int, int] | None = None,
    row_groups: list[int] | None = None,
    schema: Any = None,
) -> Iterator[pa.RecordBatch]:
    """Stream ``source`` as Arrow record batches in bounded memory, all of one schema.

    ``fmt``: ``auto`` (magic bytes, then extension, then sniffing) or csv, tsv, jsonl, parquet, avro;
    ``compression``: ``auto`` (magic bytes), none, gzip, zstd. ``byte_range`` reads one work unit of an
    uncompressed text file, ``row_groups`` one of a Parquet file. ``schema`` (a ``StreamSchema`` or
    ``pyarrow.Schema``) fixes the types; without it they are inferred from the first piece read (text:
    about ``block_size`` bytes, as :func:`infer_schema` would). Records that cannot be parsed or do not
    fit the types are skipped here; :func:`ingest_file` counts and rejects them.
    """
    target: pa.Schema | None = None
    if schema is not None:
        target = schema if isinstance(schema, pa.Schema) else schema.to_arrow()
    comp = detect_compression(source, compression)
    fmt = detect_format(source, comp) if fmt == "auto" else fmt
    text = fmt in ("csv", "tsv", "jsonl")
    pieces = iter_parsed(
        source, fmt, comp, csv_options, byte_range, row_groups, target=target, raw=target is None and text
    )
    for parsed in pieces:
        if target is None:
            if parsed.table.num_rows == 0:
                continue
            target = infer_table_schema(parsed.table).to_arrow() if text else parsed.table.schema
        table = parsed.table
        if not table.schema.equals(target, check_metadata=False):
            table, _, _ = coerce_table(table, target, from_text=parsed.from_text)
        yield from table.to_batches(max_chunksize=BATCH_ROWS)
