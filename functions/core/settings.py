"""Environment settings of every function, parsed once at first use and failing fast when one is missing."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field, ValidationError


class Settings(BaseModel):
    """What a function reads from its environment; names match the CDK app's variables."""

    env_name: str = Field("local", alias="ENV_NAME")
    region: str = Field("us-east-1", alias="AWS_REGION")
    # Set only in the local cloud and tests; in AWS every client uses its default endpoint.
    endpoint_url: str | None = Field(None, alias="AWS_ENDPOINT_URL")
    projects_table: str = Field(alias="PROJECTS_TABLE")
    connectors_table: str = Field(alias="CONNECTORS_TABLE")
    jobs_table: str = Field(alias="JOBS_TABLE")
    sync_sessions_table: str = Field(alias="SYNC_SESSIONS_TABLE")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE")
    revoked_tokens_table: str = Field(alias="REVOKED_TOKENS_TABLE")
    data_bucket: str = Field(alias="DATA_BUCKET")
    user_pool_id: str = Field(alias="USER_POOL_ID")
    user_pool_client_id: str = Field(alias="USER_POOL_CLIENT_ID")
    # The issuer's JWKS URL; derived from the pool unless the local cloud points it at moto.
    jwks_url: str | None = Field(None, alias="JWKS_URL")
    state_machine_arn: str = Field("", alias="STATE_MACHINE_ARN")
    scheduler_group: str = Field("", alias="SCHEDULER_GROUP")
    scheduler_role_arn: str = Field("", alias="SCHEDULER_ROLE_ARN")
    # Cookies are Secure everywhere except the local cloud served over plain http.
    cookie_secure: bool = Field(True, alias="COOKIE_SECURE")
    # Source access (docs/security.md): the principal customers' source roles trust (the service's
    # account, with the project's external id); the buckets every project may read with the service's
    # own role, in a single-tenant environment only (comma-separated; empty, the default, means none:
    # the multi-tenant rule).
    source_principal: str = Field("", alias="SOURCE_PRINCIPAL_ARN")
    single_tenant_source_buckets: str = Field("", alias="SINGLE_TENANT_SOURCE_BUCKETS")
    # Limits (OWASP API4), per environment in cdk.json's `limits`.
    max_jobs_per_project: int = Field(100, ge=1, alias="MAX_JOBS_PER_PROJECT")
    max_concurrent_runs_per_project: int = Field(5, ge=1, alias="MAX_CONCURRENT_RUNS_PER_PROJECT")
    max_open_upload_syncs_per_project: int = Field(20, ge=1, alias="MAX_OPEN_UPLOAD_SYNCS_PER_PROJECT")
    max_files_per_run: int = Field(50_000, ge=1, alias="MAX_FILES_PER_RUN")
    min_schedule_interval_minutes: int = Field(5, ge=1, alias="MIN_SCHEDULE_INTERVAL_MINUTES")
    # A file listed when a run was planned and gone (or changed) when read is read again this many
    # times, waiting 1x, 2x, 4x ... this long, before it fails the run (it may be back).
    vanished_file_retries: int = Field(3, ge=0, le=10, alias="VANISHED_FILE_RETRIES")
    vanished_file_wait_seconds: float = Field(1.0, ge=0, le=60, alias="VANISHED_FILE_WAIT_SECONDS")
    # An uploaded file larger than this is ingested by the sync state machine in byte-range work units
    # of about `work_unit_bytes` (the ingest function reads smaller ones whole, one per SQS message).
    upload_units_threshold_bytes: int = Field(128 << 20, ge=1, alias="UPLOAD_UNITS_THRESHOLD_BYTES")
    work_unit_bytes: int = Field(128 << 20, ge=1 << 10, alias="WORK_UNIT_BYTES")
    # The ingest function starts no file with less than this much time left in its invocation: the rest
    # of the batch goes back to the queue (partial batch failures) instead of timing out mid-file.
    ingest_reserve_seconds: float = Field(60.0, ge=0, alias="INGEST_RESERVE_SECONDS")
    # Database sources may be on loopback only where the environment says so (the local cloud does).
    allow_loopback_hosts: bool = Field(False, alias="ALLOW_LOOPBACK_HOSTS")
    # Job runs (functions.workflow): small whole files share a work unit of at most this many files and
    # bytes (per-unit orchestration costs far more than reading a small file); the plan inspects this many
    # files at once (S3 latency) and infers a stream's columns from its first readable files; a plan of
    # more units goes through the Distributed Map and its S3 manifest instead of the state's payload.
    workflow_group_max_files: int = Field(50, ge=1, alias="WORKFLOW_GROUP_MAX_FILES")
    workflow_group_max_bytes: int = Field(64 << 20, ge=1, alias="WORKFLOW_GROUP_MAX_BYTES")
    workflow_plan_threads: int = Field(16, ge=1, le=64, alias="WORKFLOW_PLAN_THREADS")
    workflow_schema_sample_files: int = Field(5, ge=1, alias="WORKFLOW_SCHEMA_SAMPLE_FILES")
    workflow_inline_max_units: int = Field(40, ge=0, alias="WORKFLOW_INLINE_MAX_UNITS")

    model_config = {"populate_by_name": True}

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def jwks(self) -> str:
        return self.jwks_url or f"{self.issuer}/.well-known/jwks.json"

    @property
    def shared_source_buckets(self) -> frozenset[str]:
        """The single-tenant buckets any project may read without a role or keys (usually none)."""
        return frozenset(b.strip() for b in self.single_tenant_source_buckets.split(",") if b.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read from the environment on first call."""
    try:
        return Settings.model_validate(dict(os.environ))
    except ValidationError as exc:  # a missing variable is a deployment bug: say which
        missing = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise RuntimeError(f"missing or invalid environment settings: {missing}") from exc
