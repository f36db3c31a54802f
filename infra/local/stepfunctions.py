"""Lambda tasks of the state machine answered in-process.

moto's Step Functions parser (with `execute_state_machine` on) invokes a Task's Lambda through
`moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for`, i.e. `boto3.client("lambda", ...)` on
boto3's default session, inside the moto server's process. A botocore `before-send.lambda.Invoke`
handler registered on that session answers invocations of our functions' local ARNs by calling the
handler in-process; a returned response short-circuits the HTTP send. Other functions pass through.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.awsrequest import AWSResponse

from infra.local import runtime

log = logging.getLogger("infra.local")

EVENT_NAME = "before-send.lambda.Invoke"


class _RawBody:
    """The raw stream botocore reads a short-circuited response from."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._read = False

    def read(self, *_args: Any, **_kwargs: Any) -> bytes:
        if self._read:
            return b""
        self._read = True
        return self._data

    def stream(self, **_kwargs: Any) -> Iterable[bytes]:
        data = self.read()
        if data:
            yield data


def _function_name(url: str) -> str:
    # .../2015-03-31/functions/<name or url-encoded ARN>/invocations[?Qualifier=...]
    path = url.split("?", 1)[0]
    return unquote(path.rsplit("/functions/", 1)[-1].split("/", 1)[0])


class InProcessLambdas:
    """The before-send hook: local function names/ARNs -> in-process handlers."""

    def __init__(self, env_name: str, region: str, functions: Iterable[str] = ("workflow",)) -> None:
        self.env_name = env_name
        self.region = region
        self.targets: dict[str, str] = {}
        for name in functions:
            self.targets[runtime.function_arn(env_name, name, region)] = name
            self.targets[runtime.physical_name(env_name, name)] = name
        self._installed = False
        self._lock = threading.Lock()

    def install(self) -> None:
        """Register the hook on boto3's default session (the one moto's parser makes clients from)."""
        with self._lock:
            if not self._installed:
                boto3._get_default_session().events.register(EVENT_NAME, self, unique_id=self._uid)
                self._installed = True

    def uninstall(self) -> None:
        with self._lock:
            if self._installed:
                boto3._get_default_session().events.unregister(EVENT_NAME, unique_id=self._uid)
                self._installed = False

    @property
    def _uid(self) -> str:
        return f"ingestplane-local-lambdas-{id(self)}"

    def __call__(self, request: Any, **_kwargs: Any) -> AWSResponse | None:
        name = self.targets.get(_function_name(request.url))
        if name is None:
            return None  # not ours: let the request go to the endpoint
        body = request.body or b"{}"
        if hasattr(body, "read"):
            body = body.read()
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            event = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
        try:
            result = runtime.invoke(name, event, self.env_name, self.region)
            payload = json.dumps(result, default=str).encode()
        except Exception as exc:  # noqa: BLE001 - a handler error becomes Lambda's error shape
            log.warning("function %s raised %s: %s", name, type(exc).__name__, exc)
            headers["X-Amz-Function-Error"] = "Unhandled"
            payload = json.dumps(
                {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "stackTrace": traceback.format_exception(exc)[1:],
                }
            ).encode()
        return AWSResponse(request.url, 200, headers, _RawBody(payload))


def name_unnamed_executions() -> None:
    """Give an unnamed StartExecution a UUID name, as AWS does.

    moto 5.2's executing backend (StepFunctionsParserBackend) builds the ARN of an unnamed execution
    as `...:None`, so the second unnamed start fails with ExecutionAlreadyExists. moto runs in this
    process, so the fix is a wrapper on that method (idempotent; a no-op once moto fixes it).
    """
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution
    if getattr(original, "_names_unnamed", False):
        return

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    start_execution._names_unnamed = True  # type: ignore[attr-defined]
    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]
