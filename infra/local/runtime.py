"""What the local cloud needs of the Lambda runtime: a context object and one-at-a-time invocation.

Each function runs like a single warm Lambda container: invocations of one function are serialized
(Powertools resolvers keep the current event on the app object), different functions run in parallel.
"""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.resources import physical_name

ACCOUNT_ID = "123456789012"
DEFAULT_TIMEOUT_SECONDS = 30
# The workers' timeouts as deployed (infra/constructs/functions.py; a parity test keeps them equal): the
# ingest function's remaining-time check reads its context.
WORKER_TIMEOUT_SECONDS = {"ingest": 300, "workflow": 900}


def function_arn(env_name: str, name: str, region: str = "us-east-1") -> str:
    """The local ARN of one function (`auth`, `ingest`, `workflow`, ...)."""
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{physical_name(env_name, name)}"


@dataclass
class LambdaContext:
    """The attributes and method of the Lambda context object that handlers and Powertools use."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    _started: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"{time.strftime('%Y/%m/%d')}/[$LATEST]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


def handler_of(name: str) -> Callable[[dict, Any], Any]:
    """`functions.<name>.handler.lambda_handler`, looked up at each call so tests can monkeypatch it."""
    module = importlib.import_module(f"functions.{name}.handler")
    return module.lambda_handler


def invoke(
    name: str,
    event: dict,
    env_name: str = "local",
    region: str = "us-east-1",
    started: threading.Event | None = None,
) -> Any:
    """Call function `name` in-process with `event` and a fresh context; exceptions propagate.

    The call waits while another call of the same function runs (one warm container); the context's
    clock and `started` (set when given) start when this call's turn comes, as a new container's would.
    """
    handler = handler_of(name)
    with _lock_for(name):
        context = LambdaContext(
            function_name=physical_name(env_name, name),
            invoked_function_arn=function_arn(env_name, name, region),
            timeout_seconds=WORKER_TIMEOUT_SECONDS.get(name, DEFAULT_TIMEOUT_SECONDS),
        )
        if started is not None:
            started.set()
        return handler(event, context)
