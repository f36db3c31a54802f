"""Work units of a table and the SQL that reads one.

- Full refresh: a table over ``UNIT_BYTES`` of heap (or ``chunk_size`` rows) is split into primary-key
  ranges ``[from, to)`` (bounds sampled with ``TABLESAMPLE``, any key type, composite keys compared as
  rows), or, without a key, into ``ctid`` page ranges (PostgreSQL 14+ reads those with a TID range scan).
  The first range has no lower bound and the last no upper one, so rows added after the plan are read
  too, and the ranges cover every row exactly once. Views and partitioned tables without a key are one
  unit.
- Incremental: the rows in a window of the cursor: ``(cursor, key) > after AND (cursor, key) <= upto``
  where ``upto`` is the greatest ``(cursor, key)`` when the run was planned. The key breaks ties, so a
  run that stops among rows sharing one cursor value neither loses nor repeats any of them; without a
  key the window is on the cursor alone. The first run (no saved position) is split like a full refresh.
- Each unit is one ``COPY (SELECT ...)``: one statement, one snapshot.
"""

from __future__ import annotations

import math
from typing import Any

from .catalog import Relation, quote_ident

UNIT_BYTES = 256 << 20  # heap bytes per full-refresh unit: ~2 M rows of 15 columns, well within 15 minutes
SAMPLE_KEYS_PER_UNIT = 64


def unit_count(conn: Any, rel: Relation, chunk_rows: int | None) -> int:
    """How many units the table needs (1 for views and small tables)."""
    if rel.relkind not in ("r", "m", "p"):
        return 1
    size = int(conn.execute("SELECT pg_total_relation_size(%s::oid)", [rel.oid]).fetchone()[0] or 0)
    if chunk_rows:
        rows = rel.estimated_rows
        if rows <= 0 and size > 0:  # never analyzed: count it
            rows = int(conn.execute(f"SELECT count(*) FROM {rel.qualified}").fetchone()[0])  # noqa: S608
        return max(1, math.ceil(rows / chunk_rows))
    return max(1, math.ceil(size / UNIT_BYTES))


def split(conn: Any, rel: Relation, count: int) -> list[dict[str, Any]]:
    """The specs of ``count`` units covering the table (fewer when the key has fewer distinct values)."""
    if count <= 1:
        return [{}]
    if rel.primary_key:
        bounds = key_bounds(conn, rel, count)
        edges: list[list[str] | None] = [None, *bounds, None]
        return [{"key_from": edges[i], "key_to": edges[i + 1]} for i in range(len(edges) - 1)]
    if rel.relkind in ("r", "m"):
        pages = int(
            conn.execute(
                "SELECT pg_relation_size(%s::oid) / current_setting('block_size')::int", [rel.oid]
            ).fetchone()[0]
        )
        step = max(1, math.ceil(pages / count))
        starts = list(range(0, max(pages, 1), step))
        return [
            {"pages": [start, starts[i + 1] if i + 1 < len(starts) else None]}
            for i, start in enumerate(starts)
        ]
    return [{}]


def key_bounds(conn: Any, rel: Relation, count: int) -> list[list[str]]:
    """``count - 1`` increasing key values that cut the table into about equal parts (from a sample)."""
    keys = ", ".join(quote_ident(k) for k in rel.primary_key)
    as_text = _as_text(rel.primary_key)
    rows = max(rel.estimated_rows, 1)
    percent = min(100.0, max(0.01, 100.0 * count * SAMPLE_KEYS_PER_UNIT / rows))
    sample = conn.execute(
        f"SELECT {as_text} FROM {rel.qualified} TABLESAMPLE SYSTEM (%s) REPEATABLE (42) ORDER BY {keys}",  # noqa: S608
        [percent],
    ).fetchall()
    if len(sample) < count:
        sample = conn.execute(f"SELECT {as_text} FROM {rel.qualified} ORDER BY {keys}").fetchall()  # noqa: S608
    bounds: list[list[str]] = []
    for i in range(1, count):
        value = list(sample[i * len(sample) // count]) if sample else None
        if value is not None and (not bounds or value != bounds[-1]):
            bounds.append(value)
    return bounds


def _as_text(columns: list[str]) -> str:
    """The columns as text under other names: ORDER BY a column's own name must sort by its type."""
    return ", ".join(f"{quote_ident(c)}::text AS _k{i}" for i, c in enumerate(columns))


# ---------------------------------------------------------------- the SQL of a unit


def _row(columns: list[str]) -> str:
    return "(" + ", ".join(quote_ident(c) for c in columns) + ")"


def _values(conn: Any, values: list[Any]) -> str:
    from psycopg import sql

    return "(" + ", ".join(sql.Literal(v).as_string(conn) for v in values) + ")"


def predicates(conn: Any, rel: Relation, spec: dict[str, Any]) -> list[str]:
    """The WHERE conditions of a unit's spec (key range, page range, cursor window)."""
    out = []
    key = rel.primary_key
    if spec.get("key_from") is not None:
        out.append(f"{_row(key)} >= {_values(conn, spec['key_from'])}")
    if spec.get("key_to") is not None:
        out.append(f"{_row(key)} < {_values(conn, spec['key_to'])}")
    if "pages" in spec:
        start, end = spec["pages"]
        out.append(f"ctid >= '({int(start)},0)'::tid")
        if end is not None:
            out.append(f"ctid < '({int(end)},0)'::tid")
    window = spec.get("window")
    if window:
        order = [window["cursor"], *window.get("key", [])]
        if window.get("after") is not None:
            out.append(f"{_row(order)} > {_values(conn, window['after'])}")
        out.append(f"{_row(order)} <= {_values(conn, window['upto'])}")
    return out


def select_sql(conn: Any, rel: Relation, columns: list[str], spec: dict[str, Any]) -> str:
    where = predicates(conn, rel, spec)
    cols = ", ".join(quote_ident(c) for c in columns)
    return f"SELECT {cols} FROM {rel.qualified}" + (" WHERE " + " AND ".join(where) if where else "")  # noqa: S608


def copy_sql(conn: Any, rel: Relation, columns: list[str], spec: dict[str, Any]) -> bytes:
    return f"COPY ({select_sql(conn, rel, columns, spec)}) TO STDOUT (FORMAT csv)".encode()


def window_upto(conn: Any, rel: Relation, cursor: str, after: list[Any] | None) -> list[str] | None:
    """The greatest ``(cursor, key)`` above ``after`` now, as text; None when nothing is new."""
    order = [cursor, *rel.primary_key]
    where = [f"{quote_ident(cursor)} IS NOT NULL"]
    if after is not None:
        where.append(f"{_row(order)} > {_values(conn, after)}")
    desc = ", ".join(f"{quote_ident(c)} DESC" for c in order)
    as_text = _as_text(order)
    row = conn.execute(
        f"SELECT {as_text} FROM {rel.qualified} WHERE {' AND '.join(where)} ORDER BY {desc} LIMIT 1"  # noqa: S608
    ).fetchone()
    return list(row) if row else None
