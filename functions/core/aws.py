"""boto3 clients made on first use (never at import, so an emulator configured later is honoured)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from .settings import get_settings

# What AWS answers when a call may succeed if it is made again (besides any 5xx).
_TRY_AGAIN_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "InternalError",
    "ServiceUnavailable", "RequestTimeout",
    # DynamoDB's (pynamodb keeps a failure's code; the status may be missing)
    "ProvisionedThroughputExceededException", "InternalServerError", "TransactionInProgressException",
})  # fmt: skip
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    """A cached boto3 client for `service` in this function's region and endpoint."""
    settings = get_settings()
    return boto3.client(
        service, region_name=settings.region, endpoint_url=settings.endpoint_url, config=_CONFIG
    )


@cache
def slow_client(service: str) -> Any:
    """A client for calls S3 may answer slowly (CompleteMultipartUpload of a big file takes seconds to
    minutes): a read timeout under API Gateway's 30 s and no retry of a call that may have succeeded."""
    settings = get_settings()
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3, read_timeout=25)
    return boto3.client(
        service, region_name=settings.region, endpoint_url=settings.endpoint_url, config=config
    )


def may_pass(exc: BaseException) -> bool:
    """Whether a failed AWS call (a botocore ClientError) may succeed if made again: a 5xx or a
    throttling answer. Other errors say something about the request and repeat."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return status >= 500 or response.get("Error", {}).get("Code") in _TRY_AGAIN_CODES
