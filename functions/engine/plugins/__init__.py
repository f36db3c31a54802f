"""Source plugins: one interface (:mod:`.base`) that every source type implements, files and databases
alike, so the workflow plans, reads and commits them the same way. Files in S3 are :mod:`.files`,
``postgres`` is :mod:`.postgres` (each imported where it is used: they pull in their readers); adding a
source type (MySQL, DynamoDB) is adding one module here and naming it in its connector type's
``plugin``."""

from .base import (
    LSN_COLUMN,
    OP_COLUMN,
    ColumnInfo,
    Reject,
    RejectSink,
    SourceError,
    SourcePlugin,
    Stream,
    StreamPlan,
    StreamRequest,
    StreamState,
    SyncMode,
    UnsupportedColumn,
    WorkUnit,
)

__all__ = [
    "LSN_COLUMN", "OP_COLUMN", "ColumnInfo", "Reject", "RejectSink", "SourceError", "SourcePlugin", "Stream",
    "StreamPlan", "StreamRequest", "StreamState", "SyncMode", "UnsupportedColumn", "WorkUnit",
]  # fmt: skip
