"""Iceberg writes through the Glue catalog on moto server: append, overwrite, upsert, crash safety."""

from __future__ import annotations

import pyarrow as pa
import pytest

from functions.engine import (
    CommitError,
    IcebergTableWriter,
    StreamSchema,
    TableStats,
    ingest_file,
    open_source,
)

SCHEMA = StreamSchema.from_list(
    [
        {"name": "id", "type": "int64"},
        {"name": "name", "type": "string"},
        {"name": "amount", "type": "float64"},
    ]
)


def rows(ids, name="v", amount=1.0):
    return pa.table(
        {"id": pa.array(list(ids), pa.int64()), "name": [f"{name}{i}" for i in ids],
         "amount": [float(amount)] * len(list(ids))},
        schema=SCHEMA.to_arrow(),
    )  # fmt: skip


def read_back(catalog, ident):
    return catalog.load_table(ident).scan().to_arrow().sort_by("id").cast(SCHEMA.to_arrow())


def test_append_then_append_adds_rows(catalog, namespace):
    ident = f"{namespace}.events"
    w = IcebergTableWriter(catalog, ident, mode="append", schema=SCHEMA)
    w.write(rows(range(5)))
    assert w.commit().inserted == 5
    w = IcebergTableWriter(catalog, ident, mode="append", schema=SCHEMA)
    w.write(rows(range(5, 8)))
    assert w.commit().inserted == 3
    assert read_back(catalog, ident).column("id").to_pylist() == list(range(8))


def test_overwrite_replaces_all_rows(catalog, namespace):
    ident = f"{namespace}.full"
    w = IcebergTableWriter(catalog, ident, mode="append", schema=SCHEMA)
    w.write(rows(range(10)))
    w.commit()
    w = IcebergTableWriter(catalog, ident, mode="overwrite", schema=SCHEMA)
    w.write(rows([100, 101], name="new"))
    assert w.commit().inserted == 2
    got = read_back(catalog, ident)
    assert got.equals(rows([100, 101], name="new"))


def test_upsert_reports_exact_inserted_and_updated(catalog, namespace):
    ident = f"{namespace}.dim"
    w = IcebergTableWriter(catalog, ident, mode="append", schema=SCHEMA)
    w.write(rows(range(10)))
    w.commit()
    w = IcebergTableWriter(catalog, ident, mode="upsert", primary_key=["id"], schema=SCHEMA, chunk_bytes=1)
    w.write(rows([8, 9, 10, 11], name="up", amount=2))
    w.write(rows([11, 12], name="last", amount=3))  # a repeated key: the last row wins
    result = w.commit()
    assert (result.inserted, result.updated) == (3, 2)
    got = read_back(catalog, ident)
    assert got.column("id").to_pylist() == list(range(13))
    by_id = {r["id"]: r for r in got.to_pylist()}
    assert by_id[0]["name"] == "v0" and by_id[9]["name"] == "up9" and by_id[11]["name"] == "last11"


def test_a_commit_token_lets_a_retry_find_the_commit_and_its_counts(catalog, namespace):
    """A caller that lost a commit's answer finds it by its token, with the exact counts, and does not
    commit again (an upsert retried blindly would report every row as inserted)."""
    ident = f"{namespace}.tokens"
    w = IcebergTableWriter(catalog, ident, mode="append", schema=SCHEMA, commit_token="run-1/0")
    w.write(rows(range(4)))
    w.commit()
    w = IcebergTableWriter(catalog, ident, mode="upsert", primary_key=["id"], commit_token="run-2/0")
    w.write(rows([2, 3, 4], name="up"))
    w.commit()
    table = catalog.load_table(ident)
    first, second = (IcebergTableWriter.find_commit(table, t) for t in ("run-1/0", "run-2/0"))
    assert first is not None and (first.inserted, first.updated) == (4, 0)
    assert second is not None and (second.inserted, second.updated) == (1, 2)
    assert IcebergTableWriter.find_commit(table, "run-3/0") is None
    assert read_back(catalog, ident).column("id").to_pylist() == [0, 1, 2, 3, 4]


def test_crash_before_commit_leaves_table_unchanged(catalog, namespace):
    ident = f"{namespace}.safe"
    w = IcebergTableWriter(catalog, ident, mode="append", schema=SCHEMA)
    w.write(rows(range(3)))
    w.commit()
    before = catalog.load_table(ident).current_snapshot().snapshot_id

    crashed = IcebergTableWriter(catalog, ident, mode="overwrite", schema=SCHEMA, chunk_bytes=1)
    crashed.write(rows(range(50, 60)))  # data files staged, then the process "dies": no commit
    del crashed
    assert catalog.load_table(ident).current_snapshot().snapshot_id == before
    assert read_back(catalog, ident).equals(rows(range(3)))


def test_failed_commit_raises_and_leaves_table_unchanged(catalog, namespace, monkeypatch):
    ident = f"{namespace}.failing"
    w = IcebergTableWriter(catalog, ident, mode="append", schema=SCHEMA)
    w.write(rows(range(3)))
    w.commit()
    w = IcebergTableWriter(catalog, ident, mode="upsert", primary_key=["id"], schema=SCHEMA)
    w.write(rows(range(2, 6)))

    def boom(*args, **kwargs):
        raise RuntimeError("catalog unreachable")

    monkeypatch.setattr(type(catalog), "commit_table", boom)
    with pytest.raises(CommitError, match="table unchanged"):
        w.commit()
    monkeypatch.undo()
    assert read_back(catalog, ident).equals(rows(range(3)))


def test_a_commit_whose_answer_is_lost_keeps_its_files(catalog, namespace, monkeypatch):
    """The catalog takes the commit, then the call fails: with a token the writer finds the commit and
    answers its counts; without one it says the outcome is unknown. Either way no file the table now
    references is deleted, so the table reads back whole."""
    real = type(catalog).commit_table

    def lost_answer(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise RuntimeError("connection reset after the commit")

    for token in ("run-lost/0", None):
        ident = f"{namespace}.lost_{'token' if token else 'none'}"
        w = IcebergTableWriter(catalog, ident, mode="append", schema=SCHEMA)
        w.write(rows(range(3)))
        w.commit()
        w = IcebergTableWriter(catalog, ident, mode="upsert", primary_key=["id"], commit_token=token)
        w.write(rows(range(2, 6), name="up"))
        monkeypatch.setattr(type(catalog), "commit_table", lost_answer)
        if token:
            result = w.commit()
            assert (result.inserted, result.updated) == (3, 1)
        else:
            with pytest.raises(CommitError, match="may hold it; its files are kept"):
                w.commit()
        monkeypatch.undo()
        got = read_back(catalog, ident)
        assert got.column("id").to_pylist() == list(range(6))
        assert got.column("name").to_pylist()[2:] == ["up2", "up3", "up4", "up5"]


def test_ingest_csv_from_s3_into_iceberg(catalog, namespace, s3fs, lake_bucket, tmp_path):
    key = f"{lake_bucket}/in/{namespace}.csv"
    with s3fs.open_output_stream(key) as out:
        out.write(b"id,name,amount\n1,a,1.5\n2,b,oops\n3,c,2.5\n")
    src = open_source(f"s3://{key}", filesystem=s3fs)
    ident = f"{namespace}.from_s3"
    w = IcebergTableWriter(catalog, ident, mode="upsert", primary_key=["id"], schema=SCHEMA)
    fs = ingest_file(src, SCHEMA, w)
    result = w.commit()
    table = TableStats(ident).add(fs).apply_commit(result.inserted, result.updated)
    assert table.to_dict() | {"files": None, "duration_ms": 0} == {
        "table": ident, "files": None, "read": 3, "inserted": 2, "updated": 0, "deleted": 0, "rejected": 1,
        "errors": 0, "bytes": src.size, "duration_ms": 0, "committed": True,
    }  # fmt: skip
    assert read_back(catalog, ident).column("name").to_pylist() == ["a", "c"]
