"""Sources and destinations: create, update, test and discovery bodies; connector, spec and stream answers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from .common import Name, Strict

ConnectorTypeName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_-]*$")]
ConnectorVersion = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^(v[0-9]+|latest)$")]
ConfigBody = Annotated[dict[str, Any], Field(description="The type's config; see its spec")]
ObjectId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class ConnectorCreate(Strict):
    name: Name
    type: ConnectorTypeName
    version: ConnectorVersion = "v1"
    config: ConfigBody


class ConnectorUpdate(Strict):
    """Any subset; a secret sent back as the mask keeps the stored value."""

    name: Name | None = None
    type: ConnectorTypeName | None = None
    version: ConnectorVersion | None = None
    config: ConfigBody | None = None


class ConnectorTest(Strict):
    """A config to test; with `id`, masked secrets are filled from that stored connector."""

    id: ObjectId | None = None
    type: ConnectorTypeName
    version: ConnectorVersion = "v1"
    config: ConfigBody


class SpecRequest(Strict):
    type: ConnectorTypeName | None = None
    version: ConnectorVersion | None = None
    catalog: Annotated[str | None, Field(max_length=32, pattern=r"^[a-z0-9_-]+$")] = None


class StreamsRequest(Strict):
    """Discover the streams of a stored source (`source_id`) or of a config (`type`, `version`, `config`)."""

    source_id: ObjectId | None = None
    name: Name | None = None
    type: ConnectorTypeName = "s3"
    version: ConnectorVersion = "v1"
    config: ConfigBody | None = None
    job_id: ObjectId | None = None
    job_name: Name | None = None


class ConnectorJob(BaseModel):
    id: str
    name: str
    activate: bool
    last_run_time: str | None = None
    last_run_state: str | None = None
    source_name: str | None = None
    dest_name: str | None = None


class ConnectorOut(BaseModel):
    id: str
    name: str
    type: str
    version: str
    config: dict[str, Any] = Field(description="Secret fields are masked")
    created_by: str
    updated_by: str
    created_at: str
    updated_at: str
    jobs: list[ConnectorJob] = []


class ConnectorTypeInfo(BaseModel):
    type: str
    title: str
    versions: list[str]


class ConnectorTypes(BaseModel):
    types: list[ConnectorTypeInfo]


class ConnectorSpec(BaseModel):
    type: str
    version: str
    title: str
    catalog: str | None = None
    secret_fields: list[str]
    spec: dict[str, Any] = Field(description="JSON Schema of the config; secret fields carry `secret: true`")


class ConnectionCheck(BaseModel):
    name: str
    status: Literal["passed", "failed", "skipped"]
    message: str
    duration_ms: int


class ConnectionResult(BaseModel):
    status: Literal["SUCCEEDED", "FAILED"]
    message: str


class ConnectionTestOut(BaseModel):
    """The tested type, version and config (secrets masked), as the seed document answers, and the checks."""

    type: str
    version: str
    config: dict[str, Any] = Field(description="The tested config; secret fields are masked")
    connection_result: ConnectionResult
    checks: list[ConnectionCheck]


class StreamColumn(BaseModel):
    name: str
    type: str


class Stream(BaseModel):
    stream_name: str
    namespace: str
    columns: list[StreamColumn]
    selected: bool
    sync_mode: Literal["full_refresh", "incremental", "cdc"]
    supported_sync_modes: list[str]
    destination_sync_mode: Literal["append", "overwrite", "upsert"]
    supported_destination_sync_modes: list[str]
    primary_key: list[str]
    cursor_field: str | None
    format: str
    file_count: int
    sampled_files: list[str]


class StreamsConfig(BaseModel):
    streams: list[Stream]


class StreamsAnswer(BaseModel):
    """`data` of /source/streams: `{"streams_config": {"streams": [...]}}`, what a job's streams_config takes."""

    streams_config: StreamsConfig


class Deleted(BaseModel):
    """`data` of a delete: the name of what was deleted."""

    name: str
