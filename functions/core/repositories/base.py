"""What every pynamodb model shares: the table named by an environment variable, read when first used."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError

from ..errors import Transient


def _host() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL") or None


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


class _TableMeta(type):
    """pynamodb reads `Meta.table_name`, `host` and `region` when it first connects; resolve them then."""

    env_var: str

    @property
    def table_name(cls) -> str | None:
        return os.environ.get(cls.env_var)

    @property
    def host(cls) -> str | None:
        return _host()

    @property
    def region(cls) -> str:
        return _region()


def table_meta(env_var: str) -> Any:
    """A pynamodb `Meta` for the table whose physical name is in `env_var` (typed Any: pynamodb's
    `MetaProtocol` is structural and a class made by a metaclass cannot name it)."""
    return _TableMeta("Meta", (), {"env_var": env_var, "max_retry_attempts": 3})


def connection() -> Connection:
    """A low-level connection, for transactions that span several models (one per endpoint: a new
    one loads botocore's endpoint data again, about a second)."""
    return _connection(_region(), _host())


@lru_cache(maxsize=4)
def _connection(region: str, host: str | None) -> Connection:
    return Connection(region=region, host=host)


def now_iso() -> str:
    """The current UTC time as ISO 8601 with milliseconds and a Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def condition_failed(exc: Exception) -> bool:
    """Whether a pynamodb write failed on its condition (a lost race: expected), not on DynamoDB itself
    (throttling, a network error: to be raised and retried, never taken for a lost race)."""
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def lost_race(exc: Exception) -> bool:
    """Whether a write failed on its own condition: one write's ConditionalCheckFailed, or a transaction
    cancelled because one of its conditions failed (not for throttling or a conflict between
    transactions, which may pass)."""
    if condition_failed(exc):
        return True
    if isinstance(exc, TransactWriteError):
        reasons = getattr(exc, "cancellation_reasons", None) or []
        return any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons)
    return False


@contextmanager
def store_errors(what: str) -> Iterator[None]:
    """The one place a DynamoDB failure that is not the caller's becomes :class:`Transient` (a 503 to
    retry): throttling, a 5xx, a lost connection. A missing item and a lost race pass through unchanged,
    for the repository to turn into its domain error."""
    try:
        yield
    except DoesNotExist:
        raise
    except (PynamoDBException, BotoCoreError, ClientError) as exc:
        if lost_race(exc):
            raise
        raise Transient(f"{what} failed for a moment; retry later") from exc
