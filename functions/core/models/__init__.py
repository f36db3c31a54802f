# ruff: noqa: F401  (the imports under TYPE_CHECKING are the type checker's view of the lazy names)
"""Pydantic models at the edges of every dialect: request bodies and response data, one module per family.

`common` holds the envelopes and shared types; a new family adds its own module and lists its names in
`_EXPORTS`. Names load with their module on first use (PEP 562), so a function pays at cold start only
for the families it serves: building pydantic models is most of an API function's own import time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# module -> the names it exports here
_EXPORTS: dict[str, tuple[str, ...]] = {
    "accounts": ("LoginOut", "LoginRequest", "SignupRequest", "UserOut", "WhoAmI",),
    "common": ("EMAIL_RE", "USERNAME_RE", "Envelope", "ErrorEnvelope", "FieldError", "Name", "PageEnvelope", "Strict", "Username", "dump",),
    "connectors": ("ConnectionCheck", "ConnectionResult", "ConnectionTestOut", "ConnectorCreate", "ConnectorJob", "ConnectorOut", "ConnectorSpec", "ConnectorTest", "ConnectorTypeInfo", "ConnectorTypes", "ConnectorUpdate", "Deleted", "SpecRequest", "Stream", "StreamColumn", "StreamsAnswer", "StreamsConfig", "StreamsRequest",),
    "jobs": ("ApplicationAction", "ApplicationAnswer", "ApplicationError", "ApplicationStatus", "ApplicationUpdate", "IngestError", "IngestJob", "JobActivate", "JobCreate", "JobOut", "JobUpdate", "RunFileOut", "RunLogLine", "RunOut", "TaskLogsPage",),
    "projects": ("ApiKeyCreate", "ApiKeyCreated", "ApiKeyOut", "MemberAdd", "MemberOut", "MemberUpdate", "ProjectCreate", "ProjectOut", "ProjectUpdate",),
    "upload_syncs": ("FileSyncHistory", "FileSyncInfo", "SyncCreate", "SyncFileOut", "SyncOut", "SyncStart", "SyncStatus", "SyncType", "UploadOut", "UploadStart",),
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
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
    from .upload_syncs import (
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
