"""What a CDC run's change rows come to when applied by key (functions.engine.changes.net_changes); the
commit itself runs against a real catalog in tests/integration/postgres/test_jobs.py."""

from __future__ import annotations

import pyarrow as pa

from functions.engine.changes import net_changes


def _changes(*rows: tuple) -> pa.Table:
    ids, names, ops = zip(*rows, strict=True) if rows else ((), (), ())
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "name": pa.array(names, pa.string()),
            "_op": pa.array(ops, pa.string()),
            "_lsn": pa.array(range(len(ops)), pa.int64()),
        }
    )


def test_the_last_change_of_each_key_wins_in_commit_order():
    upserts, deletes, truncated = net_changes(
        _changes(
            (1, "a", "insert"),
            (2, "b", "insert"),
            (1, "a2", "update"),
            (3, None, "delete"),
            (2, None, "delete"),
            (4, "d", "insert"),
            (3, "c", "insert"),
        ),  # fmt: skip
        ["id"],
    )
    assert not truncated
    assert sorted(upserts.to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "name": "a2"}, {"id": 3, "name": "c"}, {"id": 4, "name": "d"},
    ]  # fmt: skip
    assert deletes.to_pylist() == [{"id": 2}]
    assert upserts.column_names == ["id", "name"]  # _op and _lsn are not columns of the table


def test_a_truncate_empties_the_table_and_only_later_changes_are_applied():
    upserts, deletes, truncated = net_changes(
        _changes((1, "a", "insert"), (None, None, "truncate"), (2, "b", "insert"), (5, None, "delete")),
        ["id"],
    )
    assert truncated
    assert upserts.to_pylist() == [{"id": 2, "name": "b"}]
    assert deletes.to_pylist() == [{"id": 5}]


def test_no_changes_come_to_nothing():
    upserts, deletes, truncated = net_changes(_changes(), ["id"])
    assert (upserts.num_rows, deletes.num_rows, truncated) == (0, 0, False)
