"""Validation and coercion: vectorized casts, exact rejects with reasons, nothing cast unsafely."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa

from functions.engine import StreamSchema, coerce_table, ingest_file


def target(**cols: str) -> pa.Schema:
    return StreamSchema.from_list([{"name": n, "type": t} for n, t in cols.items()]).to_arrow()


def test_clean_table_passes_untouched():
    t = pa.table({"a": pa.array([1, 2], pa.int64())})
    good, bad, reasons = coerce_table(t, target(a="int64"))
    assert good.equals(t) and bad == [] and reasons == []


def test_text_values_cast_with_null_spellings():
    t = pa.table(
        {"a": pa.array([b"1", b"NULL", b"", b"n/a"], pa.binary()), "s": pa.array([b"NA", b"x", b"", b"y"])}
    )
    good, bad, _ = coerce_table(t, target(a="int64", s="string"), from_text=True)
    assert bad == []
    assert good.column("a").to_pylist() == [1, None, None, None]
    assert good.column("s").to_pylist() == ["NA", "x", "", "y"]  # a string column keeps its text


def test_lossy_casts_reject_the_row():
    t = pa.table({
        "i": pa.array([1.0, 1.5, 3.0, 2.0**70]),
        "small": pa.array([1, 2, 3, 40000], pa.int64()),
    })  # fmt: skip
    good, bad, reasons = coerce_table(t, target(i="int64", small="int32"))
    assert bad == [1, 3]
    assert good.column("i").to_pylist() == [1, 3]
    assert reasons[0] == "column 'i': value 1.5 does not fit type int64"


def test_int32_overflow_is_rejected():
    t = pa.table({"small": pa.array([1, 2**40], pa.int64())})
    good, bad, reasons = coerce_table(t, target(small="int32"))
    assert bad == [1] and good.num_rows == 1
    assert "does not fit type int32" in reasons[0]


def test_timestamps_and_zones():
    t = pa.table({
        "local": ["2024-01-02 03:04:05", "2024-01-02T03:04:05Z", "2024-01-02"],
        "zoned": ["2024-01-02T03:04:05+02:00", "2024-01-02T03:04:05Z", "2024-01-02 03:04:05"],
    })  # fmt: skip
    good, bad, reasons = coerce_table(t, target(local="timestamp", zoned="timestamptz"))
    assert bad == [1, 2]  # a zone in a local column, a local time in a zoned one: never guessed
    assert good.column("zoned").to_pylist() == [dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=dt.UTC)]
    assert reasons == [
        "column 'local': value '2024-01-02T03:04:05Z' does not fit type timestamp",
        "column 'zoned': value '2024-01-02 03:04:05' does not fit type timestamptz",
    ]


def test_decimals_are_exact():
    t = pa.table({"p": ["1.25", "1.255", "123456.7", "-0.5"]})
    good, bad, _ = coerce_table(t, target(p="decimal(6,2)"))
    assert bad == [1, 2]
    assert good.column("p").to_pylist() == [decimal.Decimal("1.25"), decimal.Decimal("-0.50")]


def test_bools_and_dates_from_text():
    t = pa.table({"b": [b"true", b"0", b"yes"], "d": [b"2024-02-29", b"2023-02-29", b"2024-01-01"]})
    good, bad, reasons = coerce_table(t, target(b="bool", d="date"), from_text=True)
    assert bad == [1, 2]
    assert good.to_pylist() == [{"b": True, "d": dt.date(2024, 2, 29)}]
    assert "column 'd'" in reasons[0] and "column 'b'" in reasons[1]


def test_missing_columns_are_null_extra_columns_dropped():
    t = pa.table({"a": [1], "zzz": ["drop me"]})
    good, bad, _ = coerce_table(t, target(a="int64", b="string"))
    assert good.to_pylist() == [{"a": 1, "b": None}]
    assert bad == []


def test_required_column_null_is_rejected():
    schema = StreamSchema.from_list([{"name": "id", "type": "int64", "nullable": False}]).to_arrow()
    good, bad, reasons = coerce_table(pa.table({"id": [1, None, 3]}), schema)
    assert bad == [1]
    assert reasons == ["column 'id': null in a required column"]
    assert good.column("id").to_pylist() == [1, 3]


def test_one_reason_per_row_first_column_wins():
    t = pa.table({"a": ["x", "1"], "b": ["y", "2"]})
    _, bad, reasons = coerce_table(t, target(a="int64", b="int64"))
    assert bad == [0] and reasons == ["column 'a': value 'x' does not fit type int64"]


def test_invalid_utf8_in_a_string_column_is_rejected():
    bad_bytes = pa.array([b"ok", b"\xff\xfe", None], pa.binary())
    t = pa.table({"s": bad_bytes.view(pa.string())})  # as a JSON or Parquet reader may hand it over
    good, bad, reasons = coerce_table(t, target(s="string"))
    assert bad == [1]
    assert reasons == ["column 's': invalid UTF-8"]
    assert good.column("s").to_pylist() == ["ok", None]


def test_nested_values_become_json_text():
    t = pa.table({"n": pa.array([{"k": 1}, None])})
    good, bad, _ = coerce_table(t, target(n="string"))
    assert good.column("n").to_pylist() == ['{"k": 1}', None]


def test_many_bad_values_in_a_large_column():
    values = [str(i) if i % 1000 else "bad" for i in range(100_000)]
    good, bad, _ = coerce_table(pa.table({"a": values}), target(a="int64"))
    assert bad == list(range(0, 100_000, 1000))
    assert good.num_rows == 99_900


def test_padded_numbers_are_accepted_whatever_rows_share_their_block(make_file):
    """' 12' is 12 on the fast path (pyarrow's typed parse) and on the fallback one a bad row forces."""
    schema = StreamSchema.from_list([{"name": "id", "type": "int64"}, {"name": "x", "type": "float64"}])
    alone = ingest_file(make_file("a.csv", "id,x\n 12, 1.5\n"), schema, None)
    mixed = ingest_file(make_file("b.csv", "id,x\n 12, 1.5\nx,1\n"), schema, None)
    assert (alone.inserted, alone.rejected) == (1, 0)
    assert (mixed.inserted, mixed.rejected) == (1, 1)
