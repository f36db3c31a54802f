"""Incremental: a window of (cursor, key) per run, saved with the commit; rows sharing the cursor value
at the boundary are neither lost nor read twice."""

from __future__ import annotations

import pytest

from tests.integration.postgres.helpers import plan_one, read_plan, request


@pytest.fixture(scope="module")
def events(db):
    db.sql(
        "CREATE TABLE events (id int PRIMARY KEY, updated_at timestamptz NOT NULL, v text)",
        "INSERT INTO events SELECT i, '2024-01-01 00:00+00'::timestamptz + (i / 3) * interval '1 hour', 'v' || i "
        "FROM generate_series(1, 9) i",  # three rows per cursor value
        "CREATE TABLE nokey (seq int, v text)",
        "INSERT INTO nokey SELECT i, 'v' || i FROM generate_series(1, 5) i",
    )
    return db


def _run(src, name, state, cursor):
    plan = plan_one(src, request(name, "incremental", cursor), state)
    table, _ = read_plan(src, plan) if plan.units else (None, [])
    ids = sorted(table.column(0).to_pylist()) if table is not None and table.num_rows else []
    return ids, plan.next_state or state  # the state the commit would save


def test_ties_at_the_boundary_are_neither_lost_nor_repeated(events, source):
    src = source()
    ids, state = _run(src, "events", None, "updated_at")
    assert ids == list(range(1, 10)) and state["cursor"] == "updated_at" and state["key"] == ["id"]
    # new rows share the boundary's cursor value (2024-01-01 03:00, ids 9..): only they are read
    events.sql(
        "INSERT INTO events VALUES (10, '2024-01-01 03:00+00', 'tie'), (11, '2024-01-01 03:00+00', 'tie'), "
        "(12, '2024-01-01 05:00+00', 'later')"
    )
    ids, state = _run(src, "events", state, "updated_at")
    assert ids == [10, 11, 12]
    ids, same = _run(src, "events", state, "updated_at")
    assert ids == [] and same == state  # nothing new: no units, the state is kept
    events.sql("UPDATE events SET updated_at = '2024-02-01', v = 'changed' WHERE id = 2")
    ids, state = _run(src, "events", state, "updated_at")
    assert ids == [2]


def test_a_plan_that_is_not_committed_is_read_again(events, source):
    src = source()
    _, state = _run(src, "events", None, "updated_at")
    events.sql("INSERT INTO events VALUES (20, '2030-01-01', 'x')")
    first, _ = _run(src, "events", state, "updated_at")  # its commit fails: the state is not saved
    again, _ = _run(src, "events", state, "updated_at")
    assert first == again == [20]


def test_rows_changed_between_plan_and_read_wait_for_the_next_run(events, source):
    src = source()
    _, state = _run(src, "events", None, "updated_at")
    events.sql("INSERT INTO events VALUES (30, '2031-01-01', 'x')")
    plan = plan_one(src, request("events", "incremental", "updated_at"), state)
    events.sql("INSERT INTO events VALUES (31, '2031-01-01', 'y')")  # same cursor, after the plan
    table, _ = read_plan(src, plan)
    assert table.column("id").to_pylist() == [30]
    ids, _ = _run(src, "events", plan.next_state, "updated_at")
    assert ids == [31]


def test_without_a_key_the_window_is_on_the_cursor(events, source):
    src = source()
    ids, state = _run(src, "nokey", None, "seq")
    assert ids == [1, 2, 3, 4, 5] and state["key"] == []
    events.sql("INSERT INTO nokey VALUES (6, 'v6')")
    assert _run(src, "nokey", state, "seq")[0] == [6]


def test_a_changed_cursor_field_starts_over(events, source):
    src = source()
    _, state = _run(src, "events", None, "updated_at")
    ids, _ = _run(src, "events", state, "id")
    assert len(ids) == events.conn.execute("SELECT count(*) FROM events").fetchone()[0]
