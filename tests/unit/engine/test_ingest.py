"""ingest_file end to end on local files: lake writer, rejects, stats, rollback of a failed file."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from functions.engine import (
    EngineError,
    FileStats,
    ParquetLakeWriter,
    RejectsWriter,
    StreamSchema,
    TableStats,
    UnreadableFileError,
    evolve_schema,
    infer_schema,
    ingest_file,
)
from functions.engine.ingest import TableCollector

SCHEMA = StreamSchema.from_list([{"name": "id", "type": "int64"}, {"name": "name", "type": "string"}])


def lake_rows(path) -> list[dict]:
    files = sorted(p for p in path.glob("*.parquet"))
    if not files:
        return []
    return pa.concat_tables([pq.read_table(f) for f in files]).sort_by("id").to_pylist()


def test_csv_to_lake_with_rejects_and_stats(make_file, tmp_path):
    src = make_file("in.csv", "id,name\n1,a\nx,b\n3,c\n")
    lake = tmp_path / "lake" / "t"
    writer = ParquetLakeWriter(str(lake), SCHEMA)
    rejects = RejectsWriter(str(tmp_path / "rejects" / "t.parquet"), fmt="parquet")
    stats = ingest_file(src, SCHEMA, writer, rejects=rejects)
    rejects.close()
    assert list(lake.glob("*.parquet")) == []  # nothing visible before the commit
    result = writer.commit()
    assert result.inserted == 2 and len(result.files) == 1
    assert lake_rows(lake) == [{"id": 1, "name": "a"}, {"id": 3, "name": "c"}]
    assert not any(p.name.startswith("_staging") for p in lake.iterdir())
    d = stats.to_dict()
    assert {k: d[k] for k in ("read", "inserted", "updated", "rejected", "errors", "bytes")} == {
        "read": 3, "inserted": 2, "updated": 0, "rejected": 1, "errors": 0, "bytes": src.size,
    }  # fmt: skip
    assert d["duration_ms"] >= 0 and d["error"] is None
    rej = pq.read_table(tmp_path / "rejects" / "t.parquet").to_pylist()
    assert rej == [{"file": src.uri, "byte_offset": 0, "row": 2,
                    "reason": "column 'id': value 'x' does not fit type int64",
                    "record": '{"id": "x", "name": "b"}'}]  # fmt: skip


def test_lake_file_is_zstd_with_the_stream_schema(make_file, tmp_path):
    src = make_file("in.csv", "id,name\n1,a\n")
    writer = ParquetLakeWriter(str(tmp_path / "lake"), SCHEMA)
    ingest_file(src, SCHEMA, writer)
    path = writer.commit().files[0]
    meta = pq.ParquetFile(path).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert pq.read_schema(path).equals(SCHEMA.to_arrow())


def test_every_format_ingests_the_same_rows(make_file, tmp_path):
    rows = [{"id": i, "name": f"n{i}"} for i in range(50)]
    csv = "id,name\n" + "".join(f"{r['id']},{r['name']}\n" for r in rows)
    jsonl = "".join(json.dumps(r) + "\n" for r in rows)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "x.parquet")
    from functions.engine import open_source

    sources = [make_file("x.csv", csv), make_file("x.jsonl.gz", gzip.compress(jsonl.encode())),
               open_source(str(tmp_path / "x.parquet"))]  # fmt: skip
    for src in sources:
        writer = ParquetLakeWriter(str(tmp_path / f"lake-{src.name}"), SCHEMA)
        stats = ingest_file(src, SCHEMA, writer)
        writer.commit()
        assert (stats.read, stats.inserted, stats.rejected) == (50, 50, 0), src.name
        assert lake_rows(tmp_path / f"lake-{src.name}") == rows


def test_failed_file_is_rolled_back_but_earlier_files_stay(make_file, tmp_path):
    good = make_file("good.csv", "id,name\n1,a\n2,b\n")
    data = b"id,name\n" + b"".join(b"%d,n\n" % i for i in range(100_000))
    packed = gzip.compress(data)
    broken = make_file("broken.csv.gz", packed[: len(packed) // 2])
    lake = tmp_path / "lake"
    # tiny row groups so the broken file flushes (and would leak) rows before it fails
    writer = ParquetLakeWriter(str(lake), SCHEMA, row_group_bytes=1000)
    table = TableStats("t")
    table.add(ingest_file(good, SCHEMA, writer))
    bad = ingest_file(broken, SCHEMA, writer, csv_options={"block_size": 4096})
    table.add(bad)
    assert bad.errors == 1 and bad.inserted == 0 and "truncated gzip" in bad.error
    result = writer.commit()
    assert result.inserted == 2
    assert lake_rows(lake) == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    assert table.errors == 1 and table.inserted == 2


def test_rollback_keeps_rows_buffered_before_the_mark(make_file, tmp_path):
    lake = tmp_path / "lake"
    writer = ParquetLakeWriter(str(lake), SCHEMA, row_group_bytes=10_000)
    writer.write(pa.table({"id": [1], "name": ["kept"]}))  # buffered, not yet a row group
    mark = writer.mark()
    for i in range(50):  # enough to flush the buffer, kept row included, into a new file
        writer.write(pa.table({"id": list(range(100 + i * 100, 200 + i * 100)), "name": ["x"] * 100}))
    writer.rollback(mark)
    assert writer.commit().inserted == 1
    assert lake_rows(lake) == [{"id": 1, "name": "kept"}]


def test_raise_errors(make_file):
    src = make_file("bad.parquet", b"nope")
    with pytest.raises(UnreadableFileError, match="bad.parquet"):
        ingest_file(src, SCHEMA, None, raise_errors=True)


def test_abort_leaves_the_lake_unchanged(make_file, tmp_path):
    lake = tmp_path / "lake"
    first = ParquetLakeWriter(str(lake), SCHEMA)
    ingest_file(make_file("a.csv", "id,name\n1,a\n"), SCHEMA, first)
    first.commit()
    second = ParquetLakeWriter(str(lake), SCHEMA, row_group_bytes=1)
    ingest_file(make_file("b.csv", "id,name\n2,b\n"), SCHEMA, second)
    assert any(p.name.startswith("_staging") for p in lake.iterdir())  # staged, hidden
    second.abort()
    assert lake_rows(lake) == [{"id": 1, "name": "a"}]
    assert not any(p.name.startswith("_staging") for p in lake.iterdir())
    with pytest.raises(EngineError, match="already"):
        second.commit()


def test_lake_writer_rolls_files_and_row_groups(tmp_path):
    schema = StreamSchema.from_list([{"name": "id", "type": "int64"}])
    writer = ParquetLakeWriter(str(tmp_path / "lake"), schema, row_group_bytes=8_000, file_bytes=40_000)
    for i in range(100):
        writer.write(pa.table({"id": pa.array(range(i * 1000, i * 1000 + 1000), pa.int64())}))
    result = writer.commit()
    assert result.inserted == 100_000
    assert len(result.files) > 1
    assert sum(pq.ParquetFile(f).metadata.num_rows for f in result.files) == 100_000
    assert all(pq.ParquetFile(f).metadata.num_row_groups >= 1 for f in result.files)


def test_rejects_jsonl_lines(make_file, tmp_path):
    out = tmp_path / "rejects" / "x.jsonl"
    rejects = RejectsWriter(str(out))
    ingest_file(make_file("r.jsonl", '{"id": "a"}\n{"id": 2}\nnot json\n'), SCHEMA, None, rejects=rejects)
    rejects.close()
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["row"], r["reason"].split(":")[0]) for r in lines] == [
        (1, "value does not fit"),
        (3, "invalid JSON"),
    ]
    assert "/id" in lines[0]["reason"]
    assert lines[1]["record"] == "not json"
    assert rejects.count == 2
    with pytest.raises(EngineError):
        RejectsWriter(str(out), fmt="csv")


def test_schema_evolution_end_to_end(make_file, tmp_path):
    current = StreamSchema.from_list([{"name": "id", "type": "int64"}, {"name": "qty", "type": "int64"}])
    src = make_file("new.csv", "id,qty,comment\n1,2.5,a\nx,3,b\n4,5,c\n")
    incoming = infer_schema(src)
    ev = evolve_schema(current, incoming)
    assert ev.added == ("comment",)
    assert ev.widened == (("qty", "int64", "float64"),)
    assert ev.incompatible == (("id", "int64", "string"),)
    stats = ingest_file(src, ev.schema, None)
    assert (stats.read, stats.inserted, stats.rejected) == (3, 2, 1)  # the 'x' id row, with a reason


def test_table_stats_merge_units_and_commit():
    t = TableStats("orders")
    t.add(FileStats(file="a.csv", read=10, inserted=9, rejected=1, bytes=100, duration_ms=5, unit="a.csv#0"))
    t.add(FileStats(file="a.csv", read=5, inserted=5, bytes=50, duration_ms=3, unit="a.csv#1"))
    t.add(FileStats(file="b.csv", read=1, errors=1, error="b.csv: boom", bytes=7))
    assert len(t.files) == 2
    assert t.files[0].read == 15 and t.files[0].bytes == 150 and t.files[0].unit is None
    t.apply_commit(inserted=12, updated=2)
    d = t.to_dict()
    assert {k: d[k] for k in ("read", "inserted", "updated", "rejected", "errors", "bytes", "duration_ms")} == {
        "read": 16, "inserted": 12, "updated": 2, "rejected": 1, "errors": 1, "bytes": 157, "duration_ms": 8,
    }  # fmt: skip
    assert d["committed"] is True
    assert TableStats.from_dict(d).to_dict() == d


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_parallel_blocks_read_exactly_as_a_serial_read(make_file, tmp_path, fmt):
    """Blocks parsed on several threads: same rows in the same order, same rejects with the same numbers."""
    lines = []
    for i in range(1, 3001):
        bad = i % 397 == 0
        if fmt == "csv":
            lines.append(f"{i},n{i},extra" if bad else f"{'x' if i % 499 == 0 else i},n{i}")
        else:
            lines.append("{oops" if bad else json.dumps({"id": "x" if i % 499 == 0 else i, "name": f"n{i}"}))
    body = ("id,name\n" if fmt == "csv" else "") + "\n".join(lines) + "\n"
    src = make_file(f"p.{fmt}", body)
    results = []
    for threads in (1, 3):
        sink, out = TableCollector(), tmp_path / f"rejects-{threads}.jsonl"
        rejects = RejectsWriter(str(out))
        stats = ingest_file(
            src, SCHEMA, sink, csv_options={"block_size": 4096}, rejects=rejects, threads=threads
        )
        rejects.close()
        rows = pa.concat_tables(sink.tables).to_pylist()
        rejected = [(r["row"], r["reason"]) for r in map(json.loads, out.read_text().splitlines())]
        results.append(((stats.read, stats.inserted, stats.rejected), rows, rejected))
    assert results[0] == results[1]
    counts, rows, rejected = results[0]
    assert counts == (3000, 3000 - 7 - 6, 13)
    assert [r for r, _ in rejected] == sorted([i for i in range(1, 3001) if i % 397 == 0 or i % 499 == 0])
    assert [r["id"] for r in rows] == [i for i in range(1, 3001) if i % 397 and i % 499]
