"""Which failed AWS calls are worth making again: the API's 503 and the state machine's Retry rest on it."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from functions.core.aws import may_pass
from functions.workflow.errors import TransientError
from functions.workflow.store import transient


def _error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    ("code", "status", "again"),
    [
        ("InternalError", 500, True),
        ("500", 500, True),  # a bare status, as moto and proxies answer
        ("ServiceUnavailable", 503, True),
        ("SlowDown", 503, True),
        ("ThrottlingException", 400, True),
        ("RequestLimitExceeded", 400, True),
        ("AccessDenied", 403, False),
        ("NoSuchUpload", 404, False),
        ("InvalidPart", 400, False),
    ],
)
def test_a_5xx_or_throttling_may_pass_and_nothing_else(code, status, again):
    exc = _error(code, status)
    assert may_pass(exc) is again
    assert isinstance(transient(exc), TransientError) is again  # the workflow's steps agree


def test_an_error_without_an_aws_answer_is_not_retried():
    assert may_pass(ValueError("bad")) is False
    assert may_pass(OSError("reset")) is False
