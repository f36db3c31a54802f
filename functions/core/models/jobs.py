"""Jobs and their runs: create/update bodies, job and run answers, and the application and ingest-job
dialects' bodies."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .common import Name, Strict
from .connectors import ConfigBody, ConnectorTypeName, ConnectorVersion

ColumnName = Annotated[str, Field(min_length=1, max_length=256)]
Frequency = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        description="manual, a 5-field cron, N-minutes|hours|days|weeks|months, rate(...) or cron(...)",
    ),
]


class JobConnectorIn(Strict):
    """A source or destination by name: an existing one is reused (its type and version must match);
    a new one is created from `type`, `version` and `config`."""

    name: Name
    type: ConnectorTypeName | None = None
    version: ConnectorVersion | None = None
    config: ConfigBody | None = None


class StreamColumnIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: ColumnName
    type: Annotated[str, Field(min_length=1, max_length=64)]


class StreamIn(BaseModel):
    """One stream of a job; discovery's extra fields (format, file_count...) are accepted and dropped."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    stream_name: Annotated[str, Field(min_length=1, max_length=256)]
    namespace: Annotated[str | None, Field(max_length=256)] = None
    columns: Annotated[list[StreamColumnIn] | None, Field(max_length=2000)] = None
    selected: bool = True
    sync_mode: Literal["full_refresh", "incremental", "cdc"] = Field(
        "full_refresh", description="cdc: a database source's changes applied by key (an iceberg destination)"
    )
    destination_sync_mode: Literal["append", "overwrite", "upsert"] = "append"
    primary_key: Annotated[list[ColumnName], Field(max_length=32)] = []
    cursor_field: ColumnName | None = None


class StreamsConfigIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    streams: Annotated[list[StreamIn], Field(min_length=1, max_length=100)]


def _streams_from_text(value: Any) -> Any:
    """olake sends streams_config as a JSON string; an object is taken as is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("streams_config is not valid JSON") from None
    return value


class JobCreate(Strict):
    name: Name
    source: JobConnectorIn
    destination: JobConnectorIn
    streams_config: StreamsConfigIn | None = Field(
        None, description="The streams to sync (an object or its JSON text); default: every discovered stream"
    )
    frequency: Frequency = "manual"
    activate: bool = True

    _streams = field_validator("streams_config", mode="before")(_streams_from_text)


class JobUpdate(Strict):
    """Any subset of a job's fields."""

    name: Name | None = None
    source: JobConnectorIn | None = None
    destination: JobConnectorIn | None = None
    streams_config: StreamsConfigIn | None = None
    frequency: Frequency | None = None
    activate: bool | None = None

    _streams = field_validator("streams_config", mode="before")(_streams_from_text)


class JobActivate(Strict):
    activate: bool = True


class JobConnectorOut(BaseModel):
    id: str
    name: str
    type: str | None = None
    version: str | None = None
    config: dict[str, Any] = Field(default_factory=dict, description="The connector's config; secrets masked")


class JobStreamOut(BaseModel):
    stream_name: str
    namespace: str | None = None
    columns: list[dict[str, Any]] = []
    selected: bool
    sync_mode: str
    destination_sync_mode: str
    primary_key: list[str]
    cursor_field: str | None = None


class JobStreamsOut(BaseModel):
    streams: list[JobStreamOut]


class JobOut(BaseModel):
    id: str
    name: str
    source: JobConnectorOut
    destination: JobConnectorOut
    streams_config: JobStreamsOut
    frequency: str
    schedule_expression: str = Field(description="`manual` or the EventBridge Scheduler expression")
    activate: bool
    current_run_id: str | None = None
    last_run_id: str | None = None
    last_run_time: str | None = None
    last_run_state: str | None = None
    created_by: str
    updated_by: str
    created_at: str
    updated_at: str


# ---------------------------------------------------------------- runs (tasks)


class RunStats(BaseModel):
    read: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rejected: int = 0
    errors: int = 0
    bytes: int = 0
    duration_ms: int = 0


class RunFileOut(BaseModel):
    """One file a run read (GET .../task/{id}/files): its table and counts."""

    file_id: str
    name: str | None = None
    table_name: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    errors: int = 0
    bytes: int = 0
    message: str = Field("", description="Why the file could not be read, when it could not")


class RunTableOut(BaseModel):
    """A run's counts for one table; its files are on GET .../task/{id}/files?table=<table_name>."""

    table_name: str
    stream: str | None = None
    state: str | None = None
    read: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = Field(0, description="Rows removed by key (a cdc run's deletes and truncates)")
    rejected: int = 0
    errors: int = 0
    started_at: str | None = None
    ended_at: str | None = None
    file_count: int = Field(
        0, description="Files (or, for a database, work units) the run read for this table"
    )
    lag_bytes: int | None = Field(
        None, description="cdc: WAL bytes the replication slot had not confirmed when the run was planned"
    )


class RunOut(BaseModel):
    """A run (a task, an ingest job): `id`, `start_time`, `runtime` and `status` as the seed document has
    them, plus its counts per table (summaries only: a run's answer does not grow with its files)."""

    id: str
    start_time: str | None = None
    runtime: int = Field(description="Milliseconds from start to end (to now while it runs)")
    status: str = Field(description="queued | running | succeeded | failed | cancelled")
    job_id: str | None = None
    job_name: str | None = None
    state: str = Field(description="The same as status")
    trigger: str | None = None
    started_by: str | None = None
    end_time: str | None = None
    runtime_ms: int | None = Field(None, description="runtime once the run has ended, else null")
    error: str | None = None
    stats: RunStats | None = None
    tables: list[RunTableOut] = []


class RunLogLine(BaseModel):
    """One log event of a run."""

    model_config = ConfigDict(extra="allow")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    time: str
    message: str
    stream: str | None = None
    file: str | None = None


class TaskLogs(BaseModel):
    """`data` of GET .../task/{id}/logs: one page of the run's log events (next_cursor beside data)."""

    task_logs: list[RunLogLine]


class TaskLogsPage(BaseModel):
    success: bool = True
    message: str
    data: TaskLogs
    next_cursor: str | None


# ---------------------------------------------------------------- application dialect (Gathr)

AppType = Annotated[str, Field(min_length=1, max_length=32, description="ingestion or etl (any case)")]


class ApplicationAction(BaseModel):
    """start and stop: which application (a job, by name)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    name: Name
    appType: AppType
    projectName: Name | None = None
    groupName: Annotated[str | None, Field(max_length=256)] = None


class ApplicationUpdate(ApplicationAction):
    """update: the S3 source's bucket and file list; for etl, `componentId` names the source connector."""

    bucketName: Annotated[
        str | None,
        Field(
            min_length=3,
            max_length=63,
            pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            description="The S3 bucket the source reads",
        ),
    ] = None
    filename: Annotated[
        list[Annotated[str, Field(max_length=10240)]] | None,
        Field(max_length=100, description="File keys; an item may itself be a comma-separated list"),
    ] = None
    componentId: Annotated[str | None, Field(min_length=1, max_length=256)] = None


class ApplicationAnswer(BaseModel):
    message: str
    status: Literal["Success", "Error"]


ApplicationState = Literal["STOPPED", "STARTING", "RUNNING", "ERROR"]


class ApplicationStatus(BaseModel):
    """GET /api/v1/application/status/<appType>/<appName>."""

    application_status: ApplicationState
    status: Literal["Success"] = "Success"


# ---------------------------------------------------------------- ingest-job dialect (Amperity)


class IngestFile(BaseModel):
    file_id: str
    name: str | None
    read: int
    errors: int


class IngestTable(BaseModel):
    table_name: str
    feed_id: str
    job_id: str
    state: str
    read: int
    inserted: int
    updated: int
    deleted: int = Field(0, description="Rows removed by key (a database source's cdc run)")
    rejected: int
    errors: int
    started_at: str | None
    ended_at: str | None
    files: list[IngestFile] = Field(
        description="The table's first files (at most 100, and fewer when the answer would pass 4 MiB); "
        "all of them: GET /api/v1/project/{projectid}/jobs/{jobid}/task/{id}/files?table=<table_name> "
        "(a job run) or GET /api/v1/project/{projectid}/syncs/{sync_id}/files (an upload sync)"
    )
    file_count: int = Field(description="All the files of the table (`files` may hold fewer)")


class IngestJob(BaseModel):
    id: str
    workflow_id: str
    tables: list[IngestTable]


class IngestError(BaseModel):
    message: str


class ApplicationError(BaseModel):
    message: str
    status: Literal["Error"] = "Error"
