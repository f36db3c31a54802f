"""CDC through a pgoutput slot read over SQL: snapshot first, then inserts, updates (a key change, an
unchanged TOASTed value), deletes and truncates decoded in commit order; a replay of changes whose slot
was not advanced yields nothing twice; the slot moves only when acknowledged."""

from __future__ import annotations

import pytest

from functions.engine.plugins import SourceError
from functions.engine.plugins.postgres import slot_status
from tests.integration.postgres.helpers import plan_one, read_plan, request

SLOT, PUB = "ingest_slot", "ingest_pub"
BIG = "repeat(md5(random()::text), 300)"  # ~9.6 KB, stored out of line and uncompressed below


@pytest.fixture(scope="module")
def orders(db):
    db.sql(
        "CREATE TABLE orders (id int PRIMARY KEY, status text, amount numeric(8,2), notes text)",
        "ALTER TABLE orders ALTER COLUMN notes SET STORAGE EXTERNAL",
        f"INSERT INTO orders SELECT i, 'new', i * 1.5, CASE WHEN i = 1 THEN {BIG} END FROM generate_series(1, 5) i",
        "CREATE TABLE other (id int PRIMARY KEY)",
        f"CREATE PUBLICATION {PUB} FOR TABLE orders, other",
    )
    return db


def _changes(src, state):
    plan = plan_one(src, request("orders", "cdc"), state)
    table, rejects = read_plan(src, plan)
    assert not rejects
    rows = table.to_pylist() if table.num_rows else []
    return plan, [(r["_op"], r["id"], r["status"]) for r in rows], rows


def test_snapshot_then_changes_then_replay(orders, source):
    src = source(slot=SLOT, publication=PUB)
    assert "cdc" in next(s for s in src.discover() if s.name == "orders").supported_sync_modes
    first = plan_one(src, request("orders", "cdc"), None)
    assert first.snapshot and first.next_state and slot_status(orders.conn, SLOT) is not None
    snapshot, _ = read_plan(src, first)
    assert sorted(snapshot.column("id").to_pylist()) == [1, 2, 3, 4, 5]
    src.acknowledge([first])
    state = first.next_state

    orders.sql(
        "INSERT INTO orders VALUES (6, 'new', 9.00, NULL), (7, 'new', 10.50, 'n')",
        "UPDATE orders SET status = 'paid' WHERE id = 1",  # notes (TOASTed) unchanged: not sent
        "UPDATE orders SET id = 70, status = 'moved' WHERE id = 7",  # a key change
        "DELETE FROM orders WHERE id = 2",
        "INSERT INTO other VALUES (1)",  # another table of the publication: not this stream's
    )
    plan, changes, rows = _changes(src, state)
    assert not plan.snapshot and len(plan.units) == 1
    assert changes == [
        ("insert", 6, "new"), ("insert", 7, "new"), ("update", 1, "paid"),
        ("delete", 7, None), ("update", 70, "moved"), ("delete", 2, None),
    ]  # fmt: skip
    updated = next(r for r in rows if r["id"] == 1)
    expected_notes = orders.conn.execute("SELECT notes FROM orders WHERE id = 1").fetchone()[0]
    assert updated["notes"] == expected_notes and len(expected_notes) > 9000  # read back by key
    lsns = [r["_lsn"] for r in rows]
    assert lsns == sorted(lsns)

    # a crash after reading, before the commit: the same unit again gives the same changes
    replay = [b for unit in plan.units for b in src.read(unit)]
    assert [(r["_op"], r["id"]) for b in replay for r in b.to_pylist()] == [(op, i) for op, i, _ in changes]

    # the commit saved plan.next_state but the process died before acknowledge: nothing is read twice
    assert slot_status(orders.conn, SLOT).confirmed_flush_lsn == state["lsn"]
    orders.sql("UPDATE orders SET amount = 1 WHERE id = 3")
    again, changes, _ = _changes(src, plan.next_state)
    assert changes == [("update", 3, "new")]
    src.acknowledge([again])
    after = slot_status(orders.conn, SLOT)
    assert after.confirmed_flush_lsn == again.next_state["lsn"]

    orders.sql("TRUNCATE orders")
    _, changes, _ = _changes(src, again.next_state)
    assert changes == [("truncate", None, None)]


def test_a_slot_moved_by_someone_else_fails_the_plan(orders, source):
    src = source(slot="moved_slot", publication=PUB)
    first = plan_one(src, request("orders", "cdc"), None)
    orders.sql("INSERT INTO orders VALUES (100, 'x', 1, NULL)")
    orders.conn.execute("SELECT pg_replication_slot_advance('moved_slot', pg_current_wal_lsn())")
    with pytest.raises(SourceError, match="advanced past the saved position"):
        plan_one(src, request("orders", "cdc"), first.next_state)


def test_slot_lag_is_reported(orders, source):
    src = source(slot="lag_slot", publication=PUB)
    plan_one(src, request("orders", "cdc"), None)
    orders.sql("INSERT INTO orders SELECT i, 'x', 1, NULL FROM generate_series(1000, 1100) i")
    status = src.slot_status()
    assert status is not None and status.lag_bytes > 0 and status.retained_bytes >= status.lag_bytes
    plan = plan_one(src, request("orders", "cdc"), {"lsn": status.confirmed_flush_lsn})
    assert any("bytes behind" in note for note in plan.notes)


def test_full_identity_key_move_nulls_schema_change_over_many_blocks(db, source):
    """Changes spanning many COPY blocks, decoded column by column: an update's unchanged TOASTed value
    taken from its old row (REPLICA IDENTITY FULL), a key move, nulls, another table's changes in
    between, and a column added midway (a new Relation message: earlier changes have it null)."""
    db.sql(
        "CREATE TABLE wide (id int PRIMARY KEY, a text, b int, notes text)",
        "ALTER TABLE wide ALTER COLUMN notes SET STORAGE EXTERNAL",
        "ALTER TABLE wide REPLICA IDENTITY FULL",
        "CREATE TABLE side (id int PRIMARY KEY)",
        "CREATE PUBLICATION wide_pub FOR TABLE wide, side",
    )
    src = source(slot="wide_slot", publication="wide_pub")
    first = plan_one(src, request("wide", "cdc"), None)
    src.acknowledge([first])
    db.sql(
        f"INSERT INTO wide SELECT i, 'a' || i, i, CASE WHEN i = 1 THEN {BIG} END FROM generate_series(1, 40000) i",
        "INSERT INTO side SELECT generate_series(1, 100)",
        "UPDATE wide SET b = -1 WHERE id = 1",  # notes unchanged: the old row (FULL) holds it
        "UPDATE wide SET id = 100002, a = 'moved' WHERE id = 2",
        "UPDATE wide SET a = NULL WHERE id = 3",
        "ALTER TABLE wide ADD COLUMN c text",
        "INSERT INTO wide VALUES (200000, 'y', 7, NULL, 'cee')",
        "DELETE FROM wide WHERE id = 4",
    )
    plan = plan_one(src, request("wide", "cdc"), first.next_state)
    table, rejects = read_plan(src, plan)
    assert not rejects and table.num_rows == 40000 + 6
    rows = table.to_pylist()
    assert [(r["_op"], r["id"]) for r in rows[:2]] == [("insert", 1), ("insert", 2)]
    assert [(r["_op"], r["id"], r["a"], r["b"], r["c"]) for r in rows[40000:]] == [
        ("update", 1, "a1", -1, None), ("delete", 2, "a2", 2, None), ("update", 100002, "moved", 2, None),
        ("update", 3, None, 3, None), ("insert", 200000, "y", 7, "cee"), ("delete", 4, "a4", 4, None),
    ]  # fmt: skip
    notes = db.conn.execute("SELECT notes FROM wide WHERE id = 1").fetchone()[0]
    assert rows[40000]["notes"] == notes == rows[0]["notes"] and len(notes) > 9000
    assert [r["a"] for r in rows[:40000]] == [f"a{i}" for i in range(1, 40001)]
    assert all(r["notes"] is None for r in rows[1:40000])
    lsns = [r["_lsn"] for r in rows]
    assert lsns == sorted(lsns)


def test_a_transaction_committed_right_at_the_planned_position_is_read_by_the_next_run(db, source):
    """A run reads the slot up to the WAL flush position it planned with; a transaction whose commit
    record starts exactly there (it was open while another one committed) is the next run's, not lost."""
    db.sql(
        "CREATE TABLE edge (id int PRIMARY KEY)",
        "CREATE PUBLICATION edge_pub FOR TABLE edge",
    )
    src = source(slot="edge_slot", publication="edge_pub")
    first = plan_one(src, request("edge", "cdc"), None)
    src.acknowledge([first])
    open_txn = db.server.connect(db.name)
    try:
        open_txn.autocommit = False
        open_txn.execute("INSERT INTO edge VALUES (1)")  # open while another transaction commits
        db.sql("INSERT INTO edge VALUES (2)")
        plan = plan_one(src, request("edge", "cdc"), first.next_state)
        open_txn.commit()  # its commit record is the next one in the WAL: at the planned position
    finally:
        open_txn.close()
    assert _edge_changes(src, plan) == [("insert", 2)]  # read after that commit: not this run's
    src.acknowledge([plan])
    assert _edge_changes(src, plan_one(src, request("edge", "cdc"), plan.next_state)) == [("insert", 1)]


def _edge_changes(src, plan):
    table, _ = read_plan(src, plan)
    return [(r["_op"], r["id"]) for r in table.to_pylist()]
