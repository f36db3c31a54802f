"""What Commit reports per table, from the units' results: exact counts per file for a files source
(pieces of one file are one file), per unit for any other source, and nothing inserted when the run
failed."""

from __future__ import annotations

from functions.engine.plugins import ColumnInfo, StreamPlan
from functions.workflow.commit import _table_entry, _table_event, _table_stats
from functions.workflow.payloads import Destination, FileResult, StreamEntry, UnitResult, UnitStats

PLAN = StreamPlan(
    stream="public.orders",
    sync_mode="cdc",
    units=[],
    columns=[ColumnInfo(name="id", type="int64", source_type="int8")],
)
ICEBERG = Destination(kind="iceberg", warehouse="s3://b/w", identifier=["db", "orders"])


def entry(**changes: object) -> StreamEntry:
    base = StreamEntry(
        stream_name="orders", mode="changes", destination=ICEBERG, primary_key=["id"], plan=PLAN
    )
    return base.model_copy(update=changes)


def file_stats(uri: str, unit: str | None, read: int, inserted: int, errors: int = 0) -> dict:
    return {
        "file": uri, "read": read, "inserted": inserted, "updated": 0, "rejected": read - inserted, "errors": errors,
        "bytes": 10, "duration_ms": 5, "error": "bad" if errors else None, "unit": unit,
    }  # fmt: skip


def unit(index: int, files: list[FileResult] | None = None, **stats: int) -> UnitResult:
    return UnitResult(
        index=index,
        stream=0,
        name=f"public.orders unit {index + 1}/2",
        stats=UnitStats(**stats),
        staged={},
        files=files or [],
    )


def test_pieces_of_one_file_are_one_file_and_a_failed_run_inserts_nothing():
    a = "s3://src/in/a.csv"
    results = [
        unit(0, [FileResult(key="in/a.csv", etag="e", file_id="fa", stats=file_stats(a, f"{a}#0", 5, 4))]),
        unit(1, [FileResult(key="in/a.csv", etag="e", file_id="fa", stats=file_stats(a, f"{a}#1", 3, 3)),
                 FileResult(key="in/b.csv", etag="e", file_id="fb", stats=file_stats("s3://src/in/b.csv", None, 0, 0, errors=1))]),
    ]  # fmt: skip
    stats = _table_stats(entry(mode="overwrite"), results)
    table = _table_entry(entry(mode="overwrite"), stats.discard(), results, "t0", "t1", failed=True)
    assert (table["read"], table["inserted"], table["rejected"], table["errors"], table["state"]) == (
        8,
        0,
        1,
        1,
        "failed",
    )
    assert [(f["file_id"], f["name"], f["read"], f["errors"]) for f in table["files"]] == [
        ("fa", "in/a.csv", 8, 0),
        ("fb", "in/b.csv", 0, 1),
    ]


def test_a_database_tables_counts_are_its_units_and_its_commits_with_the_slots_lag():
    results = [
        unit(0, read=10, written=9, rejected=1, duration_ms=7),
        unit(1, read=5, written=5, duration_ms=3),
    ]
    stats = _table_stats(entry(lag_bytes=4096), results).apply_commit(6, 5, 2)
    table = _table_entry(entry(lag_bytes=4096), stats, results, "t0", "t1", failed=False)
    counts = {
        k: table[k] for k in ("read", "inserted", "updated", "deleted", "rejected", "errors", "duration_ms")
    }
    assert counts == {
        "read": 15,
        "inserted": 6,
        "updated": 5,
        "deleted": 2,
        "rejected": 1,
        "errors": 0,
        "duration_ms": 10,
    }
    assert [f["file_id"] for f in table["files"]] == ["public.orders#0", "public.orders#1"]
    assert (table["table_name"], table["lag_bytes"], table["state"]) == ("orders", 4096, "succeeded")
    # the stream as the plan and the units name it (schema.table), in the run's tables and its log
    assert table["stream"] == "public.orders"
    assert _table_event(entry(), table, committed=True)["stream"] == "public.orders"
