"""Stream schemas: type strings, Arrow and Iceberg mappings, merging and evolution rules."""

from __future__ import annotations

import pyarrow as pa
import pytest

from functions.engine import Column, SchemaError, StreamSchema, evolve_schema, merge_schemas
from functions.engine.schema import is_widening, merge_types, normalize_type, type_from_arrow


def schema(**cols: str) -> StreamSchema:
    return StreamSchema.from_list([{"name": n, "type": t} for n, t in cols.items()])


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("long", "int64"), ("BIGINT", "int64"), ("int", "int32"), ("double", "float64"), ("boolean", "bool"),
     ("varchar", "string"), ("Decimal(10, 2)", "decimal(10,2)"), ("timestamptz", "timestamptz")],
)  # fmt: skip
def test_normalize_type(given, canonical):
    assert normalize_type(given) == canonical


@pytest.mark.parametrize("bad", ["uuid", "decimal(0,0)", "decimal(39,2)", "decimal(5,6)", ""])
def test_unknown_types_are_schema_errors(bad):
    with pytest.raises(SchemaError):
        normalize_type(bad)


def test_schema_validation():
    with pytest.raises(SchemaError, match="duplicate"):
        schema(a="int64").__class__((Column("a", "int64"), Column("a", "string")))
    with pytest.raises(SchemaError, match="empty"):
        Column("", "int64")
    with pytest.raises(SchemaError, match="name and a type"):
        StreamSchema.from_list([{"name": "a"}])


def test_round_trips():
    s = StreamSchema.from_list([
        {"name": "id", "type": "int64", "nullable": False}, {"name": "p", "type": "decimal(12,3)"},
        {"name": "at", "type": "timestamptz"}, {"name": "d", "type": "date"}, {"name": "n", "type": "int32"},
    ])  # fmt: skip
    assert StreamSchema.from_list(s.to_list()) == s
    assert s.to_list()[0] == {"name": "id", "type": "int64", "nullable": False}
    arrow = s.to_arrow()
    assert arrow.field("id").nullable is False
    assert arrow.field("p").type == pa.decimal128(12, 3)
    assert arrow.field("at").type == pa.timestamp("us", tz="UTC")
    assert StreamSchema.from_arrow(arrow).names == s.names
    assert StreamSchema.from_iceberg(s.to_iceberg()) == s


def test_iceberg_type_mapping():
    from pyiceberg import types as it

    s = schema(a="int32", b="int64", c="float32", d="float64", e="bool", f="string", g="binary", h="date",
               i="timestamp", j="timestamptz", k="decimal(9,2)")  # fmt: skip
    got = [f.field_type for f in s.to_iceberg().fields]
    assert got == [it.IntegerType(), it.LongType(), it.FloatType(), it.DoubleType(), it.BooleanType(),
                   it.StringType(), it.BinaryType(), it.DateType(), it.TimestampType(), it.TimestamptzType(),
                   it.DecimalType(9, 2)]  # fmt: skip
    assert [f.field_id for f in s.to_iceberg().fields] == list(range(1, 12))
    assert all(not f.required for f in s.to_iceberg().fields)


def test_type_from_arrow():
    assert type_from_arrow(pa.int8()) == "int64"
    assert type_from_arrow(pa.uint32()) == "int64"
    assert type_from_arrow(pa.float16()) == "float64"
    assert type_from_arrow(pa.timestamp("ms", tz="Europe/Paris")) == "timestamptz"
    assert type_from_arrow(pa.large_string()) == "string"
    assert type_from_arrow(pa.list_(pa.int64())) == "string"
    assert type_from_arrow(pa.null()) == "null"


@pytest.mark.parametrize(
    ("a", "b", "merged"),
    [("int64", "int64", "int64"), ("int32", "int64", "int64"), ("int64", "float64", "float64"),
     ("null", "date", "date"), ("date", "timestamp", "timestamp"), ("bool", "int64", "string"),
     ("timestamp", "timestamptz", "string"), ("decimal(5,2)", "decimal(7,1)", "decimal(8,2)"),
     ("decimal(5,2)", "int64", "decimal(21,2)"), ("decimal(5,2)", "float64", "float64"),
     ("decimal(38,10)", "int64", "decimal(38,10)"), ("decimal(38,30)", "int64", "float64"),
     ("string", "int64", "string")],
)  # fmt: skip
def test_merge_types(a, b, merged):
    assert merge_types(a, b) == merged
    assert merge_types(b, a) == merged


def test_merge_schemas_unions_columns_in_first_seen_order():
    merged = merge_schemas(schema(a="int64", b="string"), schema(b="string", c="date", a="float64"))
    assert merged.to_list() == [
        {"name": "a", "type": "float64"}, {"name": "b", "type": "string"}, {"name": "c", "type": "date"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "ok"),
    [("int32", "int64", True), ("int64", "float64", True), ("int32", "float64", True), ("int64", "int32", False),
     ("float64", "int64", False), ("string", "int64", False), ("int64", "string", False),
     ("decimal(5,2)", "decimal(9,2)", True), ("decimal(5,2)", "decimal(9,3)", False),
     ("date", "timestamp", True), ("float32", "float64", True)],
)  # fmt: skip
def test_is_widening(old, new, ok):
    assert is_widening(old, new) is ok


def test_evolution_adds_nullable_columns_and_widens():
    current = StreamSchema(
        (Column("id", "int64", nullable=False), Column("n", "int32"), Column("x", "int64"))
    )
    incoming = schema(id="int64", n="int64", x="float64", extra="string")
    ev = evolve_schema(current, incoming)
    assert ev.added == ("extra",)
    assert ev.widened == (("n", "int32", "int64"), ("x", "int64", "float64"))
    assert ev.incompatible == ()
    assert ev.schema.column("extra").nullable is True
    assert ev.schema.column("id").nullable is False
    assert ev.schema.column("x").type == "float64"
    assert ev.to_dict()["widened"][0] == {"name": "n", "from": "int32", "to": "int64"}


def test_evolution_keeps_the_type_on_incompatible_change():
    ev = evolve_schema(schema(id="int64", at="date"), schema(id="string", at="bool"))
    assert ev.schema == schema(id="int64", at="date")  # never silently cast to a wider type
    assert ev.incompatible == (("id", "int64", "string"), ("at", "date", "bool"))
    assert ev.to_dict()["incompatible"][0] == {"name": "id", "type": "int64", "incoming": "string"}


def test_evolution_ignores_narrower_and_null_incoming_types():
    ev = evolve_schema(schema(x="float64"), StreamSchema.from_list([{"name": "x", "type": "int64"}]))
    assert ev.schema == schema(x="float64")
    assert ev.widened == ev.incompatible == ()
