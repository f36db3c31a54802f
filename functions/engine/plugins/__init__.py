"""Source plugins: one interface (:mod:`.base`) that every source type implements, files and databases
alike, so the workflow plans, reads and commits them the same way. ``postgres`` is :mod:`.postgres`;
adding a source type (MySQL, DynamoDB) is adding one module here."""

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
