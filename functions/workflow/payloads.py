"""The typed documents a job run of a source plugin passes between its steps (functions.workflow.database):
the plan of each stream (in plan.json), one Map item per work unit, and a unit's result (units/<i>.json).

They travel as JSON through Step Functions and S3; pydantic checks them where they are read back.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.engine.plugins.base import StreamPlan, WorkUnit

# How a stream's units reach its table: the destination_sync_modes, and `changes` (a CDC run's change
# rows applied by key: upserts and deletes).
WriteMode = Literal["append", "overwrite", "upsert", "changes"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Destination(_Payload):
    kind: Literal["iceberg", "parquet"]
    warehouse: str | None = None  # iceberg
    identifier: list[str] = Field(default_factory=list)  # iceberg: [database, table]
    path: str | None = None  # parquet: s3://bucket/lake/.../table

    @property
    def table_id(self) -> tuple[str, str]:
        """The Iceberg table's (database, table)."""
        return self.identifier[0], self.identifier[1]

    @property
    def table_name(self) -> str:
        return self.identifier[1] if self.identifier else str(self.path).rsplit("/", 1)[-1]


class StreamEntry(_Payload):
    """One selected stream of a run: where it goes, how, and the plugin's plan for it."""

    stream_name: str
    mode: WriteMode
    destination: Destination
    primary_key: list[str] = Field(default_factory=list)  # what upsert and changes apply by
    plan: StreamPlan
    lag_bytes: int | None = None  # cdc: WAL the slot had not confirmed when the run was planned


class PlanDoc(_Payload):
    """plan.json of a plugin run."""

    source_type: str
    streams: list[StreamEntry]
    units: int
    started_at: str


class UnitItem(_Payload):
    """One Map item: which stream (its index in the plan) and the plugin's work unit."""

    index: int
    stream: int
    work: WorkUnit


class UnitStats(_Payload):
    read: int = 0
    written: int = 0
    rejected: int = 0
    duration_ms: int = 0


class UnitResult(_Payload):
    """units/<i>.json: what one unit read and staged (the staged shape is the writer's: `chunks` for
    Iceberg, `files` for Parquet and for change rows)."""

    index: int
    stream: int
    name: str
    stats: UnitStats
    staged: dict[str, Any]
    rejects: str | None = None
