"""The source-plugin interface (docs/postgres.md): every source type, files or a database, is read by the
same three calls, so the workflow plans, runs and commits them alike.

- ``discover() -> list[Stream]``: the streams, their columns (engine type strings, see
  :mod:`functions.engine.schema`), primary keys, cursor candidates and supported sync modes; a column
  whose type cannot be mapped is listed in ``Stream.unsupported`` with the reason, never read.
- ``plan(requests, state) -> list[StreamPlan]``: for each selected stream, its work units (each sized to
  fit one Lambda run) and the state to save once its table is committed.
- ``read(unit, on_reject=None) -> Iterator[pyarrow.RecordBatch]``: the unit's rows, in bounded memory,
  in the stream plan's ``columns``; a row with a value that does not fit its column goes to
  ``on_reject`` instead. Reading a unit twice yields the same rows (a retried unit never double counts).
- ``acknowledge(state)``: called only after the commit that saved ``state``; a source that keeps a
  position on its side (a replication slot) moves it there. A crash before it replays, never loses.

A plugin may also offer ``ingest(unit, schema, sink, rejects)``, a faster path than batches where its
reader can write straight into the destination's writer (files: :mod:`.files`); the workflow takes it when
it is there. The registry of source types is the connector types' ``plugin`` builders
(functions.core.connectors) and the workflow's (functions.workflow.targets.source_plugin).

Units, plans and state are JSON (pydantic models): they travel through Step Functions and S3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from ..errors import EngineError

SyncMode = Literal["full_refresh", "incremental", "cdc"]
# Change rows (cdc) carry these columns after the stream's own: what happened and where in the log.
OP_COLUMN = "_op"  # insert | update | delete | truncate
LSN_COLUMN = "_lsn"  # the commit position of the change's transaction (orders changes)
StreamState = dict[str, Any]  # a plugin's own JSON per stream (a cursor, a log position)


class SourceError(EngineError):
    """A source that cannot be read as configured (refused login, missing table, bad state): retrying
    does not help. A failure that may pass raises :class:`~functions.engine.errors.SourceUnavailableError`."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnInfo(_Model):
    name: str
    type: str  # an engine type string: int64, decimal(10,2), timestamptz, list<int32>, ...
    source_type: str  # the source's own spelling (numeric(10,2), timestamp with time zone, int4[])
    nullable: bool = True


class UnsupportedColumn(_Model):
    name: str
    source_type: str
    reason: str


class Stream(_Model):
    """One discovered stream (a table, a view, a folder of files)."""

    namespace: str
    name: str
    kind: str = "table"
    columns: list[ColumnInfo]
    primary_key: list[str] = Field(default_factory=list)
    cursor_candidates: list[str] = Field(default_factory=list)
    default_cursor: str | None = None
    supported_sync_modes: list[SyncMode] = Field(default_factory=lambda: list[SyncMode](["full_refresh"]))
    unsupported: list[UnsupportedColumn] = Field(default_factory=list)
    estimated_rows: int | None = None

    @property
    def id(self) -> str:
        return f"{self.namespace}.{self.name}"


class StreamRequest(_Model):
    """A selected stream as a job configures it. ``columns`` are the job's own (``{"name", "type"}``, a
    file stream's declared schema); empty, the source's. A source without namespaces (files) ignores
    ``namespace``."""

    namespace: str = ""
    name: str
    sync_mode: SyncMode = "full_refresh"
    cursor_field: str | None = None
    primary_key: list[str] = Field(default_factory=list)
    columns: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.namespace}.{self.name}"


class WorkUnit(_Model):
    """One piece of one stream, read by one task; ``spec`` is the plugin's own (bounds, positions)."""

    stream: str  # Stream.id
    sync_mode: SyncMode
    index: int
    count: int
    spec: dict[str, Any] = Field(default_factory=dict)


class StreamPlan(_Model):
    """A stream's units, the columns they yield, and the state to save with the commit."""

    stream: str
    sync_mode: SyncMode
    columns: list[ColumnInfo]
    primary_key: list[str] = Field(default_factory=list)
    units: list[WorkUnit]
    next_state: StreamState | None = None  # None: keep the saved state
    snapshot: bool = False  # cdc: this run loads a snapshot (overwrite), later runs apply changes
    lag_bytes: int | None = None  # cdc: how far behind the source's log position was when planned
    notes: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Reject:
    """A row that could not be read as its columns' types: where it is, why, and its raw values."""

    stream: str
    position: str  # the row's key, or its place in the unit
    reason: str
    record: str  # the raw values as JSON text


RejectSink = Callable[[Reject], None]


class SourcePlugin(Protocol):
    """What a source type implements (see the module's docstring)."""

    def discover(self) -> list[Stream]: ...

    def plan(self, requests: list[StreamRequest], state: dict[str, StreamState]) -> list[StreamPlan]: ...

    def read(self, unit: WorkUnit, on_reject: RejectSink | None = None) -> Iterator[pa.RecordBatch]: ...

    def acknowledge(self, plans: list[StreamPlan]) -> None: ...
