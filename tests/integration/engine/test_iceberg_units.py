"""Work units, failed files and schema evolution against Iceberg tables (Glue catalog on moto server)."""

from __future__ import annotations

import gzip

import pyarrow as pa

from functions.engine import (
    IcebergTableWriter,
    StreamSchema,
    TableStats,
    evolve_schema,
    infer_schema,
    ingest_file,
    open_source,
    plan_units,
)

SCHEMA = StreamSchema.from_list([{"name": "id", "type": "int64"}, {"name": "v", "type": "string"}])


def snapshots(catalog, ident) -> int:
    return len(catalog.load_table(ident).metadata.snapshots)


def test_units_of_a_file_make_one_commit(catalog, namespace, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("id,v\n" + "".join(f"{i},v{i}\n" for i in range(30_000)))
    src = open_source(str(path))
    units = plan_units(src, target_bytes=50_000)
    assert len(units) > 5
    ident = f"{namespace}.units"
    writer = IcebergTableWriter(catalog, ident, mode="append", schema=SCHEMA, chunk_bytes=100_000)
    stats = TableStats(ident)
    for u in units:
        stats.add(ingest_file(src, SCHEMA, writer, unit=u))
    result = writer.commit()
    stats.apply_commit(result.inserted, result.updated)
    assert snapshots(catalog, ident) == 1
    assert stats.to_dict()["inserted"] == stats.read == 30_000
    got = catalog.load_table(ident).scan().to_arrow().sort_by("id")
    assert got.column("id").to_pylist() == list(range(30_000))


def test_failed_file_leaves_no_rows_but_others_commit(catalog, namespace, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("id,v\n1,a\n2,b\n")
    data = b"id,v\n" + b"".join(b"%d,x\n" % i for i in range(100, 40_000))
    packed = gzip.compress(data)
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(packed[: len(packed) // 2])
    ident = f"{namespace}.partial"
    writer = IcebergTableWriter(
        catalog, ident, mode="upsert", primary_key=["id"], schema=SCHEMA, chunk_bytes=50_000
    )
    stats = TableStats(ident)
    stats.add(ingest_file(open_source(str(good)), SCHEMA, writer))
    stats.add(ingest_file(open_source(str(bad)), SCHEMA, writer, csv_options={"block_size": 16_384}))
    result = writer.commit()
    assert (result.inserted, result.updated) == (2, 0)
    assert stats.errors == 1 and "truncated gzip" in stats.files[1].error
    got = catalog.load_table(ident).scan().to_arrow().sort_by("id")
    assert got.to_pydict() == {"id": [1, 2], "v": ["a", "b"]}


def test_evolved_schema_adds_a_nullable_column_and_widens(catalog, namespace, tmp_path):
    ident = f"{namespace}.evolving"
    first = StreamSchema.from_list([{"name": "id", "type": "int64"}, {"name": "qty", "type": "int32"}])
    w = IcebergTableWriter(catalog, ident, mode="append", schema=first)
    w.write(pa.table({"id": pa.array([1], pa.int64()), "qty": pa.array([5], pa.int32())}))
    w.commit()
    path = tmp_path / "next.csv"
    path.write_text("id,qty,note\n2,3000000000,hello\nnot-an-id,1,x\n")
    src = open_source(str(path))
    ev = evolve_schema(StreamSchema.from_iceberg(catalog.load_table(ident).schema()), infer_schema(src))
    assert ev.added == ("note",) and ev.widened == (("qty", "int32", "int64"),)
    assert ev.incompatible == (("id", "int64", "string"),)
    w = IcebergTableWriter(catalog, ident, mode="append", schema=ev.schema)
    stats = ingest_file(src, ev.schema, w)
    assert (stats.read, stats.inserted, stats.rejected) == (2, 1, 1)
    w.commit()
    table = catalog.load_table(ident)
    assert [(f.name, str(f.field_type)) for f in table.schema().fields] == [
        ("id", "long"), ("qty", "long"), ("note", "string"),
    ]  # fmt: skip
    got = table.scan().to_arrow().sort_by("id").to_pydict()
    assert got == {"id": [1, 2], "qty": [5, 3_000_000_000], "note": [None, "hello"]}


def test_upsert_composite_key_read_back_equals_input(catalog, namespace):
    schema = StreamSchema.from_list(
        [{"name": "k1", "type": "string"}, {"name": "k2", "type": "int64"}, {"name": "x", "type": "float64"}]
    )
    ident = f"{namespace}.composite"
    base = pa.table({"k1": ["a", "a", "b"], "k2": [1, 2, 1], "x": [1.0, 2.0, 3.0]}, schema=schema.to_arrow())
    w = IcebergTableWriter(catalog, ident, mode="upsert", primary_key=["k1", "k2"], schema=schema)
    w.write(base)
    first = w.commit()
    assert (first.inserted, first.updated) == (3, 0)
    w = IcebergTableWriter(catalog, ident, mode="upsert", primary_key=["k1", "k2"], schema=schema)
    w.write(pa.table({"k1": ["a", "c"], "k2": [2, 1], "x": [20.0, 30.0]}, schema=schema.to_arrow()))
    r = w.commit()
    assert (r.inserted, r.updated) == (1, 1)
    got = catalog.load_table(ident).scan().to_arrow().sort_by([("k1", "ascending"), ("k2", "ascending")])
    assert got.cast(schema.to_arrow()).to_pydict() == {
        "k1": ["a", "a", "b", "c"], "k2": [1, 2, 1, 1], "x": [1.0, 20.0, 3.0, 30.0],
    }  # fmt: skip


def test_units_staged_by_separate_writers_upsert_in_one_commit(catalog, namespace):
    import json

    ident = f"{namespace}.staged"
    w = IcebergTableWriter(catalog, ident, mode="append", schema=SCHEMA)
    w.write(pa.table({"id": pa.array(range(10), pa.int64()), "v": ["old"] * 10}))
    w.commit()
    before = snapshots(catalog, ident)
    staged = []
    for lo, tag in ((5, "u0"), (8, "u1")):  # two units, overlapping on keys 8 and 9: the later unit wins
        unit = IcebergTableWriter(catalog, ident, mode="upsert", primary_key=["id"])
        unit.write(pa.table({"id": pa.array(range(lo, lo + 5), pa.int64()), "v": [tag] * 5}))
        staged.append(json.loads(json.dumps(unit.stage())))
    assert snapshots(catalog, ident) == before  # staging commits nothing
    result = IcebergTableWriter.commit_staged(catalog, ident, staged, mode="upsert", primary_key=["id"])
    assert (result.inserted, result.updated) == (3, 5)  # new 10..12; updated 5..9
    assert snapshots(catalog, ident) == before + 1
    got = catalog.load_table(ident).scan().to_arrow().sort_by("id").to_pydict()
    assert got["id"] == list(range(13))
    assert got["v"] == ["old"] * 5 + ["u0"] * 3 + ["u1"] * 5
