"""Where moto differs from AWS in a way the local cloud cannot accept, and the one fix it applies.

moto's server answers requests on many threads, but its DynamoDB backend has no lock: two UpdateItem
calls on one item (an ingest worker counting a file while the API ends its sync) can interleave and
lose a write. DynamoDB applies writes to an item one at a time; the local cloud gets the same by
serializing moto's DynamoDB requests. Nothing in moto's DynamoDB handling calls out to another
service, so the lock cannot deadlock.
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.RLock()
_applied = False


def serialize_dynamodb() -> None:
    """Make moto's DynamoDB requests run one at a time in this process (idempotent)."""
    global _applied
    if _applied:
        return
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _LOCK:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _applied = True
