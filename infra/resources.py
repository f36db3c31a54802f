"""The one description of the stateful resources, read by the CDK app and by the local cloud alike.

Changing a table, key or index here changes both; tests/infra checks that the synthesized template and
the local cloud's provisioning agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from functions.core.constants import UPLOADS_PREFIX


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str | None = None


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table: `logical` names it in code, `env_var` carries its physical name to functions."""

    logical: str
    env_var: str
    partition_key: str
    sort_key: str | None = None
    indexes: tuple[Index, ...] = field(default_factory=tuple)
    ttl_attribute: str | None = None


# Single-table layout per family: string keys `pk`/`sk`, one generic global index `gsi1` for the
# second access path each family needs (a user's projects, a run by its id, ...).
GSI1 = Index("gsi1", "gsi1pk", "gsi1sk")
# A sparse index of the runs still queued or running (only they carry gsi2pk): what the run sweeper reads.
GSI2 = Index("gsi2", "gsi2pk", "gsi2sk")

TABLES: tuple[TableSpec, ...] = (
    TableSpec("projects", "PROJECTS_TABLE", "pk", "sk", (GSI1,)),
    TableSpec("connectors", "CONNECTORS_TABLE", "pk", "sk", (GSI1,)),
    TableSpec("jobs", "JOBS_TABLE", "pk", "sk", (GSI1, GSI2), ttl_attribute="expires_at"),
    TableSpec("sync_sessions", "SYNC_SESSIONS_TABLE", "pk", "sk", (GSI1,)),
    # The Powertools idempotency table, with its default attribute names.
    TableSpec("idempotency", "IDEMPOTENCY_TABLE", "id", None, (), ttl_attribute="expiration"),
    # Logged-out sessions (jti / origin_jti), checked on every request until the token would expire.
    TableSpec("revoked_tokens", "REVOKED_TOKENS_TABLE", "pk", None, (), ttl_attribute="expires_at"),
)

# S3 ObjectCreated under uploads/ goes to this queue, then to the ingest function.
INGEST_NOTIFICATION_PREFIX = UPLOADS_PREFIX
INGEST_QUEUE_MAX_RECEIVES = 5  # then the message moves to the dead-letter queue
INGEST_BATCH_SIZE = 10


def physical_name(env_name: str, logical: str) -> str:
    """The physical name of a resource in one environment: `ingestplane-<env>-<logical>`."""
    return f"ingestplane-{env_name}-{logical.replace('_', '-')}"


# Per-project quotas and the minimum schedule interval (OWASP API4): cdk.json's `limits` per environment,
# these defaults for any it leaves out; functions read them as settings of the same names upper-cased.
DEFAULT_LIMITS: dict[str, int] = {
    "max_jobs_per_project": 100,
    "max_concurrent_runs_per_project": 5,
    "max_open_upload_syncs_per_project": 20,
    "max_files_per_run": 50_000,
    "min_schedule_interval_minutes": 5,
}


def limits_environment(limits: dict[str, int]) -> dict[str, str]:
    """The functions' environment variables for `limits` (defaults for the ones it leaves out)."""
    return {name.upper(): str(value) for name, value in {**DEFAULT_LIMITS, **limits}.items()}
