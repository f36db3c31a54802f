"""Schema inference from samples of one or more files, in every format."""

from __future__ import annotations

import datetime as dt
import decimal
import io

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq

from functions.engine import infer_schema
from functions.engine.infer import text_type


def types(s):
    return {c["name"]: c["type"] for c in s.to_list()}


def test_csv_types(make_file):
    src = make_file(
        "t.csv",
        "i,f,b,s,d,ts,tz,e,big,exact,n\n"
        "1,1.5,true,x,2024-01-02,2024-01-02 03:04:05,2024-01-02T03:04:05Z,,99999999999999999999,"
        "12345678901234567.89,NA\n"
        "-2,2,FALSE,y,2024-01-03,2024-01-02T03:04:05.25,2024-01-02 03:04:05+02:00,,1,0.5,\n",
    )
    assert types(infer_schema(src)) == {
        "i": "int64", "f": "float64", "b": "bool", "s": "string", "d": "date", "ts": "timestamp",
        "tz": "timestamptz", "e": "string", "big": "decimal(20,0)", "exact": "decimal(19,2)", "n": "string",
    }  # fmt: skip


def test_text_type_edge_cases():
    def t(*values):
        return text_type(pa.array(list(values), pa.string()))

    assert t("1", "2.5e3") == "float64"
    assert t("nan", "1.5") == "float64"
    assert t("1", "x") == "string"
    assert t("2024-01-02", "2024-01-02 10:00:00") == "timestamp"
    assert t("2024-01-02 10:00:00Z", "2024-01-02 10:00:00") == "string"  # mixed zones: never guess
    assert t("2024-02-30") == "string"
    assert t("007") == "int64"
    assert t(None, "") == "null"
    assert text_type(pa.array([b"\xff"], pa.binary())) == "string"
    assert t("1" * 40) == "string"


def test_sample_limits_rows(make_file):
    src = make_file("s.csv", "a\n" + "1\n" * 100 + "x\n")
    assert types(infer_schema(src, sample_rows=50)) == {"a": "int64"}
    assert types(infer_schema(src)) == {"a": "string"}


def test_types_merge_across_blocks(make_file):
    src = make_file("blocks.csv", "a,b\n" + "1,x\n" * 3000 + "1.5,y\n")
    assert types(infer_schema(src, csv_options={"block_size": 2048})) == {"a": "float64", "b": "string"}


def test_merge_across_files(make_file):
    one = make_file("one.csv", "id,amount\n1,10\n")
    two = make_file("two.csv", "id,amount,note\n2,10.5,hi\n")
    three = make_file("three.jsonl", '{"id": 3, "amount": 1, "when": "2024-01-02"}\n')
    assert infer_schema([one, two, three]).to_list() == [
        {"name": "id", "type": "int64"}, {"name": "amount", "type": "float64"},
        {"name": "note", "type": "string"}, {"name": "when", "type": "date"},
    ]  # fmt: skip


def test_jsonl_types(make_file):
    src = make_file(
        "j.jsonl",
        '{"i": 1, "f": 1.5, "b": true, "s": "123", "at": "2024-01-02T03:04:05Z", "local": "2024-01-02 03:04:05",'
        ' "nested": {"k": 1}, "list": [1], "nul": null}\n'
        '{"i": 2, "f": 2, "b": false, "s": "x", "at": "2024-01-02T03:04:05+01:00", "local": null}\n',
    )
    assert types(infer_schema(src)) == {
        "i": "int64", "f": "float64", "b": "bool", "s": "string", "at": "timestamptz", "local": "timestamp",
        "nested": "string", "list": "string", "nul": "string",
    }  # fmt: skip


def test_parquet_and_avro_declared_types(make_file, tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(
        pa.table({"p": pa.array([decimal.Decimal("1.23")], pa.decimal128(10, 2)),
                  "at": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("ms", tz="UTC")),
                  "n": pa.array([1], pa.int16())}),
        path,
    )  # fmt: skip
    from functions.engine import open_source

    assert types(infer_schema(open_source(str(path)))) == {
        "p": "decimal(10,2)",
        "at": "timestamptz",
        "n": "int64",
    }
    buf = io.BytesIO()
    schema = {"type": "record", "name": "r", "fields": [
        {"name": "p", "type": {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 3}},
        {"name": "l", "type": ["null", "long"]}, {"name": "s", "type": "string"}]}  # fmt: skip
    fastavro.writer(buf, schema, [{"p": decimal.Decimal("1.5"), "l": None, "s": "x"}])
    assert types(infer_schema(make_file("a.avro", buf.getvalue()))) == {
        "p": "decimal(6,3)",
        "l": "int64",
        "s": "string",
    }


def test_empty_and_header_only_files(make_file):
    assert infer_schema(make_file("e.csv", b"")).to_list() == []
    assert types(infer_schema(make_file("h.csv", "a,b\n"))) == {"a": "string", "b": "string"}
    two = [make_file("h2.csv", "a,b\n"), make_file("d.csv", "a,b\n1,2024-01-01\n")]
    assert types(infer_schema(two)) == {"a": "int64", "b": "date"}
