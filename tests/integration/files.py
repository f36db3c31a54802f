"""File bodies for tests: the same rows as CSV, JSON Lines, Parquet, Avro or gzipped CSV."""

from __future__ import annotations

import csv
import gzip
import io
import json

_AVRO_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}


def csv_bytes(rows: list[dict], delimiter: str = ",") -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


def gzip_csv_bytes(rows: list[dict]) -> bytes:
    return gzip.compress(csv_bytes(rows))


def jsonl_bytes(rows: list[dict]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def parquet_bytes(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


def avro_bytes(rows: list[dict]) -> bytes:
    """Avro with a record schema taken from the first row's Python types."""
    import fastavro

    fields = [{"name": k, "type": _AVRO_TYPES[type(v)]} for k, v in rows[0].items()]
    schema = {"type": "record", "name": "row", "fields": fields}
    buf = io.BytesIO()
    fastavro.writer(buf, fastavro.parse_schema(schema), rows)
    return buf.getvalue()
