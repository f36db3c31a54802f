"""The `postgres` source plugin: discover, plan, read and acknowledge (see ..base and docs/postgres.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..base import (
    ColumnInfo,
    RejectSink,
    SourceError,
    Stream,
    StreamPlan,
    StreamRequest,
    StreamState,
    WorkUnit,
)
from . import cdc, units
from .catalog import Relation, published, relations, to_stream
from .connection import ConnectionSettings, classify, connect
from .reader import copy_batches
from .types import Mapping

DISCOVERY_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class PostgresSettings:
    connection: ConnectionSettings
    schemas: list[str] = field(default_factory=lambda: ["public"])
    replication_slot: str | None = None
    publication: str | None = None
    chunk_size: int | None = None  # rows per full-refresh unit; default: by the table's size


class PostgresSource:
    """A PostgreSQL database as a source of streams (one per table or view of the chosen schemas)."""

    type = "postgres"

    def __init__(self, settings: PostgresSettings):
        self.settings = settings

    @contextmanager
    def connection(self) -> Iterator[Any]:
        import psycopg

        conn = connect(self.settings.connection)
        try:
            yield conn
        except psycopg.Error as exc:
            raise classify(exc, self.settings.connection) from None
        finally:
            conn.close()

    # ------------------------------------------------------------ discover

    def discover(self) -> list[Stream]:
        with self.connection() as conn:
            conn.execute(f"SET statement_timeout = '{DISCOVERY_TIMEOUT_MS}ms'")  # answered within an API call
            cdc_tables = published(conn, self.settings.publication)
            return [to_stream(rel, cdc_tables) for rel in relations(conn, self.settings.schemas)]

    # ------------------------------------------------------------ plan

    def plan(self, requests: list[StreamRequest], state: dict[str, StreamState]) -> list[StreamPlan]:
        with self.connection() as conn:
            return [self._plan_stream(conn, req, state.get(req.id) or {}) for req in requests]

    def _relation(self, conn: Any, namespace: str, name: str) -> Relation:
        if namespace not in self.settings.schemas:
            raise SourceError(
                f"stream {namespace}.{name}: schema {namespace!r} is not one of the source's schemas"
            )
        found = relations(conn, [namespace], name)
        if not found:
            raise SourceError(f"stream {namespace}.{name}: no such table or view (or no SELECT on it)")
        return found[0]

    def _plan_stream(self, conn: Any, req: StreamRequest, saved: StreamState) -> StreamPlan:
        rel = self._relation(conn, req.namespace, req.name)
        stream = to_stream(
            rel, published(conn, self.settings.publication) if req.sync_mode == "cdc" else set()
        )
        if req.sync_mode not in stream.supported_sync_modes:
            raise SourceError(
                f"stream {req.id}: {req.sync_mode} is not supported (it supports {', '.join(stream.supported_sync_modes)}){_why(req, stream, self.settings)}"
            )
        base: dict[str, Any] = {"columns": [[c.name, c.type] for c in stream.columns]}
        plan: dict[str, Any] = {
            "stream": req.id,
            "sync_mode": req.sync_mode,
            "columns": stream.columns,
            "primary_key": rel.primary_key,
        }
        if req.sync_mode == "full_refresh":
            specs = units.split(conn, rel, units.unit_count(conn, rel, self.settings.chunk_size))
            return StreamPlan(**plan, units=_units(req, [{**base, **s} for s in specs]), next_state={})
        if req.sync_mode == "incremental":
            return self._plan_incremental(conn, req, rel, stream, saved, base, plan)
        return self._plan_cdc(conn, req, rel, saved, base, plan)

    def _plan_incremental(
        self, conn: Any, req: StreamRequest, rel: Relation, stream: Stream, saved: StreamState,
        base: dict[str, Any], plan: dict[str, Any],
    ) -> StreamPlan:  # fmt: skip
        cursor = req.cursor_field or stream.default_cursor
        if cursor not in stream.cursor_candidates:
            raise SourceError(
                f"stream {req.id}: cursor_field {cursor!r} is not one of {stream.cursor_candidates}"
            )
        key = rel.primary_key
        after = saved.get("position") if saved.get("cursor") == cursor and saved.get("key") == key else None
        upto = units.window_upto(conn, rel, cursor, after)
        if upto is None:
            return StreamPlan(**plan, units=[], notes=["no rows above the saved cursor"])
        window = {"window": {"cursor": cursor, "key": key, "after": after, "upto": upto}}
        count = 1 if after is not None else units.unit_count(conn, rel, self.settings.chunk_size)
        specs = [{**base, **s, **window} for s in units.split(conn, rel, count)]
        state = {"cursor": cursor, "key": key, "position": upto}
        return StreamPlan(**plan, units=_units(req, specs), next_state=state)

    def _plan_cdc(
        self, conn: Any, req: StreamRequest, rel: Relation, saved: StreamState, base: dict[str, Any],
        plan: dict[str, Any],
    ) -> StreamPlan:  # fmt: skip
        slot, publication = self.settings.replication_slot, self.settings.publication
        assert slot and publication  # supported_sync_modes says cdc only with both
        status = cdc.ensure_slot(conn, slot)
        lag = f"slot {slot}: {status.lag_bytes} bytes behind, {status.retained_bytes} bytes of WAL retained"
        if not saved.get("lsn"):  # the first run: a snapshot taken after the slot exists, then the slot
            specs = units.split(conn, rel, units.unit_count(conn, rel, self.settings.chunk_size))
            start = status.confirmed_flush_lsn or status.current_lsn
            return StreamPlan(**plan, units=_units(req, [{**base, **s} for s in specs]), snapshot=True,
                              next_state={"lsn": start}, notes=[lag], lag_bytes=status.lag_bytes)  # fmt: skip
        after = str(saved["lsn"])
        if status.confirmed_flush_lsn and cdc.lsn_to_int(status.confirmed_flush_lsn) > cdc.lsn_to_int(after):
            raise SourceError(
                f"stream {req.id}: slot {slot} was advanced past the saved position {after} (to "
                f"{status.confirmed_flush_lsn}) by someone else: changes are lost; run a full refresh"
            )
        upto = status.current_lsn
        spec = {**base, "cdc": {"slot": slot, "publication": publication, "after": after, "upto": upto}}
        return StreamPlan(
            **plan,
            units=_units(req, [spec]),
            next_state={"lsn": upto},
            notes=[lag],
            lag_bytes=status.lag_bytes,
        )

    # ------------------------------------------------------------ read

    def read(self, unit: WorkUnit, on_reject: RejectSink | None = None) -> Iterator[pa.RecordBatch]:
        namespace, _, name = unit.stream.partition(".")
        with self.connection() as conn:
            rel = self._relation(conn, namespace, name)
            columns, mappings = _columns(rel, unit.spec.get("columns") or [])
            schema = pa.schema([pa.field(c, m.arrow) for c, m in zip(columns, mappings, strict=True)])
            if "cdc" in unit.spec:
                yield from self._read_changes(
                    conn, rel, columns, mappings, schema, unit.spec["cdc"], on_reject
                )
                return
            query = units.copy_sql(conn, rel, columns, unit.spec)
            yield from copy_batches(conn, query, mappings, schema, rel.primary_key, rel.id, on_reject)

    def _read_changes(
        self, conn: Any, rel: Relation, columns: list[str], mappings: list[Mapping], schema: pa.Schema,
        spec: dict[str, Any], on_reject: RejectSink | None,
    ) -> Iterator[pa.RecordBatch]:  # fmt: skip
        yield from cdc.change_batches(
            conn, rel, columns, mappings, cdc.change_schema(schema), slot=spec["slot"],
            publication=spec["publication"], after_lsn=spec["after"], upto_lsn=spec["upto"],
            lookup=lambda: connect(self.settings.connection), on_reject=on_reject,
        )  # fmt: skip

    # ------------------------------------------------------------ after the commit

    def acknowledge(self, plans: list[StreamPlan]) -> None:
        """Advance the replication slot to the position the commit saved (the least of the cdc streams)."""
        slot = self.settings.replication_slot
        positions = [p.next_state["lsn"] for p in plans if p.sync_mode == "cdc" and p.next_state]
        if not slot or not positions:
            return
        with self.connection() as conn:
            cdc.advance_slot(conn, slot, min(positions, key=cdc.lsn_to_int))

    def slot_status(self) -> cdc.SlotStatus | None:
        if not self.settings.replication_slot:
            return None
        with self.connection() as conn:
            return cdc.slot_status(conn, self.settings.replication_slot)


def _units(req: StreamRequest, specs: list[dict[str, Any]]) -> list[WorkUnit]:
    return [
        WorkUnit(stream=req.id, sync_mode=req.sync_mode, index=i, count=len(specs), spec=spec)
        for i, spec in enumerate(specs)
    ]


def _columns(rel: Relation, planned: list[list[str]]) -> tuple[list[str], list[Mapping]]:
    """The planned columns and their mappings now; SourceError when one went away or changed type."""
    names, mappings = [], []
    for name, engine_type in planned:
        column = rel.column(name)
        if column is None or column.mapping is None:
            raise SourceError(f"stream {rel.id}: column {name!r} no longer exists or can no longer be read")
        if column.mapping.type != engine_type:
            raise SourceError(
                f"stream {rel.id}: column {name!r} changed type ({engine_type} -> {column.mapping.type}) since the plan"
            )
        names.append(name)
        mappings.append(column.mapping)
    if not names:
        raise SourceError(f"stream {rel.id}: the unit names no columns")
    return names, mappings


def _why(req: StreamRequest, stream: Stream, settings: PostgresSettings) -> str:
    if req.sync_mode == "cdc":
        if not (settings.replication_slot and settings.publication):
            return ": the source has no replication_slot and publication"
        if not stream.primary_key:
            return ": cdc applies changes by primary key and the table has none"
        return f": the table is not in publication {settings.publication!r}"
    return ": it has no column that can be a cursor"


__all__ = ["ColumnInfo", "PostgresSettings", "PostgresSource"]
