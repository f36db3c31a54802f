"""Streaming readers: every format and option becomes Arrow batches of one schema, in bounded memory."""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import io
import json
import uuid

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from functions.engine import CsvOptions, EngineError, StreamSchema, read_batches
from functions.engine.readers import iter_parsed


def read_all(source, **kw) -> pa.Table:
    batches = list(read_batches(source, **kw))
    return pa.Table.from_batches(batches) if batches else pa.table({})


def test_csv_types_bom_crlf_quoting(make_file):
    src = make_file(
        "t.csv",
        '\ufeffid,name,price,ok,day\r\n1,"Smith, J",1.5,true,2024-01-02\r\n2,"say ""hi""",,false,2024-01-03\r\n',
    )
    t = read_all(src)
    assert t.column_names == ["id", "name", "price", "ok", "day"]  # BOM gone from the first name
    assert t.to_pydict() == {
        "id": [1, 2], "name": ["Smith, J", 'say "hi"'], "price": [1.5, None], "ok": [True, False],
        "day": [dt.date(2024, 1, 2), dt.date(2024, 1, 3)],
    }  # fmt: skip


def test_csv_without_header_and_custom_delimiter(make_file):
    src = make_file("t.txt", "1;a\n2;b\n")
    t = read_all(src, fmt="csv", csv_options={"delimiter": ";", "header": False})
    assert t.to_pydict() == {"f0": [1, 2], "f1": ["a", "b"]}
    named = read_all(
        src, fmt="csv", csv_options={"delimiter": ";", "header": False, "column_names": ["n", "s"]}
    )
    assert named.column_names == ["n", "s"]
    assert named.num_rows == 2


def test_csv_header_with_explicit_names_skips_header_line(make_file):
    src = make_file("t.csv", "x,y\n1,2\n")
    t = read_all(src, csv_options={"column_names": ["a", "b"]})
    assert t.to_pydict() == {"a": [1], "b": [2]}


def test_tsv_has_no_quoting(make_file):
    src = make_file("t.tsv", 'a\tb\n"1\tx,y\n')
    assert read_all(src).to_pydict() == {"a": ['"1'], "b": ["x,y"]}


def test_unknown_csv_option_and_bad_delimiter():
    with pytest.raises(EngineError, match="unknown CSV option"):
        CsvOptions.for_format("csv", {"delimeter": ";"})
    with pytest.raises(EngineError, match="one ASCII character"):
        CsvOptions(delimiter=";;")
    with pytest.raises(EngineError, match="one ASCII character"):
        CsvOptions(quote_char="\n")
    with pytest.raises(EngineError, match="different characters"):
        CsvOptions(delimiter="|", escape_char="|")
    assert CsvOptions.for_format("tsv", None).delimiter == "\t"
    assert CsvOptions(column_names=["a"]).to_dict()["column_names"] == ["a"]


def test_csv_quoted_newlines_when_allowed(make_file):
    src = make_file("q.csv", 'id,text\n1,"line one\nline two"\n2,plain\n')
    t = read_all(src, csv_options={"newlines_in_values": True})
    assert t.to_pydict() == {"id": [1, 2], "text": ["line one\nline two", "plain"]}


def test_csv_many_small_blocks_keep_order_and_one_schema(make_file):
    lines = "".join(f"{i},{i * 0.5},name{i}\n" for i in range(5000))
    src = make_file("big.csv", "i,f,s\n" + lines)
    batches = list(read_batches(src, csv_options={"block_size": 4096}))
    assert len(batches) > 10  # streamed in pieces, not read whole
    assert len({b.schema for b in batches}) == 1
    t = pa.Table.from_batches(batches)
    assert t.column("i").to_pylist() == list(range(5000))
    assert t.schema.field("f").type == pa.float64()


def test_csv_later_block_that_does_not_fit_first_types_is_skipped_not_mistyped(make_file):
    src = make_file("drift.csv", "a\n" + "1\n" * 2000 + "oops\n" + "2\n")
    t = read_all(src, csv_options={"block_size": 1024})
    assert t.schema.field("a").type == pa.int64()
    assert t.num_rows == 2001  # "oops" skipped by read_batches (ingest_file would reject it)


def test_read_batches_with_schema(make_file):
    src = make_file("s.csv", "a,b,extra\n1,x,9\n2,y,9\n")
    schema = StreamSchema.from_list([{"name": "a", "type": "float64"}, {"name": "b", "type": "string"},
                                     {"name": "c", "type": "date"}])  # fmt: skip
    t = read_all(src, schema=schema)
    assert t.schema == schema.to_arrow()
    assert t.to_pydict() == {"a": [1.0, 2.0], "b": ["x", "y"], "c": [None, None]}


def test_jsonl(make_file):
    src = make_file(
        "e.jsonl",
        '{"id": 1, "tags": {"k": "v"}, "at": "2024-01-02T03:04:05Z", "day": "2024-01-02"}\n'
        '\n{"id": 2, "new": true}\n',
    )
    t = read_all(src)
    assert t.column("id").to_pylist() == [1, 2]
    assert t.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert t.schema.field("day").type == pa.date32()
    assert t.column("new").to_pylist() == [None, True]


def test_jsonl_mixed_types_in_a_column_do_not_crash(make_file):
    src = make_file("m.jsonl", '{"a": 1}\n{"a": "x"}\n{"a": [1]}\n')
    rows = [r for p in iter_parsed(src) for r in p.table.column("a").to_pylist()]
    assert rows == ["1", "x", "[1]"]


def test_parquet_row_groups(make_file, tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"a": list(range(100)), "b": ["x"] * 100}), path, row_group_size=30)
    from functions.engine import open_source

    src = open_source(str(path))
    assert read_all(src).num_rows == 100
    part = read_all(src, row_groups=[1, 2])
    assert part.column("a").to_pylist() == list(range(30, 90))
    parsed = list(iter_parsed(src, row_groups=[2]))
    assert parsed[0].first_row == 61  # row numbers stay absolute within the file
    with pytest.raises(EngineError, match="row groups"):
        list(iter_parsed(src, row_groups=[7]))


def avro_file(make_file, name, records, schema=None, codec="null"):
    schema = schema or {
        "type": "record", "name": "r",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "name", "type": ["null", "string"]},
            {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "day", "type": {"type": "int", "logicalType": "date"}},
            {"name": "meta", "type": ["null", {"type": "map", "values": "string"}]},
            {"name": "score", "type": "float"},
        ],
    }  # fmt: skip
    buf = io.BytesIO()
    fastavro.writer(buf, schema, records, codec=codec)
    return make_file(name, buf.getvalue())


def avro_records(n):
    at = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    return [
        {"id": i, "name": None if i % 2 else f"n{i}", "price": decimal.Decimal("1.25"), "at": at,
         "day": dt.date(2024, 1, 2), "meta": {"k": str(i)} if i == 0 else None, "score": 0.5}
        for i in range(n)
    ]  # fmt: skip


def test_avro_types_and_batches(make_file):
    src = avro_file(make_file, "a.avro", avro_records(3), codec="deflate")
    t = read_all(src)
    assert t.schema.field("price").type == pa.decimal128(9, 2)
    assert t.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert t.schema.field("day").type == pa.date32()
    assert t.column("meta").to_pylist() == [json.dumps({"k": "0"}), None, None]
    assert t.column("name").to_pylist() == ["n0", None, "n2"]
    parsed = list(iter_parsed(avro_file(make_file, "b.avro", avro_records(10)), batch_rows=4))
    assert [p.table.num_rows for p in parsed] == [4, 4, 2]
    assert [p.first_row for p in parsed] == [1, 5, 9]


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_compressed_text_streams(make_file, codec):
    data = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(10000))
    packed = gzip.compress(data) if codec == "gzip" else zstandard.ZstdCompressor().compress(data)
    t = read_all(make_file("c.bin", packed), fmt="csv", csv_options={"block_size": 8192})
    assert t.num_rows == 10000
    assert t.column("b").to_pylist()[-1] == 9999


def test_compressed_avro_and_jsonl(make_file):
    buf = io.BytesIO()
    fastavro.writer(buf, {"type": "record", "name": "r", "fields": [{"name": "a", "type": "long"}]},
                    [{"a": 1}, {"a": 2}])  # fmt: skip
    assert read_all(make_file("x.avro.gz", gzip.compress(buf.getvalue()))).column("a").to_pylist() == [1, 2]
    js = zstandard.ZstdCompressor().compress(b'{"a": 1}\n{"a": 2}\n')
    assert read_all(make_file("x.jsonl.zst", js)).column("a").to_pylist() == [1, 2]


def test_byte_ranges_cover_every_record_once(make_file):
    body = "".join(f'{i},"v{i}"\n' for i in range(1000))
    src = make_file("r.csv", "id,v\n" + body)
    cuts = [0, 1, 2, 3, 50, 51, 777, 4000, src.size]
    ids = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        ids += [r for batch in read_batches(src, byte_range=(a, b)) for r in batch.column("id").to_pylist()]
    assert ids == list(range(1000))


def test_byte_ranges_of_compressed_files_are_refused(make_file):
    src = make_file("g.csv.gz", gzip.compress(b"a\n1\n"))
    with pytest.raises(EngineError, match="uncompressed"):
        list(read_batches(src, byte_range=(0, 2)))


def test_unknown_format(make_file):
    with pytest.raises(EngineError, match="unknown format"):
        list(read_batches(make_file("x.csv", "a\n1\n"), fmt="xml"))


def _count_json_parses(monkeypatch) -> list[int]:
    """Every pyarrow JSON parse the readers make, by the number of bytes it was given."""
    import functions.engine.readers as readers

    calls: list[int] = []
    real = readers.pjson.read_json

    def counted(buf, *a, **k):
        calls.append(buf.size())
        return real(buf, *a, **k)

    monkeypatch.setattr(readers.pjson, "read_json", counted)
    return calls


def test_json_lines_with_blank_lines_keep_the_fast_parse(make_file, monkeypatch):
    """Blank lines (a trailing one is common) are skipped, not a reason to parse line by line."""
    from functions.engine import ingest_file

    body = "".join(f'{{"id": {i}}}\n' + ("\n" if i % 100 == 0 else "") for i in range(2000)) + "\n"
    schema = StreamSchema.from_list([{"name": "id", "type": "int64"}])
    calls = _count_json_parses(monkeypatch)
    stats = ingest_file(make_file("blank.jsonl", body), schema, None)
    assert (stats.read, stats.inserted, stats.rejected) == (2000, 2000, 0)
    assert len(calls) == 1  # one parse for the block
    bad = ingest_file(make_file("bad.jsonl", '{"id": 1}\n\n{"id": "x"}\n'), schema, None)
    assert (bad.inserted, bad.rejected) == (1, 1)


@pytest.mark.parametrize("typed", [True, False])
def test_one_bad_json_line_costs_a_few_parses_not_one_per_line(make_file, monkeypatch, tmp_path, typed):
    """A block with one bad line is halved until the line stands alone: about 2 log2(n) parses, and the
    bad line is one reject with its line number; the other lines keep their order."""
    from functions.engine import RejectsWriter, ingest_file

    lines = [f'{{"id": {i}, "v": "x{i}"}}' for i in range(1, 4001)]
    lines[2999] = '{"id": 3000, "v": "x3000"' if typed else '{"id": "3000", "v": "x3000"}'
    lines[1499] = ""  # a blank line keeps its number too
    src = make_file("one-bad.jsonl", "\n".join(lines) + "\n")
    schema = StreamSchema.from_list([{"name": "id", "type": "int64"}, {"name": "v", "type": "string"}])
    calls = _count_json_parses(monkeypatch)
    out = tmp_path / "rejects.jsonl"
    rejects = RejectsWriter(str(out))
    stats = ingest_file(src, schema, None, rejects=rejects)
    rejects.close()
    assert (stats.read, stats.inserted, stats.rejected) == (3999, 3998, 1)
    assert len(calls) <= 2 * 12 + 2  # 4,000 lines: 12 halvings; line by line would be 4,000 parses
    [reject] = [json.loads(line) for line in out.read_text().splitlines()]
    assert reject["row"] == 3000
    assert reject["reason"].startswith("invalid JSON" if typed else "value does not fit")
    kept = [r["id"] for p in iter_parsed(src, target=schema.to_arrow()) for r in p.table.to_pylist()]
    assert kept == [i for i in range(1, 4001) if i not in (1500, 3000)]


def test_inferred_json_lines_with_one_bad_line_keep_their_types(make_file):
    body = "".join(f'{{"id": {i}, "amount": {i}.5}}\n' for i in range(1000)) + "oops\n"
    [parsed] = list(iter_parsed(make_file("i.jsonl", body)))
    assert parsed.table.schema.field("amount").type == pa.float64()
    assert parsed.table.num_rows == 1000
    assert [(r, reason[:12]) for r, reason, _ in parsed.invalid] == [(1001, "invalid JSON")]


LOGICAL_SCHEMA = {
    "type": "record", "name": "l",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "key", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "key16", "type": ["null", {"type": "fixed", "name": "u16", "size": 16, "logicalType": "uuid"}]},
        {"name": "t_ms", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "t_us", "type": ["null", {"type": "long", "logicalType": "time-micros"}]},
        {"name": "ts_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "local_us", "type": ["null", {"type": "long", "logicalType": "local-timestamp-micros"}]},
        {"name": "local_ms", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
        {"name": "kind", "type": {"type": "enum", "name": "k", "symbols": ["A", "B"]}},
        {"name": "either", "type": ["null", "long", "string"]},
    ],
}  # fmt: skip


def logical_records(n):
    return [
        {"id": i, "key": uuid.UUID(int=i), "key16": uuid.UUID(int=i + 1).bytes if i % 2 else None,
         "t_ms": dt.time(1, 2, 3, 4000), "t_us": dt.time(23, 59, 59, 999_999) if i % 2 else None,
         "ts_ms": dt.datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=dt.UTC),
         "local_us": dt.datetime(2024, 5, 6, 7, 8, 9, 10) if i % 2 else None,
         "local_ms": dt.datetime(1969, 12, 31, 23, 59, 59, 1000), "kind": "B", "either": i if i % 2 else "s"}
        for i in range(n)
    ]  # fmt: skip


def test_avro_uuid_and_time_logical_types(make_file):
    """uuid (string and 16-byte fixed) reads as UUID text, time-millis|micros as times of day: both were
    a raw ArrowTypeError; timestamps, local timestamps (before 1970 too), enums and unions as before."""
    src = avro_file(make_file, "l.avro", logical_records(3), schema=LOGICAL_SCHEMA, codec="deflate")
    t = read_all(src)
    assert [str(t.schema.field(n).type) for n in ("key", "key16", "t_ms", "t_us", "ts_ms", "local_us")] == [
        "string", "string", "time64[us]", "time64[us]", "timestamp[us, tz=UTC]", "timestamp[us]",
    ]  # fmt: skip
    rows = t.to_pylist()
    assert rows[1]["key"] == "00000000-0000-0000-0000-000000000001"
    assert [r["key16"] for r in rows] == [None, "00000000-0000-0000-0000-000000000002", None]
    assert rows[0]["t_ms"] == dt.time(1, 2, 3, 4000) and rows[1]["t_us"] == dt.time(23, 59, 59, 999_999)
    assert rows[0]["ts_ms"] == dt.datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=dt.UTC)
    assert [r["local_us"] for r in rows] == [None, dt.datetime(2024, 5, 6, 7, 8, 9, 10), None]
    assert rows[2]["local_ms"] == dt.datetime(1969, 12, 31, 23, 59, 59, 1000)
    assert [r["kind"] for r in rows] == ["B"] * 3 and [r["either"] for r in rows] == ['"s"', "1", '"s"']
    assert StreamSchema.from_arrow(t.schema).column("t_ms").type == "time"


def test_avro_time_outside_the_day_is_one_reject(make_file, tmp_path):
    """Avro stores a time as a plain int: one past midnight (or negative) is a reject of its record."""
    from functions.engine import RejectsWriter, infer_schema, ingest_file

    schema = {"type": "record", "name": "t", "fields": [
        {"name": "id", "type": "long"},
        {"name": "at", "type": ["null", {"type": "int", "logicalType": "time-millis"}]}]}  # fmt: skip
    buf = io.BytesIO()  # fastavro writes ints as they are: a writer that does not check its times
    fastavro.writer(buf, schema, [{"id": i, "at": [5, 86_400_000, None, -1, 7][i]} for i in range(5)])
    src = make_file("t.avro", buf.getvalue())
    stream_schema = infer_schema(src)
    assert stream_schema.column("at").type == "time"
    out = tmp_path / "rejects.jsonl"
    rejects = RejectsWriter(str(out))
    stats = ingest_file(src, stream_schema, None, rejects=rejects)
    rejects.close()
    assert (stats.read, stats.inserted, stats.rejected) == (5, 3, 2)
    assert [(r["row"], r["reason"]) for r in map(json.loads, out.read_text().splitlines())] == [
        (2, "a time of day outside 00:00 to 24:00"), (4, "a time of day outside 00:00 to 24:00"),
    ]  # fmt: skip


def test_avro_pieces_are_exact_across_blocks(make_file):
    """Many small blocks: pieces of exactly batch_rows rows, numbered from the file's first record."""
    buf = io.BytesIO()
    schema = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "long"}]}
    fastavro.writer(buf, schema, [{"a": i} for i in range(1000)], sync_interval=100)
    parsed = list(iter_parsed(make_file("m.avro", buf.getvalue()), batch_rows=300))
    assert [(p.first_row, p.table.num_rows) for p in parsed] == [(1, 300), (301, 300), (601, 300), (901, 100)]
    assert [v for p in parsed for v in p.table.column("a").to_pylist()] == list(range(1000))


def test_text_times_of_day(make_file):
    from functions.engine import ingest_file

    schema = StreamSchema.from_list([{"name": "id", "type": "int64"}, {"name": "at", "type": "time"}])
    assert schema.to_iceberg().find_field("at").field_type == __import__("pyiceberg.types").types.TimeType()
    src = make_file("t.csv", "id,at\n1,13:45:00\n2,00:00:00.25\n3,25:00:00\n4,\n5,13:45:00+02:00\n")
    t = read_all(src, schema=schema)
    assert t.to_pylist() == [{"id": 1, "at": dt.time(13, 45)}, {"id": 2, "at": dt.time(0, 0, 0, 250_000)},
                             {"id": 4, "at": None}]  # fmt: skip
    stats = ingest_file(
        make_file("t.jsonl", '{"id": 1, "at": "07:30:00"}\n{"id": 2, "at": 7}\n'), schema, None
    )
    assert (stats.inserted, stats.rejected) == (1, 1)
