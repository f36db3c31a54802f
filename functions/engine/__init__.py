"""The data plane: streaming readers, schema inference, validation, Parquet/Iceberg writers and stats.

Pure Python over pyarrow; knows nothing of Lambda, HTTP or DynamoDB. Data moves in Arrow batches.

Contract (what the jobs, upload-sync and connectors code call):

- ``open_object(bucket, key, *, filesystem=None) -> Source``: an S3 object read by (bucket, key); a key
  with an empty, ``.`` or ``..`` segment raises ``UnsafeKeyError`` before any read (``check_object_key``).
- ``open_source(uri, *, filesystem=None) -> Source``: a local path, ``file://`` or ``s3://bucket/key`` (read
  as ``open_object``); pass a ``pyarrow.fs.S3FileSystem(endpoint_override=...)`` to pick the endpoint. S3
  reads are ranged.
  ``open_s3_version(uri, client, ObjectVersion(etag, version_id))``: an object listed or registered
  earlier, read at that version only (version id, else ``If-Match``) with a boto3 client.
- ``detect_format(source, compression="auto") -> "csv"|"tsv"|"jsonl"|"parquet"|"avro"`` (magic bytes,
  then extension, then sniffing) and ``detect_compression(source) -> "none"|"gzip"|"zstd"``.
- ``read_batches(source, fmt="auto", compression="auto", csv_options=None, byte_range=None,
  row_groups=None, schema=None) -> Iterator[pyarrow.RecordBatch]`` in bounded memory, all batches of
  one schema (``schema``'s, else inferred from the first block). ``csv_options``: a :class:`CsvOptions`
  or dict (delimiter, header, column_names, quote_char, escape_char, double_quote, newlines_in_values,
  null_values, block_size; parsing is serial so rejected rows keep their numbers). gzip and zstd are
  detected by magic bytes and streamed; a zstd frame declaring a huge size allocates nothing up front.
- ``infer_schema(sources, sample_rows=10_000, ...) -> StreamSchema`` (text typed by one rule set,
  see :mod:`.infer`: big integers and long decimals become exact decimals, zoned times timestamptz);
  ``merge_schemas(*schemas)``;
  ``evolve_schema(current, incoming) -> Evolution`` (new columns nullable, widening int -> long ->
  double allowed, incompatible changes keep the type and the rows that do not fit are rejected).
  ``StreamSchema.to_list()`` is ``[{"name", "type"}]`` with types int64, float64, decimal(p,s), bool,
  string, date, timestamp, timestamptz (also int32, float32, binary, and from database sources time and
  list<T>); ``to_iceberg()``, ``to_arrow()``.
- Source plugins (:mod:`.plugins`): ``discover``, ``plan``, ``read(unit) -> Iterator[RecordBatch]`` and
  ``acknowledge``; ``plugins.postgres.PostgresSource`` reads PostgreSQL (docs/postgres.md).
- ``ingest_file(source, schema, sink, *, fmt, compression, csv_options, unit, rejects, threads) -> FileStats``
  (``threads``: text blocks parsed at once, default the CPUs the process has; results as a serial read);
  ``TableStats().add(file_stats)`` merges them, ``apply_commit(inserted, updated)`` sets the commit's
  counts. Both have ``to_dict()`` with read, inserted, updated, rejected, errors, bytes, duration_ms.
- ``changes.IcebergChangeWriter(catalog, identifier, primary_key, commit_token).apply(change_rows)``: a CDC
  run's change rows (``_op``, ``_lsn``) applied by key in one commit, with exact inserted, updated and
  deleted counts (``CommitResult.deleted``, ``TableStats.deleted``).
- ``plan_units(source, target_bytes=128 MiB, ...) -> list[WorkUnit]`` (``WorkUnit.to_dict/from_dict``);
  the record-boundary rule is in :mod:`.units`, the quote rule (where a CSV record ends) in :mod:`.records`.
- Writers (stage, then one ``commit() -> CommitResult(inserted, updated, files)``; ``abort()``; for units
  run in separate processes ``stage() -> dict`` (JSON) per unit and one ``commit_staged(...)``):
  ``ParquetLakeWriter(path, schema, filesystem=None)``, ``RejectsWriter(path, fmt="jsonl"|"parquet")``,
  ``IcebergTableWriter(catalog, identifier, mode="append"|"overwrite"|"upsert", primary_key=[...],
  schema=None)``; ``glue_catalog(warehouse, endpoint_url, region)`` builds the pyiceberg Glue catalog.
- Errors: ``EngineError`` and its subclasses ``UnreadableFileError`` (clear, file-specific message),
  ``SourceNotFoundError`` (and ``SourceChangedError``: the version to read is gone), ``UnsafeKeyError``,
  ``SchemaError``, ``CommitError``. A read that may pass on a retry (network,
  throttling, an S3 5xx) raises ``SourceUnavailableError`` (an ``OSError``, not an ``EngineError``):
  it is never a verdict on the file, and ``ingest_file`` lets it through; ``is_transient(exc)`` tells.
"""

from .batches import read_batches
from .errors import (
    CommitError,
    EngineError,
    SchemaError,
    SourceChangedError,
    SourceNotFoundError,
    SourceUnavailableError,
    UnreadableFileError,
    UnsafeKeyError,
    is_transient,
)
from .formats import detect_compression, detect_format
from .infer import infer_schema
from .ingest import ingest_file
from .options import CsvOptions
from .schema import Column, Evolution, StreamSchema, evolve_schema, merge_schemas
from .sources import ObjectVersion, Source, check_object_key, open_object, open_s3_version, open_source
from .stats import FileStats, TableStats
from .units import WorkUnit, plan_units
from .validate import coerce_table
from .writers import CommitResult, IcebergTableWriter, ParquetLakeWriter, RejectsWriter, glue_catalog

__all__ = [
    "Column", "CommitError", "CommitResult", "CsvOptions", "EngineError", "Evolution", "FileStats",
    "IcebergTableWriter", "ObjectVersion", "ParquetLakeWriter", "RejectsWriter", "SchemaError", "Source",
    "SourceChangedError", "SourceNotFoundError", "SourceUnavailableError", "StreamSchema", "TableStats",
    "UnreadableFileError", "UnsafeKeyError", "WorkUnit", "check_object_key", "coerce_table",
    "detect_compression", "detect_format", "evolve_schema", "glue_catalog", "infer_schema", "ingest_file",
    "is_transient", "merge_schemas", "open_object", "open_s3_version", "open_source", "plan_units",
    "read_batches",
]  # fmt: skip
