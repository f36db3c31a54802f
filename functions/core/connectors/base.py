"""What every connector type shares: its declaration, secret fields, config parsing and connection checks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import Invalid, Terminal

Kind = Literal["source", "destination"]
MASK = "********"  # what responses show for a stored secret; sending it back keeps the stored value

# Connection tests and discovery answer within API Gateway's 30 s: each AWS call is short and bounded.
# What a call to a target can raise: AWS errors, pyarrow's I/O errors, malformed answers.
PROBE_ERRORS = (BotoCoreError, ClientError, OSError, ValueError, KeyError)
PROBE_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=3, read_timeout=5)
TEST_BUDGET_SECONDS = 20.0


def secret(description: str, **kw: Any) -> Any:
    """A config field kept in Secrets Manager and shown masked: `"secret": true` in the spec."""
    return Field(description=description, json_schema_extra={"secret": True, "format": "password"}, **kw)


SecretStr = Annotated[str, Field(min_length=1, max_length=4096)]


class ConnectorConfig(BaseModel):
    """A connector's config: unknown fields are refused (no endpoints or hosts can be slipped in)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def secret_fields(model: type[BaseModel]) -> list[str]:
    """The names of the config fields marked secret."""
    out = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("secret"):
            out.append(name)
    return out


@dataclass(frozen=True)
class CheckContext:
    """What a check may know: the project (and the external id its source roles trust), this environment's
    data bucket, shared buckets and AWS endpoint, a deadline."""

    project_id: str
    env_name: str
    region: str
    data_bucket: str
    endpoint_url: str | None
    deadline: float = field(default_factory=lambda: time.monotonic() + TEST_BUDGET_SECONDS)
    external_id: str | None = None
    # Buckets a single-tenant environment lets every project read with the service's role (usually none).
    shared_buckets: frozenset[str] = frozenset()
    allow_loopback_hosts: bool = False  # database hosts on loopback (Settings.allow_loopback_hosts)

    @property
    def lake_prefix(self) -> str:
        """The project's own prefix of the lake: every lake key of a project starts with it."""
        return f"lake/{self.project_id}/"

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


class CheckFailed(Terminal):
    """A check that failed, with the reason the caller sees (checking again fails the same way)."""


@dataclass
class CheckResult:
    name: str
    status: str  # passed | failed | skipped
    message: str
    duration_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "message": self.message,
            "duration_ms": self.duration_ms,
        }


Check = tuple[str, Callable[[], str]]
ConfigModel = type[ConnectorConfig]  # an alias: inside ConnectorType, `type` is a field


def run_checks(ctx: CheckContext, checks: list[Check]) -> list[CheckResult]:
    """Run checks in order until one fails (the rest are skipped) or the time budget is spent."""
    results: list[CheckResult] = []
    failed = False
    for name, fn in checks:
        if failed:
            results.append(CheckResult(name, "skipped", "skipped: an earlier check failed"))
            continue
        if ctx.remaining() <= 0:
            results.append(CheckResult(name, "failed", "timed out: the connection test ran out of time"))
            failed = True
            continue
        started = time.monotonic()
        try:
            message = fn()
            status = "passed"
        except CheckFailed as exc:
            message, status, failed = str(exc), "failed", True
        except Exception as exc:  # noqa: BLE001 - an unreachable or odd target is a failed check, never a 5xx
            message, status, failed = f"unexpected failure: {aws_reason(exc)}", "failed", True
        results.append(CheckResult(name, status, message, int((time.monotonic() - started) * 1000)))
    return results


@dataclass(frozen=True)
class ConnectorType:
    """One connector type and version: its config model (the spec), its checks, and its discovery."""

    kind: Kind
    type: str
    version: str
    title: str
    config: ConfigModel
    # (config, context) -> the ordered checks of a connection test.
    checks: Callable[[Any, CheckContext], list[Check]]
    # (config, context) -> tenancy and environment rules a schema cannot say (raise Invalid).
    validate: Callable[[Any, CheckContext], None] | None = None
    # (config, context) -> streams_config; sources only.
    discover: Callable[[Any, CheckContext], dict[str, Any]] | None = None
    # Spec variants selected by a parameter (a destination's `catalog`): value -> config model.
    variants: dict[str, ConfigModel] = field(default_factory=dict)
    # (config, context) -> the engine's source plugin (functions.engine.plugins) that job runs read it
    # with; None for the file sources the workflow reads itself.
    plugin: Callable[[Any, CheckContext], Any] | None = None

    @property
    def secrets(self) -> list[str]:
        return secret_fields(self.config)

    def spec(self) -> dict[str, Any]:
        """The config's JSON Schema: what a client renders as a form."""
        schema = self.config.model_json_schema()
        schema["title"] = self.title
        return schema

    def parse(self, config: dict[str, Any], ctx: CheckContext) -> ConnectorConfig:
        """The validated config, else a 400 naming the field (values are never echoed: they may be secret)."""
        try:
            model = self.config.model_validate(config)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in ("config", *err.get("loc", ())))
            msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
            raise Invalid(f"Invalid config: {where}: {msg}", field=where) from None
        if self.validate is not None:
            self.validate(model, ctx)
        return model


def masked(connector: ConnectorType, config: dict[str, Any]) -> dict[str, Any]:
    """The config as responses show it: each secret that is set replaced by the mask."""
    out = dict(config)
    for name in connector.secrets:
        if out.get(name):
            out[name] = MASK
    return out


# ---------------------------------------------------------------- shared helpers of the built-in types

LAKE_PATH_PATTERN = r"^[A-Za-z0-9_=.-]+(/[A-Za-z0-9_=.-]+)*/?$"


def check_lake_path(path: str, field_name: str) -> str:
    """A relative path inside the project's lake: no `..`, no empty or dot segments."""
    parts = path.strip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{field_name} must be a relative path without '.' or '..' segments")
    return path.strip("/")


_clients: dict[tuple, Any] = {}


def probe_client(service: str, ctx: CheckContext, session: Any = None, region: str | None = None) -> Any:
    """A boto3 client with short timeouts for checks, on this environment's endpoint (never a user's)."""
    import boto3

    region = region or ctx.region
    if session is not None:
        return session.client(service, region_name=region, endpoint_url=ctx.endpoint_url, config=PROBE_CONFIG)
    key = (service, region, ctx.endpoint_url)
    if key not in _clients:
        _clients[key] = boto3.client(
            service, region_name=region, endpoint_url=ctx.endpoint_url, config=PROBE_CONFIG
        )
    return _clients[key]


def aws_reason(exc: Exception) -> str:
    """A short reason for a failed AWS call (the error code and message; never request data)."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = err.get("Code", "error")
        return f"{code}: {err.get('Message') or code}"
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        return "timed out"
    if isinstance(exc, EndpointConnectionError):
        return "unreachable"
    return type(exc).__name__


def write_probe(ctx: CheckContext, key_prefix: str) -> str:
    """Write then remove a small object under `key_prefix` of the data bucket; raise CheckFailed if not."""
    import uuid

    s3 = probe_client("s3", ctx)
    key = f"{key_prefix.rstrip('/')}/_ingestplane_probe/{uuid.uuid4().hex}"
    try:
        s3.put_object(Bucket=ctx.data_bucket, Key=key, Body=b"probe")
    except PROBE_ERRORS as exc:  # any failure is the check's answer, never a 5xx
        raise CheckFailed(f"cannot write to s3://{ctx.data_bucket}/{key_prefix}: {aws_reason(exc)}") from None
    try:
        s3.delete_object(Bucket=ctx.data_bucket, Key=key)
    except PROBE_ERRORS as exc:
        raise CheckFailed(f"wrote a probe but cannot remove it: {aws_reason(exc)}") from None
    return f"s3://{ctx.data_bucket}/{key_prefix} is writable (probe object written and removed)"
