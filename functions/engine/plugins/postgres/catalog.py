"""Discovery: the tables and views of the chosen schemas, their columns mapped to engine types, primary
keys, cursor candidates and the sync modes each supports; straight from the system catalogs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..base import ColumnInfo, Stream, SyncMode, UnsupportedColumn
from .types import Mapping, PgType, Unmappable, map_type

CURSOR_TYPES = re.compile(r"^(int32|int64|decimal\(\d+,\d+\)|date|timestamp|timestamptz)$")
CURSOR_HINTS = ("updated_at", "modified_at", "last_modified", "updated", "modified", "changed_at", "_xmin")
KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"}

RELATIONS_SQL = """
SELECT c.oid, n.nspname, c.relname, c.relkind, greatest(c.reltuples, 0)::bigint, c.relreplident
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
  AND (%(only)s::text IS NULL OR c.relname = %(only)s) AND has_table_privilege(c.oid, 'SELECT')
ORDER BY n.nspname, c.relname
"""
COLUMNS_SQL = """
SELECT a.attrelid, a.attname, a.atttypid, a.atttypmod, a.attnotnull, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""
TYPES_SQL = """
SELECT oid, typname, typtype, typcategory, typelem, typbasetype, typtypmod, typdelim
FROM pg_type WHERE oid = ANY(%s)
"""
KEYS_SQL = """
SELECT i.indrelid, array_agg(a.attname::text ORDER BY k.ord)
FROM pg_index i CROSS JOIN unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indisprimary AND i.indrelid = ANY(%s)
GROUP BY i.indrelid
"""
PUBLICATION_SQL = "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s"


@dataclass
class Column:
    name: str
    source_type: str
    not_null: bool
    mapping: Mapping | None
    problem: str | None = None


@dataclass
class Relation:
    """A table or view as the reader needs it (discovery's Stream is its public face)."""

    oid: int
    namespace: str
    name: str
    relkind: str
    estimated_rows: int
    replica_identity: str
    columns: list[Column] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.namespace}.{self.name}"

    @property
    def qualified(self) -> str:
        return f"{quote_ident(self.namespace)}.{quote_ident(self.name)}"

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_types(conn: Any, oids: set[int]) -> dict[int, PgType]:
    """Every type of ``oids`` with domains resolved to their base type and arrays to their element."""
    rows: dict[int, tuple] = {}
    pending = set(oids)
    while pending:
        got = conn.execute(TYPES_SQL, [sorted(pending)]).fetchall()
        rows.update({row[0]: row for row in got})
        pending = {o for r in got for o in (r[4], r[5]) if o and o not in rows}
    return {oid: _pg_type(rows, oid) for oid in oids if oid in rows}


def _pg_type(rows: dict[int, tuple], oid: int, typmod: int = -1) -> PgType:
    _, name, typtype, category, elem, base, own_typmod, delim = rows[oid]
    if typtype == "d" and base in rows:  # a domain reads as its base type, with the domain's modifier
        return _pg_type(rows, base, typmod if typmod >= 0 else int(own_typmod))
    element = _pg_type(rows, elem) if category == "A" and elem in rows else None
    return PgType(oid, name, typtype, element, delim, typmod)


def relations(conn: Any, schemas: list[str], only: str | None = None) -> list[Relation]:
    """The readable tables and views of ``schemas`` with their columns and primary keys."""
    found = [
        Relation(int(oid), ns, name, kind, int(rows), ident)
        for oid, ns, name, kind, rows, ident in conn.execute(
            RELATIONS_SQL, {"schemas": schemas, "only": only}
        ).fetchall()
    ]
    if not found:
        return []
    by_oid = {r.oid: r for r in found}
    columns = conn.execute(COLUMNS_SQL, [list(by_oid)]).fetchall()
    types = load_types(conn, {int(c[2]) for c in columns})
    for relid, name, typid, typmod, not_null, spelled in columns:
        by_oid[relid].columns.append(_column(types, name, int(typid), int(typmod), not_null, spelled))
    for relid, keys in conn.execute(KEYS_SQL, [list(by_oid)]).fetchall():
        by_oid[relid].primary_key = list(keys)
    return found


def _column(
    types: dict[int, PgType], name: str, typid: int, typmod: int, not_null: bool, spelled: str
) -> Column:
    pg = types.get(typid)
    if pg is None:
        return Column(name, spelled, not_null, None, f"type {spelled} is not visible to this user")
    try:
        mapping = map_type(pg, typmod if typmod >= 0 else pg.typmod)
    except Unmappable as exc:
        return Column(name, spelled, not_null, None, str(exc))
    return Column(name, spelled, not_null, mapping)


def published(conn: Any, publication: str | None) -> set[str]:
    """The ``namespace.name`` of every table in the publication (empty without one)."""
    if not publication:
        return set()
    return {f"{s}.{t}" for s, t in conn.execute(PUBLICATION_SQL, [publication]).fetchall()}


def to_stream(rel: Relation, cdc_tables: set[str]) -> Stream:
    columns = [
        ColumnInfo(name=c.name, type=c.mapping.type, source_type=c.source_type, nullable=not c.not_null)
        for c in rel.columns
        if c.mapping is not None
    ]
    cursors = [c.name for c in columns if CURSOR_TYPES.match(c.type)]
    modes: list[SyncMode] = ["full_refresh"]
    if cursors:
        modes.append("incremental")
    if rel.relkind in ("r", "p") and rel.primary_key and rel.id in cdc_tables:
        modes.append("cdc")
    return Stream(
        namespace=rel.namespace, name=rel.name, kind=KINDS[rel.relkind], columns=columns,
        primary_key=rel.primary_key, cursor_candidates=cursors, default_cursor=suggest_cursor(columns, cursors),
        supported_sync_modes=modes, estimated_rows=rel.estimated_rows,
        unsupported=[
            UnsupportedColumn(name=c.name, source_type=c.source_type, reason=c.problem or "")
            for c in rel.columns if c.mapping is None
        ],
    )  # fmt: skip


def suggest_cursor(columns: list[ColumnInfo], cursors: list[str]) -> str | None:
    """A column that grows with each change: a known name, else a temporal one, else none."""
    lowered = {c.lower(): c for c in cursors}
    for hint in CURSOR_HINTS:
        if hint in lowered:
            return lowered[hint]
    temporal = [c.name for c in columns if c.name in cursors and c.type in ("timestamp", "timestamptz")]
    return temporal[0] if len(temporal) == 1 else None
