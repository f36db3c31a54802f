"""Pydantic models at the edges of every dialect: request bodies and response data, one module per family.

`common` holds the envelopes and shared types; a new family adds its own module and re-exports it here.
"""

from .accounts import LoginOut, LoginRequest, SignupRequest, UserOut, WhoAmI
from .common import (
    EMAIL_RE,
    USERNAME_RE,
    Envelope,
    ErrorEnvelope,
    FieldError,
    Name,
    PageEnvelope,
    Strict,
    Username,
    dump,
)
from .connectors import (
    ConnectionCheck,
    ConnectionResult,
    ConnectionTestOut,
    ConnectorCreate,
    ConnectorJob,
    ConnectorOut,
    ConnectorSpec,
    ConnectorTest,
    ConnectorTypeInfo,
    ConnectorTypes,
    ConnectorUpdate,
    Deleted,
    SpecRequest,
    Stream,
    StreamColumn,
    StreamsAnswer,
    StreamsConfig,
    StreamsRequest,
)
from .jobs import (
    ApplicationAction,
    ApplicationAnswer,
    ApplicationError,
    ApplicationStatus,
    ApplicationUpdate,
    IngestError,
    IngestJob,
    JobActivate,
    JobCreate,
    JobOut,
    JobUpdate,
    RunFileOut,
    RunLogLine,
    RunOut,
    TaskLogsPage,
)
from .projects import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    MemberAdd,
    MemberOut,
    MemberUpdate,
    ProjectCreate,
    ProjectOut,
    ProjectUpdate,
)
from .syncs import (
    FileSyncHistory,
    FileSyncInfo,
    SyncCreate,
    SyncFileOut,
    SyncOut,
    SyncStart,
    SyncStatus,
    SyncType,
    UploadOut,
    UploadStart,
)

__all__ = [
    "ConnectionCheck", "ConnectionResult", "ConnectionTestOut", "ConnectorCreate", "ConnectorJob",
    "ConnectorOut", "ConnectorSpec", "ConnectorTest", "ConnectorTypeInfo", "ConnectorTypes",
    "ConnectorUpdate", "Deleted", "SpecRequest", "Stream", "StreamColumn", "StreamsAnswer", "StreamsConfig",
    "StreamsRequest",
    "EMAIL_RE", "USERNAME_RE", "ApiKeyCreate", "ApiKeyCreated", "ApiKeyOut", "Envelope", "ErrorEnvelope",
    "FieldError", "LoginOut", "LoginRequest", "MemberAdd", "MemberOut", "MemberUpdate", "Name",
    "PageEnvelope", "ProjectCreate", "ProjectOut", "ProjectUpdate", "SignupRequest", "Strict", "UserOut",
    "Username", "WhoAmI", "dump",
    "FileSyncHistory", "FileSyncInfo", "SyncCreate", "SyncFileOut", "SyncOut", "SyncStart", "SyncStatus",
    "SyncType", "UploadOut", "UploadStart",
    "ApplicationAction", "ApplicationAnswer", "ApplicationError", "ApplicationStatus", "ApplicationUpdate", "IngestError", "IngestJob",
    "JobActivate", "JobCreate", "JobOut", "JobUpdate", "RunFileOut", "RunLogLine", "RunOut", "TaskLogsPage",
]  # fmt: skip
