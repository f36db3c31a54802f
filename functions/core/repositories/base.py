"""What every pynamodb model shares: its table, endpoint and region from the function's Settings, read when
first used; and the one translation of DynamoDB failures (store_errors, lost_race, may_pass)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as NoConnection
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError

from .. import aws
from ..errors import Terminal, Transient
from ..settings import Settings, get_settings


@cache
def _field_of(env_var: str) -> str:
    """The Settings field read from environment variable `env_var` (its alias)."""
    return next(name for name, f in Settings.model_fields.items() if f.alias == env_var)


def _settings_so_far() -> Settings | None:
    """The settings, or None while the environment does not hold them yet: pynamodb asks a model's Meta
    for its host and region when the class is made (at import), and again when it first connects."""
    try:
        return get_settings()
    except RuntimeError:
        return None


class _TableMeta(type):
    """pynamodb reads `Meta.table_name`, `host` and `region` when it first connects; resolve them then,
    from the function's Settings (get_settings is cached: tests that change the environment clear it)."""

    env_var: str

    @property
    def table_name(cls) -> str:
        return str(getattr(get_settings(), _field_of(cls.env_var)))

    @property
    def host(cls) -> str | None:
        settings = _settings_so_far()
        return settings.endpoint_url if settings else None

    @property
    def region(cls) -> str:
        settings = _settings_so_far()
        return settings.region if settings else "us-east-1"


def table_meta(env_var: str) -> Any:
    """A pynamodb `Meta` for the table whose physical name is the Settings field read from `env_var`
    (typed Any: pynamodb's `MetaProtocol` is structural and a class made by a metaclass cannot name it)."""
    _field_of(env_var)  # a table Settings does not know is a bug: fail at import
    return _TableMeta("Meta", (), {"env_var": env_var, "max_retry_attempts": 3})


def connection() -> Connection:
    """A low-level connection, for transactions that span several models (one per endpoint: a new
    one loads botocore's endpoint data again, about a second)."""
    settings = get_settings()
    return _connection(settings.region, settings.endpoint_url)


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


def may_pass(exc: BaseException) -> bool:
    """Whether a store call that failed with `exc` may succeed if made again: throttling, a 5xx, no answer
    (a lost connection, a timeout). Not a request the store refuses (an item over 400 KB, denied access, a
    missing secret): that fails the same way every time."""
    cause = getattr(exc, "cause", None) or exc  # pynamodb wraps botocore's error
    if isinstance(cause, (NoConnection, HTTPClientError)):
        return True
    return aws.may_pass(cause)


class StoreRefused(Terminal):
    """A store call refused in a way a retry repeats (an item over 400 KB, denied access, a missing
    secret): a bug or a misconfiguration, so a 500 and a failed step; never a lost race, never a 503."""


@contextmanager
def store_errors(what: str) -> Iterator[None]:
    """The one place DynamoDB's and Secrets Manager's failures are sorted: one that may pass (throttling,
    a 5xx, a lost connection) becomes :class:`Transient` (a 503 to retry), one that would repeat becomes
    :class:`StoreRefused`. A missing item and a lost race pass through unchanged, for the repository to
    turn into its domain error: only they do, so a repository's `except UpdateError` is a lost race."""
    try:
        yield
    except DoesNotExist:
        raise
    except (PynamoDBException, BotoCoreError, ClientError) as exc:
        if lost_race(exc):
            raise
        if may_pass(exc):
            raise Transient(f"{what} failed for a moment; retry later") from exc
        raise StoreRefused(f"{what} failed: {exc}") from exc
