"""The Data Insider file-upload dialect ("upload"): its requests and answers to and from the upload-sync
domain.

Requests name their project by the API key (`api_key` in the body or query) or, for a signed-in person,
by `project_id`; answers are raw objects, and errors `{"code": <status>, "msg"}` (shaped by
`error_response` in this package's __init__).
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel

from ..auth import Caller
from ..errors import Invalid, NotFound
from ..models import dump
from ..models.upload_syncs import LakeUploadStart, SyncCreate, SyncStart, UploadStart
from . import json_response


class UploadError(BaseModel):
    """The upload-sync dialect's error: `code` is the HTTP status, never 0."""

    code: int
    msg: str


def project_of(caller: Caller, project_id: str | None) -> str:
    """The project an upload-dialect request acts on: the API key's, or `project_id` for a person."""
    if not caller.is_user:
        assert caller.project_id
        if project_id and project_id != caller.project_id:
            raise NotFound()
        return caller.project_id
    if not project_id:
        raise Invalid(
            "project_id is required when signed in as a user (an API key names its project)",
            field="project_id",
        )
    return project_id


def sync_create(body: SyncStart) -> SyncCreate:
    """A sync start as the domain's SyncCreate (the dialect's body adds the project and key)."""
    return SyncCreate(**body.model_dump(include=set(SyncCreate.model_fields)))


def upload_start(body: LakeUploadStart) -> UploadStart:
    """A multipart start as the domain's UploadStart (the dialect's body adds sync, project and key)."""
    return UploadStart(**body.model_dump(include=set(UploadStart.model_fields)))


def raw(model: BaseModel | list, status: int = 200) -> Response:
    """An answer of this dialect: the object (or list) itself, no envelope."""
    body = [dump(m) for m in model] if isinstance(model, list) else dump(model)
    return json_response(status, body)
