"""Format and compression detection: magic bytes first, then the extension, then a sniff."""

from __future__ import annotations

import gzip
import io

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from functions.engine import (
    EngineError,
    SourceNotFoundError,
    UnreadableFileError,
    detect_compression,
    detect_format,
    open_source,
)


def parquet_bytes() -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2]}), buf)
    return buf.getvalue()


def avro_bytes() -> bytes:
    buf = io.BytesIO()
    schema = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "long"}]}
    fastavro.writer(buf, schema, [{"a": 1}])
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "fmt"),
    [
        ("data.bin", parquet_bytes(), "parquet"),  # magic bytes beat a useless extension
        ("data.csv", parquet_bytes(), "parquet"),  # ... and a wrong one
        ("data", avro_bytes(), "avro"),
        ("x.csv", b"a,b\n1,2\n", "csv"),
        ("x.tsv", b"a\tb\n1\t2\n", "tsv"),
        ("x.jsonl", b'{"a": 1}\n', "jsonl"),
        ("x.ndjson", b'{"a": 1}\n', "jsonl"),
        ("noext", b'{"a": 1}\n', "jsonl"),
        ("noext", b"a\tb\tc\n1\t2\t3\n", "tsv"),
        ("noext", b"a,b\n1,2\n", "csv"),
        ("noext", b'\xef\xbb\xbf{"a": 1}\n', "jsonl"),
    ],
)
def test_detect_format(make_file, name, data, fmt):
    assert detect_format(make_file(name, data)) == fmt


def test_detect_compression_by_magic_bytes_not_name(make_file):
    assert detect_compression(make_file("a.csv", gzip.compress(b"a\n1\n"))) == "gzip"
    assert detect_compression(make_file("b.csv", zstandard.ZstdCompressor().compress(b"a\n1\n"))) == "zstd"
    assert detect_compression(make_file("c.csv.gz", b"a\n1\n")) == "none"


def test_format_inside_compressed_stream(make_file):
    assert detect_format(make_file("d.gz", gzip.compress(b'{"a": 1}\n'))) == "jsonl"
    assert detect_format(make_file("e.csv.zst", zstandard.ZstdCompressor().compress(b"a,b\n"))) == "csv"
    assert detect_format(make_file("f.zst", zstandard.ZstdCompressor().compress(avro_bytes()))) == "avro"


def test_declared_compression_is_checked(make_file):
    src = make_file("plain.csv", b"a\n1\n")
    with pytest.raises(UnreadableFileError, match="declared gzip"):
        detect_compression(src, "gzip")
    with pytest.raises(EngineError, match="unknown compression"):
        detect_compression(src, "lz4")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(SourceNotFoundError, match="file not found"):
        open_source(str(tmp_path / "nope.csv"))
    with pytest.raises(SourceNotFoundError, match="not a file"):
        open_source(str(tmp_path))


def test_file_uri_and_ranges(make_file):
    src = make_file("r.csv", b"0123456789")
    again = open_source(f"file://{src.path}")
    assert again.size == 10
    assert again.read_range(3, 4) == b"3456"
    assert again.read_range(8, 100) == b"89"
    assert again.read_range(10, 5) == b""
    assert again.to_dict() == {"uri": f"file://{src.path}", "size": 10}
