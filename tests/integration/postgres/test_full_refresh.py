"""Full refresh: tables split into key ranges or ctid page ranges that cover every row exactly once,
read in bounded blocks; a unit read twice (a retry) yields the same rows."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from functions.engine.plugins import SourceError, WorkUnit
from functions.engine.plugins.postgres import reader
from tests.integration.postgres.helpers import plan_one, read_plan, request

ROWS = 20_000


@pytest.fixture(scope="module")
def tables(db):
    db.sql(
        "CREATE TABLE keyed (id bigint PRIMARY KEY, name text, amount numeric(10,2))",
        f"INSERT INTO keyed SELECT i, 'n' || i, i / 100.0 FROM generate_series(1, {ROWS}) i",
        "CREATE TABLE pairs (a int, b text, v int, PRIMARY KEY (a, b))",
        "INSERT INTO pairs SELECT i % 7, 'k' || i, i FROM generate_series(1, 5000) i",
        "CREATE TABLE heap (name text, n int)",  # no key: ctid page ranges
        f"INSERT INTO heap SELECT 'row ' || i, i FROM generate_series(1, {ROWS}) i",
        "CREATE VIEW big_keyed AS SELECT * FROM keyed WHERE id > 10",
        "ANALYZE",
    )
    return db


def _ids(table, column):
    return sorted(table.column(column).to_pylist())


def test_a_table_bigger_than_one_unit_is_split_by_key_ranges(tables, source, monkeypatch):
    src = source(chunk_size=3000)
    plan = plan_one(src, request("keyed"))
    assert (
        len(plan.units) >= 5
        and plan.units[0].spec["key_from"] is None
        and plan.units[-1].spec["key_to"] is None
    )
    starts = [int(u.spec["key_from"][0]) for u in plan.units[1:]]
    assert starts == sorted(starts)  # bounds ordered as the key's type (bigint), not as text
    monkeypatch.setattr(reader, "BLOCK_BYTES", 64 << 10)  # many blocks per unit: memory is bounded by a block
    table, rejects = read_plan(src, plan)
    assert not rejects and _ids(table, "id") == list(range(1, ROWS + 1))  # every row exactly once


def test_composite_keys_split_as_rows(tables, source):
    src = source(chunk_size=1000)
    plan = plan_one(src, request("pairs"))
    assert len(plan.units) >= 3 and len(plan.units[1].spec["key_from"]) == 2
    table, _ = read_plan(src, plan)
    assert _ids(table, "v") == list(range(1, 5001))


def test_a_table_without_a_key_is_split_by_ctid_pages(tables, source):
    src = source(chunk_size=4000)
    plan = plan_one(src, request("heap"))
    assert plan.primary_key == [] and len(plan.units) >= 4
    assert plan.units[0].spec["pages"][0] == 0 and plan.units[-1].spec["pages"][1] is None
    tables.sql(
        "INSERT INTO heap SELECT 'late ' || i, i FROM generate_series(20001, 20100) i"
    )  # after the plan
    table, _ = read_plan(src, plan)
    assert _ids(table, "n") == list(range(1, ROWS + 101))  # the open last range reads rows added since
    tables.sql("DELETE FROM heap WHERE n > 20000")


def test_a_view_is_one_unit(tables, source):
    src = source(chunk_size=1000)
    plan = plan_one(src, request("big_keyed"))
    assert len(plan.units) == 1
    table, _ = read_plan(src, plan)
    assert table.num_rows == ROWS - 10


def test_a_retried_unit_yields_the_same_rows(tables, source):
    src = source(chunk_size=3000)
    plan = plan_one(src, request("keyed"))
    unit = plan.units[2]
    again = WorkUnit.model_validate_json(unit.model_dump_json())  # as it travels through Step Functions
    first = [b for b in src.read(unit)]
    stopped = src.read(unit)
    next(stopped)
    stopped.close()  # a crash mid-unit: the COPY is cancelled, nothing is kept
    second = [b for b in src.read(again)]
    ids = lambda batches: sorted(i for b in batches for i in b.column("id").to_pylist())  # noqa: E731
    assert ids(first) == ids(second) and len(ids(first)) > 0
    total = sum(pc.sum(b.column("amount")).as_py() for b in second)
    assert total == sum(pc.sum(b.column("amount")).as_py() for b in first)


def test_a_column_dropped_after_the_plan_fails_the_unit_clearly(tables, source):
    tables.sql(
        "CREATE TABLE shrinking (id int PRIMARY KEY, gone text)", "INSERT INTO shrinking VALUES (1, 'x')"
    )
    src = source()
    plan = plan_one(src, request("shrinking"))
    tables.sql("ALTER TABLE shrinking DROP COLUMN gone")
    with pytest.raises(SourceError, match="column 'gone' no longer exists"):
        list(src.read(plan.units[0]))


def test_unknown_streams_and_modes_are_refused_at_plan_time(tables, source):
    src = source()
    with pytest.raises(SourceError, match="no such table"):
        plan_one(src, request("nope"))
    with pytest.raises(SourceError, match="cdc is not supported.*no replication_slot"):
        plan_one(src, request("keyed", "cdc"))
    with pytest.raises(SourceError, match="not one of the source's schemas"):
        plan_one(src, request("keyed", namespace="other"))
