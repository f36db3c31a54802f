"""Malformed input: each case gives exact counts or a clear, file-specific error, and never crashes."""

from __future__ import annotations

import gzip
import io
import json
import resource
import struct

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from functions.engine import (
    RejectsWriter,
    StreamSchema,
    UnreadableFileError,
    ingest_file,
    read_batches,
)

SCHEMA = StreamSchema.from_list([{"name": "a", "type": "int64"}, {"name": "b", "type": "string"}])


def ingest(src, tmp_path, schema=SCHEMA, **kw):
    rejects = RejectsWriter(str(tmp_path / "rejects" / "r.jsonl"))
    stats = ingest_file(src, schema, None, rejects=rejects, **kw)
    rejects.close()
    path = tmp_path / "rejects" / "r.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
    return stats, lines


def counts(stats):
    return stats.read, stats.inserted, stats.rejected, stats.errors


@pytest.mark.parametrize("name", ["empty.csv", "empty.jsonl", "empty.tsv"])
def test_empty_text_file_reads_nothing(make_file, tmp_path, name):
    stats, rejects = ingest(make_file(name, b""), tmp_path)
    assert counts(stats) == (0, 0, 0, 0)
    assert rejects == []


def test_header_only(make_file, tmp_path):
    for data in (b"a,b", b"a,b\n", b"a,b\r\n", b"\xef\xbb\xbfa,b\n"):
        stats, _ = ingest(make_file("h.csv", data), tmp_path)
        assert counts(stats) == (0, 0, 0, 0), data
        assert stats.error is None


def test_ragged_rows_are_rejected_with_their_row_numbers(make_file, tmp_path):
    stats, rejects = ingest(make_file("r.csv", "a,b\n1,x\n2\n3,y,extra\n4,z\n"), tmp_path)
    assert counts(stats) == (4, 2, 2, 0)
    assert [(r["row"], r["reason"]) for r in rejects] == [
        (2, "ragged row: expected 2 columns, got 1"),
        (3, "ragged row: expected 2 columns, got 3"),
    ]
    assert rejects[0]["record"] == "2"
    assert rejects[0]["file"].endswith("r.csv")


def test_wrong_types_are_rejected_not_cast(make_file, tmp_path):
    schema = StreamSchema.from_list(
        [{"name": "a", "type": "int64"}, {"name": "d", "type": "date"}, {"name": "p", "type": "decimal(5,2)"}]
    )
    data = "a,d,p\n1,2024-01-02,1.25\nx,2024-01-02,1\n2.5,2024-01-02,1\n3,2024-13-40,1\n4,,1.255\n5,NULL,\n"
    stats, rejects = ingest(make_file("w.csv", data), tmp_path, schema)
    assert counts(stats) == (6, 2, 4, 0)
    assert [r["row"] for r in rejects] == [2, 3, 4, 5]
    assert "value 'x' does not fit type int64" in rejects[0]["reason"]
    assert "'2.5'" in rejects[1]["reason"]  # 2.5 is not silently truncated to 2
    assert "column 'd'" in rejects[2]["reason"]
    assert "column 'p'" in rejects[3]["reason"]  # 1.255 does not fit decimal(5,2): no rounding


def test_bad_utf8_rejects_only_that_row(make_file, tmp_path):
    stats, rejects = ingest(make_file("u.csv", b"a,b\n1,ok\n2,\xff\xfebad\n3,fine\n"), tmp_path)
    assert counts(stats) == (3, 2, 1, 0)
    assert rejects[0]["row"] == 2
    assert rejects[0]["reason"] == "column 'b': invalid UTF-8"


def test_bad_jsonl_lines(make_file, tmp_path):
    data = b'{"a": 1, "b": "x"}\n{"a": \n[1, 2]\n{"a": "nope"}\n{"a": 2, "b": "\xff"}\n{"a": 3}\n'
    stats, rejects = ingest(make_file("j.jsonl", data), tmp_path)
    assert counts(stats) == (6, 2, 4, 0)
    reasons = {r["row"]: r["reason"] for r in rejects}
    assert set(reasons) == {2, 3, 4, 5}
    assert reasons[2].startswith("invalid JSON")
    assert reasons[3] == "not a JSON object"
    assert "does not fit" in reasons[4]
    assert reasons[5] == "column 'b': invalid UTF-8"


def test_truncated_gzip_fails_clearly_and_writes_nothing(make_file, tmp_path):
    data = b"a,b\n" + b"".join(b"%d,x\n" % i for i in range(200_000))
    packed = gzip.compress(data)
    src = make_file("t.csv.gz", packed[: len(packed) // 2])
    stats, _ = ingest(src, tmp_path)
    assert stats.errors == 1
    assert stats.inserted == 0
    assert "t.csv.gz" in stats.error and "truncated gzip" in stats.error
    with pytest.raises(UnreadableFileError, match="truncated gzip"):
        list(read_batches(src))


def test_gzip_declared_but_garbage(make_file, tmp_path):
    src = make_file("g.csv.gz", b"\x1f\x8b" + b"\x00" * 50)
    stats, _ = ingest(src, tmp_path)
    assert stats.errors == 1
    assert "g.csv.gz" in stats.error


def test_zero_byte_parquet(make_file, tmp_path):
    stats, _ = ingest(make_file("z.parquet", b""), tmp_path, fmt="parquet")
    assert stats.errors == 1
    assert stats.error == "z.parquet: empty file (0 bytes), not a Parquet file"


def test_corrupt_parquet(make_file, tmp_path):
    buf = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(1000)), "b": ["x"] * 1000}), buf)
    good = buf.getvalue()
    for name, data in [
        ("notpq.parquet", b"a,b\n1,2\n"),
        ("footer.parquet", good[:-100] + b"\x00" * 96 + b"PAR1"),
        ("cut.parquet", good[: len(good) // 2]),
    ]:
        stats, _ = ingest(make_file(name, data), tmp_path, fmt="parquet")
        assert stats.errors == 1, name
        assert stats.error.startswith(f"{name}: "), stats.error
        assert "Parquet" in stats.error


def test_corrupt_parquet_data_pages(make_file, tmp_path):
    buf = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(10000))}), buf, compression="zstd")
    data = bytearray(buf.getvalue())
    data[10:400] = b"\xff" * 390  # inside the first column chunk; the footer stays valid
    stats, _ = ingest(make_file("pages.parquet", bytes(data)), tmp_path)
    assert stats.errors == 1
    assert stats.error.startswith("pages.parquet: ")
    assert stats.inserted == 0


def test_avro_bad_header(make_file, tmp_path):
    for data in (b"Obj\x01garbage", b"Obj\x01", b""):
        stats, _ = ingest(make_file("bad.avro", data), tmp_path, fmt="avro")
        assert stats.errors == 1
        assert stats.error.startswith("bad.avro: ")
        assert "Avro" in stats.error


def test_avro_corrupt_block(make_file, tmp_path):
    buf = io.BytesIO()
    schema = {
        "type": "record",
        "name": "r",
        "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": "string"}],
    }
    fastavro.writer(buf, schema, [{"a": i, "b": "x" * 20} for i in range(5000)], sync_interval=1000)
    data = bytearray(buf.getvalue())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    stats, _ = ingest(make_file("c.avro", bytes(data)), tmp_path)
    assert stats.errors == 1
    assert stats.error.startswith("c.avro: corrupt Avro data")
    assert stats.inserted == 0


def test_avro_truncated(make_file, tmp_path):
    buf = io.BytesIO()
    schema = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "long"}]}
    fastavro.writer(buf, schema, [{"a": i} for i in range(5000)])
    stats, _ = ingest(make_file("t.avro", buf.getvalue()[:-7]), tmp_path)
    assert stats.errors == 1
    assert stats.error.startswith("t.avro: ")


def _zstd_frame(declared: int, content: bytes, single_segment: bool) -> bytes:
    """A zstd frame whose header declares ``declared`` bytes but holds one raw block of ``content``."""
    descriptor = 0xC0 | (0x20 if single_segment else 0)  # 8-byte frame content size
    header = b"\x28\xb5\x2f\xfd" + bytes([descriptor]) + (b"" if single_segment else b"\x00")
    block = ((len(content) << 3) | 1).to_bytes(3, "little")  # raw block, last
    return header + struct.pack("<Q", declared) + block + content


@pytest.mark.parametrize("single_segment", [True, False])
def test_zstd_bomb_header_does_not_allocate(make_file, tmp_path, single_segment):
    src = make_file("bomb.csv.zst", _zstd_frame(4 << 30, b"a,b\n1,x\n", single_segment))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stats, _ = ingest(src, tmp_path)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert stats.errors == 1
    assert stats.error.startswith("bomb.csv.zst: ") and "zstd" in stats.error
    assert grown_mb < 200


def test_zstd_real_expansion_streams_in_bounded_memory(make_file, tmp_path):
    # ~60 MB of text from a ~few KB frame: read in blocks, so memory stays far below the expanded size
    line = b"1,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
    packed = zstandard.ZstdCompressor(level=3).compress(b"a,b\n" + line * 1_000_000)
    src = make_file("wide.csv.zst", packed)
    assert src.size < 1 << 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stats, _ = ingest(src, tmp_path, csv_options={"block_size": 1 << 20})
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert counts(stats) == (1_000_000, 1_000_000, 0, 0)
    assert grown_mb < 150


def test_binary_garbage_as_csv_is_a_clear_error_or_rejects(make_file, tmp_path):
    src = make_file("noise.csv", bytes(range(256)) * 4)
    stats, _ = ingest(src, tmp_path)
    assert stats.errors + stats.rejected >= 1  # never a crash


def test_runaway_line_is_refused(make_file, tmp_path, monkeypatch):
    import functions.engine.readers as readers

    monkeypatch.setattr(readers, "MAX_RECORD_BYTES", 1000)
    src = make_file("long.csv", b"a,b\n" + b"x" * 5000)
    stats, _ = ingest(src, tmp_path, csv_options={"block_size": 512})
    assert stats.errors == 1
    assert "no record ends" in stats.error and "not line-delimited" in stats.error


def test_row_numbers_with_quoted_newlines_allowed(make_file, tmp_path):
    data = 'a,b\n1,"x\ny"\n2\n3,z\nbad,w\n' + "".join(f"{i},v\n" for i in range(4, 3000)) + "oops,q\n"
    stats, rejects = ingest(
        make_file("n.csv", data), tmp_path, csv_options={"newlines_in_values": True, "block_size": 4096}
    )
    assert counts(stats) == (3001, 2998, 3, 0)
    # row = the record's number (1-based, header excluded), whatever line breaks its values hold
    assert [(r["row"], r["reason"].split(":")[0]) for r in rejects] == [
        (2, "ragged row"),
        (4, "column 'a'"),
        (3001, "column 'a'"),
    ]


def test_awkward_headers(make_file, tmp_path):
    from functions.engine import infer_schema

    dup = make_file("dup.csv", "a,a,,b\n1,2,3,4\n")
    assert infer_schema(dup).names == ["a", "a_1", "column_2", "b"]
    blank_first = make_file("blank.csv", "\n\na,b\n1,x\n")
    stats, _ = ingest(blank_first, tmp_path)
    assert counts(stats) == (1, 1, 0, 0)
    only_blank, _ = ingest(make_file("nl.csv", "\n\n\n"), tmp_path)
    assert counts(only_blank) == (0, 0, 0, 0)


def test_utf16_and_non_utf8_text(make_file, tmp_path):
    stats, _ = ingest(make_file("u16.csv", "a,b\n1,x\n".encode("utf-16")), tmp_path)
    assert stats.errors == 1
    assert stats.error == "u16.csv: UTF-16 text (byte-order mark); only UTF-8 text is read"
    latin, rejects = ingest(make_file("l1.csv", "a,b\n1,caf\xe9\n2,ok\n".encode("latin-1")), tmp_path)
    assert counts(latin) == (2, 1, 1, 0)
    assert rejects[0]["reason"] == "column 'b': invalid UTF-8"
    bad_header, _ = ingest(make_file("h.csv", b"a,\xff\n1,2\n"), tmp_path)
    assert bad_header.errors == 1 and "not UTF-8" in bad_header.error


class _FailingStream:
    """A source stream that breaks after its first read, as an S3 read does when the network drops."""

    def __init__(self, data: bytes, message: str) -> None:
        self.data, self.message, self.reads = data, message, 0

    def read(self, n: int = -1) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise OSError(self.message)
        return self.data[:n] if n >= 0 else self.data

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("message", "transient"),
    [
        ("AWS Error NETWORK_CONNECTION during GetObject operation: curlCode: 28, Timeout was reached", True),
        ("AWS Error SLOW_DOWN during GetObject operation: Please reduce your request rate.", True),
        ("AWS Error ACCESS_DENIED during GetObject operation: Access Denied", False),
    ],
)
def test_a_read_that_may_pass_is_not_a_bad_file(make_file, monkeypatch, message, transient):
    import functions.engine.readers as readers
    from functions.engine import SourceUnavailableError, StreamSchema, ingest_file, is_transient

    data = b"id,v\n" + b"".join(b"%d,x\n" % i for i in range(2000))
    src = make_file("net.csv", data)
    monkeypatch.setattr(
        readers, "open_stream", lambda source, compression: _FailingStream(data[:4096], message)
    )
    schema = StreamSchema.from_list([{"name": "id", "type": "int64"}, {"name": "v", "type": "string"}])
    if transient:
        with pytest.raises(SourceUnavailableError) as err:
            ingest_file(src, schema, None, csv_options={"block_size": 1024})
        assert is_transient(err.value)
    else:  # a lasting refusal is the file's error, counted, with the reason
        stats = ingest_file(src, schema, None, csv_options={"block_size": 1024})
        assert (stats.errors, stats.inserted) == (1, 0) and "ACCESS_DENIED" in stats.error
