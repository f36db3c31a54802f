"""Upload syncs: sessions, their files, presigned multipart uploads (native and upload-sync dialects).

The upload-sync dialect's shapes are Data Insider's file-upload API: `FileSyncInfo` and
`FileSyncHistory` with snake_case fields, epoch-millisecond times, `end_time` 0 while open.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator

from .common import Name, Strict

MiB = 1024 * 1024
GiB = 1024 * MiB
MIN_PART_SIZE = 5 * MiB  # S3's minimum for every part but the last
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
MAX_UPLOAD_SIZE = 5 * 1024 * GiB  # S3's largest object
# A direct (multipart-form) upload travels inside the Lambda event, base64-encoded: 6 MB of event holds
# about 4.5 MB of body; 4 MiB leaves room for the form's headers. Bigger files use presigned multipart.
MAX_DIRECT_UPLOAD_BYTES = 4 * MiB
MAX_PATH_LENGTH = 512
MAX_FILE_NAME_LENGTH = 255
MAX_PRESIGNED_PARTS_PER_ANSWER = 1000  # more are given page by page (GET the upload with `from_part`)
DEFAULT_URL_EXPIRY = 3600
MAX_URL_EXPIRY = 12 * 3600
MAX_OFFSET = 10_000  # `from` of the upload dialect's offset pages

ApiKeyField = Annotated[
    str | None, Field(max_length=512, description="An API key (the upload-sync dialect's credential)")
]
LakePath = Annotated[
    str,
    Field(
        min_length=1,
        # Checked (at most MAX_PATH_LENGTH once normalized) by the service, whose 400 names the field.
        max_length=4096,
        description="Where the files land in the project's lake, e.g. /data/db/transactions "
        "(no '..', no segment starting with '.', no control characters)",
    ),
]
FileName = Annotated[str, Field(min_length=1, max_length=MAX_FILE_NAME_LENGTH)]


class SyncType(str, Enum):
    FullSync = "FullSync"
    IncrementalSync = "IncrementalSync"


class SyncStatus(str, Enum):
    Syncing = "Syncing"
    Failed = "Failed"
    Finished = "Finished"


def _sync_type(value: Any) -> Any:
    """The seed's table spells the enum `Full Sync | Incremental Sync`; its samples `FullSync`."""
    if isinstance(value, str):
        compact = value.replace(" ", "").replace("_", "")
        for member in SyncType:
            if compact.lower() == member.value.lower():
                return member.value
    return value


# ---------------------------------------------------------------- requests


TableName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="The Iceberg table the sync loads (default: the path's last folder, as a table name)",
    ),
]


class TableTarget(Strict):
    """An upload sync's optional table target: when the sync finishes, its validated files are also loaded
    into a table of an `iceberg` destination (a full sync overwrites the table, an incremental one appends)."""

    destination: Name | None = Field(
        None, description="An iceberg destination of the project, by name; without it no table is loaded"
    )
    table: TableName | None = None


class SyncStart(TableTarget):
    """`POST /api/ingestion/file/sync/start`; without a name the sync is named after its path."""

    name: Name | None = None
    path: LakePath
    sync_type: SyncType = SyncType.IncrementalSync
    api_key: ApiKeyField = None
    project_id: Annotated[
        str | None,
        Field(min_length=1, max_length=64, description="The project, when signed in as a user"),
    ] = None

    _normalize_type = field_validator("sync_type", mode="before")(_sync_type)


class SyncCreate(TableTarget):
    """`POST /api/v1/project/{projectid}/syncs`; without a name the sync is named after its path."""

    name: Name | None = None
    path: LakePath
    sync_type: SyncType = SyncType.IncrementalSync

    _normalize_type = field_validator("sync_type", mode="before")(_sync_type)


class SyncEnd(Strict):
    """`POST /api/ingestion/file/sync/end`."""

    sync_id: Annotated[int, Field(ge=1, le=2**53)]
    api_key: ApiKeyField = None
    project_id: Annotated[str | None, Field(min_length=1, max_length=64)] = None


class UploadStart(Strict):
    """Start a presigned multipart upload of one file into a sync."""

    file_name: FileName
    size: Annotated[int, Field(ge=1, le=MAX_UPLOAD_SIZE, description="The file's size in bytes")]
    part_size: Annotated[
        int | None,
        Field(
            ge=MIN_PART_SIZE,
            le=MAX_PART_SIZE,
            description="Bytes per part (5 MiB..5 GiB; default: 8 MiB or more to stay within 10,000 parts)",
        ),
    ] = None
    expires_in: Annotated[
        int, Field(ge=60, le=MAX_URL_EXPIRY, description="Seconds the part URLs stay valid")
    ] = DEFAULT_URL_EXPIRY


class PartETag(Strict):
    part_number: Annotated[int, Field(ge=1, le=MAX_PARTS)]
    etag: Annotated[str, Field(min_length=1, max_length=128)]


class UploadComplete(Strict):
    parts: Annotated[list[PartETag], Field(min_length=1, max_length=MAX_PARTS)]


class LakeUploadStart(UploadStart):
    """`POST /api/lake/file/multipart/start` (upload-sync dialect)."""

    sync_id: Annotated[int, Field(ge=1, le=2**53)]
    api_key: ApiKeyField = None
    project_id: Annotated[str | None, Field(min_length=1, max_length=64)] = None


class LakeUploadRef(Strict):
    """Names one upload in the upload-sync dialect (complete, abort)."""

    upload_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    api_key: ApiKeyField = None
    project_id: Annotated[str | None, Field(min_length=1, max_length=64)] = None


class LakeUploadComplete(LakeUploadRef):
    parts: Annotated[list[PartETag], Field(min_length=1, max_length=MAX_PARTS)]


# ---------------------------------------------------------------- upload-sync dialect answers


class SyncStarted(BaseModel):
    sync_id: int


class SyncEnded(BaseModel):
    success: bool = True


class UploadCode(BaseModel):
    code: int = 0
    msg: str | None = None


class FileSyncInfo(BaseModel):
    """One sync session as the seed's list returns it."""

    org_id: int = 0
    sync_id: int
    name: str
    path: str
    sync_type: SyncType
    sync_status: SyncStatus
    start_time: int
    end_time: int
    total_files: int
    num_failed: int


class FileSyncHistory(BaseModel):
    """One uploaded file as the seed's history returns it."""

    org_id: int = 0
    history_id: int
    sync_id: int
    file_name: str
    start_time: int
    end_time: int
    sync_status: SyncStatus
    message: str


# ---------------------------------------------------------------- native answers


class SyncOut(FileSyncInfo):
    project_id: str
    in_flight: int = Field(description="Files received and not yet ingested")
    created_by: str
    ingest_job_id: str = Field(description="The ingest job (GET /api/ingest/jobs/{id}) of this sync")
    read: int = 0
    inserted: int = 0
    rejected: int = 0
    errors: int = 0
    message: str = ""
    destination: str | None = Field(None, description="The iceberg destination the sync loads, if any")
    table: str | None = Field(None, description="Its table, as <glue database>.<table>")
    table_rows: int = Field(0, description="Rows the finished sync committed to the table")


class ColumnOut(BaseModel):
    name: str
    type: str


class SyncFileOut(FileSyncHistory):
    size: int = 0
    format: str | None = None
    read: int = 0
    inserted: int = 0
    rejected: int = 0
    errors: int = 0
    columns: list[ColumnOut] = Field(default_factory=list)
    lake_files: list[str] = Field(default_factory=list)


class PartUrl(BaseModel):
    part_number: int
    url: str


class ReceivedPart(BaseModel):
    part_number: int
    etag: str
    size: int


class UploadOut(BaseModel):
    upload_id: str
    sync_id: int
    file_name: str
    size: int
    part_size: int
    part_count: int
    status: str = Field(description="open | completed | aborted")
    expires_at: int = Field(description="When the part URLs given in this answer expire (epoch ms)")
    parts: list[PartUrl] = Field(default_factory=list, description="URLs for the parts still to send")
    received: list[ReceivedPart] = Field(default_factory=list, description="Parts S3 has received")
    next_part: int | None = Field(None, description="Pass as from_part to get further part URLs")
