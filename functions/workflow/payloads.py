"""The typed documents a job run passes between its steps (functions.workflow.plan, .units, .commit):
the step's input (the job, the run, a Map item), the plan of each stream (in plan.json), one Map item per
work unit, a unit's result (units/<i>.json) and a table's commit (commits/<stream>.json).

They travel as JSON through Step Functions and S3; pydantic checks them where they are read back.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.engine.plugins.base import StreamPlan, WorkUnit
from functions.workflow.errors import SyncError

# How a stream's units reach its table: the destination_sync_modes, and `changes` (a CDC run's change
# rows applied by key: upserts and deletes).
WriteMode = Literal["append", "overwrite", "upsert", "changes"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


Doc = TypeVar("Doc", bound=BaseModel)


def read_back(model: type[Doc], doc: Any, where: str) -> Doc:
    """A run's document read back from S3 (``where``) as ``model``. A malformed one (another version's
    shape, an edit) is a SyncError naming it: reading it again cannot help, so the run fails clearly."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        at = ".".join(str(p) for p in first["loc"]) or "the document"
        raise SyncError(
            f"the run's {where} is malformed ({exc.error_count()} problem(s); {at}: {first['msg']})"
        ) from None


class Destination(_Payload):
    kind: Literal["iceberg", "parquet"]
    warehouse: str | None = None  # iceberg
    identifier: list[str] = Field(default_factory=list)  # iceberg: [database, table]
    path: str | None = None  # parquet: s3://bucket/lake/.../table

    @property
    def table_id(self) -> tuple[str, str]:
        """The Iceberg table's (database, table)."""
        return self.identifier[0], self.identifier[1]


class StreamEntry(_Payload):
    """One selected stream of a run: where it goes, how, and the plugin's plan for it."""

    stream_name: str
    mode: WriteMode
    destination: Destination
    primary_key: list[str] = Field(default_factory=list)  # what upsert and changes apply by
    # The columns the job declares not null: only a job's own declaration makes a column required (a
    # source's NOT NULL may be dropped there later, and a CDC delete carries only the key).
    required: list[str] = Field(default_factory=list)
    plan: StreamPlan
    lag_bytes: int | None = None  # cdc: WAL the slot had not confirmed when the run was planned

    def stream_schema(self) -> Any:
        """The stream's columns as the engine's StreamSchema."""
        from functions.engine import StreamSchema

        return StreamSchema.from_list(
            [
                {"name": c.name, "type": c.type, "nullable": c.name not in self.required}
                for c in self.plan.columns
            ]
        )

    @property
    def table_name(self) -> str:
        """The table's name in the run's report: the Iceberg table's, else the stream's."""
        return self.destination.identifier[1] if self.destination.identifier else self.stream_name


class PlanDoc(_Payload):
    """plan.json of a run: its streams (their plans without units: those are in units.json)."""

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


class FileResult(_Payload):
    """One file (or piece) a unit of a files source read: its ETag as listed, its id in the run's report,
    and its counts (functions.engine.stats.FileStats as a dict)."""

    key: str
    etag: str
    file_id: str
    stats: dict[str, Any]


class UnitResult(_Payload):
    """units/<i>.json: what one unit read and staged (the staged shape is the writer's: `chunks` for
    Iceberg, `files` for Parquet and for change rows); a files source's unit also lists its files."""

    index: int
    stream: int
    name: str
    stats: UnitStats
    staged: dict[str, Any]
    rejects: str | None = None
    files: list[FileResult] = Field(default_factory=list)


class Ref(BaseModel):
    """The job or the run a step's input names; the state machine carries more keys along."""

    model_config = ConfigDict(extra="allow")


class JobRef(Ref):
    project_id: str
    job_id: str


class RunRef(Ref):
    run_id: str


class StepInput(BaseModel):
    """What Plan and Commit are given: the job, its run and the run's config (other keys pass by)."""

    model_config = ConfigDict(extra="ignore")

    job: JobRef
    run: RunRef
    config: dict[str, Any] = Field(default_factory=dict)

    @property
    def ids(self) -> tuple[str, str, str]:
        return self.job.project_id, self.job.job_id, self.run.run_id

    def base(self) -> dict[str, Any]:
        """The keys a step hands on to the next state."""
        return {"job": self.job.model_dump(), "run": self.run.model_dump(), "config": self.config}


class UnitInput(StepInput):
    """What IngestUnit is given: one Map item."""

    unit: UnitItem


class CommitRecord(_Payload):
    """commits/<stream>.json: a table's commit, recorded once (a retried Commit finds it)."""

    inserted: int
    updated: int
    deleted: int = 0
    recovered: bool = False  # a retry found the commit in the table's history (its answer was lost)
