"""Retry-safe sync starts: an `Idempotency-Key` header makes a repeated start answer the first sync.

Powertools idempotency over the idempotency table, keyed by project, caller and the header's value; the
request (name, path, sync type) is validated under the same key, so reusing a key for another request
is a 409, never a silently different sync. The persistence layer is made on first use (a client made
at import would escape the local cloud's endpoint).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from functions.core import aws
from functions.core.auth import Caller, Role, require_role
from functions.core.errors import Conflict
from functions.core.models.upload_syncs import SyncCreate
from functions.core.services import upload_syncs as svc
from functions.core.settings import get_settings

HEADER = "idempotency-key"
KEY_TTL_SECONDS = 24 * 3600

config = IdempotencyConfig(
    event_key_jmespath="key",
    payload_validation_jmespath="body",  # the same key with another request is a 409
    raise_on_no_idempotency_key=True,
    expires_after_seconds=KEY_TTL_SECONDS,
)


@cache
def _start_once():
    persistence = DynamoDBPersistenceLayer(
        table_name=get_settings().idempotency_table, boto3_client=aws.client("dynamodb")
    )

    @idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=config)
    def start(request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        session = svc.start_upload_sync(caller, request["project_id"], SyncCreate(**request["body"]))
        return {"sync_id": int(session.sync_id)}

    return start


def start_upload_sync(caller: Caller, project_id: str, body: SyncCreate, key: str | None):
    """The session a start makes, or (same `key`, same request) the one the first such start made."""
    if not key:
        return svc.start_upload_sync(caller, project_id, body)
    require_role(caller, project_id, Role.editor)  # never answer a stored result to a stranger
    request = {
        "key": f"{project_id}:{caller.username}:{key[:128]}",
        "project_id": project_id,
        "body": body.model_dump(mode="json"),
    }
    try:
        result = _start_once()(request=request, caller=caller)
    except IdempotencyValidationError:
        raise Conflict("This Idempotency-Key was used for another request", field="Idempotency-Key") from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict("A request with this Idempotency-Key is in progress; retry shortly") from None
    return svc.get_session(project_id, int(result["sync_id"]))
