"""Per-environment configuration, read from cdk.json's `environments` context (configuration is data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from functions.families import FAMILIES
from infra.resources import DEFAULT_LIMITS, limits_environment

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}


@dataclass(frozen=True)
class Subnet:
    subnet_id: str
    availability_zone: str
    route_table_id: str


@dataclass(frozen=True)
class VpcConfig:
    """cdk.json `vpc`: where the functions that read databases run (infra/constructs/network.py)."""

    vpc_id: str
    subnets: tuple[Subnet, ...]
    security_group_id: str  # the group the databases admit; the functions run in it
    endpoints: bool = True  # S3 and DynamoDB gateway, Glue/Secrets Manager/Step Functions/STS interface

    @classmethod
    def from_context(cls, env: str, raw: dict[str, Any]) -> VpcConfig:
        try:
            subnets = tuple(
                Subnet(s["id"], s["availability_zone"], s["route_table_id"]) for s in raw["subnets"]
            )
            cfg = cls(raw["vpc_id"], subnets, raw["security_group_id"], bool(raw.get("endpoints", True)))
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"{env}: vpc needs vpc_id, security_group_id and subnets [{{id, availability_zone, "
                f"route_table_id}}]: {exc}"
            ) from None
        cfg.validate(env)
        return cfg

    def validate(self, env: str) -> None:
        prefixes = {"vpc_id": "vpc-", "security_group_id": "sg-"}
        for name, prefix in prefixes.items():
            if not str(getattr(self, name)).startswith(prefix):
                raise ValueError(f"{env}: vpc.{name} must be an id starting with {prefix}")
        if not self.subnets:
            raise ValueError(f"{env}: vpc.subnets must list at least one private subnet")
        for s in self.subnets:
            if not s.subnet_id.startswith("subnet-") or not s.route_table_id.startswith("rtb-"):
                raise ValueError(f"{env}: vpc.subnets: ids start with subnet- and route tables with rtb-")


@dataclass(frozen=True)
class EnvConfig:
    """One environment's settings; every field comes from cdk.json."""

    name: str
    cors_origins: tuple[str, ...]
    removal_policy: str  # "retain" | "destroy"
    auto_delete_objects: bool
    deletion_protection: bool
    rate_limit: float
    burst_limit: int
    log_retention_days: int
    access_log_expiration_days: int
    log_level: str
    map_concurrency: int
    abort_multipart_after_days: int
    trash_expiration_days: int
    noncurrent_version_expiration_days: int
    cookie_secure: bool
    # Prod logs the state machine's events without their input and output (run data, file names).
    state_machine_log_execution_data: bool = True
    # Concurrency reserved for each API function (family -> executions): ingestion can never take it.
    # Empty: none (an account's first quota is often 10, too small to reserve from).
    api_reserved_concurrency: tuple[tuple[str, int], ...] = ()
    ingest_max_concurrency: int = 2  # the SQS trigger's MaximumConcurrency (2..1000)
    sweep_every_minutes: int = 5  # the run sweeper's schedule
    sweep_grace_minutes: int = 15  # a run younger than this is never swept (its start may be under way)
    # A single-tenant environment's buckets that every project may read with the service's own role
    # (names; empty, the default: none, every other bucket is read with a project's own role or keys).
    single_tenant_source_buckets: tuple[str, ...] = ()
    # Per-project quotas and the minimum schedule interval (OWASP API4), as the functions' settings.
    limits: tuple[tuple[str, int], ...] = ()
    # Buckets outside the data bucket that S3 source connectors may read (names; empty: none).
    # The console's own domain (CloudFront alias) and its ACM certificate in us-east-1; without them
    # the console is served at the distribution's *.cloudfront.net domain.
    console_domain: str | None = None
    console_certificate_arn: str | None = None
    # The VPC of the functions that read databases (none: they run outside any VPC, as the others do).
    vpc: VpcConfig | None = None

    @classmethod
    def from_context(cls, name: str, environments: dict[str, Any]) -> EnvConfig:
        if name not in environments:
            raise ValueError(f"unknown environment {name!r}; cdk.json defines {sorted(environments)}")
        raw = environments[name]
        cfg = cls(
            name=name,
            cors_origins=tuple(raw["cors_origins"]),
            removal_policy=raw["removal_policy"],
            auto_delete_objects=bool(raw["auto_delete_objects"]),
            deletion_protection=bool(raw["deletion_protection"]),
            rate_limit=float(raw["throttling"]["rate_limit"]),
            burst_limit=int(raw["throttling"]["burst_limit"]),
            log_retention_days=int(raw["log_retention_days"]),
            access_log_expiration_days=int(raw["access_log_expiration_days"]),
            log_level=raw["log_level"],
            map_concurrency=int(raw["map_concurrency"]),
            abort_multipart_after_days=int(raw["abort_multipart_after_days"]),
            trash_expiration_days=int(raw["trash_expiration_days"]),
            noncurrent_version_expiration_days=int(raw["noncurrent_version_expiration_days"]),
            cookie_secure=bool(raw["cookie_secure"]),
            state_machine_log_execution_data=bool(raw["state_machine_log_execution_data"]),
            api_reserved_concurrency=tuple(sorted((raw.get("api_reserved_concurrency") or {}).items())),
            ingest_max_concurrency=int(raw["ingest_max_concurrency"]),
            sweep_every_minutes=int(raw["sweep_every_minutes"]),
            sweep_grace_minutes=int(raw["sweep_grace_minutes"]),
            single_tenant_source_buckets=tuple(raw.get("single_tenant_source_buckets", ())),
            limits=tuple(sorted({**DEFAULT_LIMITS, **raw.get("limits", {})}.items())),
            console_domain=raw.get("console", {}).get("domain"),
            console_certificate_arn=raw.get("console", {}).get("certificate_arn"),
            vpc=VpcConfig.from_context(name, raw["vpc"]) if raw.get("vpc") else None,
        )
        cfg.validate()
        return cfg

    def validate(self) -> None:
        # Credentials are allowed cross-origin, so a wildcard origin would let any site act as the user.
        if not self.cors_origins or any("*" in o for o in self.cors_origins):
            raise ValueError(f"{self.name}: cors_origins must list explicit origins (no wildcard)")
        if self.removal_policy not in ("retain", "destroy"):
            raise ValueError(f"{self.name}: removal_policy must be 'retain' or 'destroy'")
        if self.log_retention_days not in _RETENTION:
            raise ValueError(f"{self.name}: log_retention_days must be one of {sorted(_RETENTION)}")
        if any(not b or "*" in b or "/" in b or "," in b for b in self.single_tenant_source_buckets):
            raise ValueError(f"{self.name}: single_tenant_source_buckets must be plain bucket names")
        unknown = {name for name, _ in self.limits} - set(DEFAULT_LIMITS)
        if unknown or any(not isinstance(v, int) or v < 1 for _, v in self.limits):
            raise ValueError(f"{self.name}: limits are positive integers of {sorted(DEFAULT_LIMITS)}")
        if bool(self.console_domain) != bool(self.console_certificate_arn):
            raise ValueError(f"{self.name}: console.domain and console.certificate_arn go together")
        if self.console_domain and f"https://{self.console_domain}" not in self.cors_origins:
            raise ValueError(
                f"{self.name}: cors_origins must include the console, https://{self.console_domain}"
            )
        if self.auto_delete_objects and self.removal_policy == "retain":
            raise ValueError(f"{self.name}: auto_delete_objects needs removal_policy 'destroy'")
        if any(
            f not in FAMILIES or not isinstance(n, int) or n < 1 for f, n in self.api_reserved_concurrency
        ):
            raise ValueError(
                f"{self.name}: api_reserved_concurrency maps API functions {FAMILIES} to positive integers"
            )
        if not 2 <= self.ingest_max_concurrency <= 1000:
            raise ValueError(f"{self.name}: ingest_max_concurrency must be 2..1000 (SQS event source limit)")
        if self.sweep_every_minutes < 1 or self.sweep_grace_minutes < 1:
            raise ValueError(f"{self.name}: sweep_every_minutes and sweep_grace_minutes must be >= 1")

    @property
    def limits_environment(self) -> dict[str, str]:
        """The limits as the functions' environment variables (`MAX_JOBS_PER_PROJECT`, ...)."""
        return limits_environment(dict(self.limits))

    @property
    def removal(self) -> RemovalPolicy:
        """`retain` keeps a resource on stack deletion and replacement, but not when the operation that
        created it rolls back (CloudFormation's RetainExceptOnCreate): a failed first deploy leaves no
        named table, bucket, log group, pool or state machine behind to clash with the next one."""
        if self.removal_policy == "retain":
            return RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
        return RemovalPolicy.DESTROY

    def reserved_concurrency(self, function: str) -> int | None:
        """The executions reserved for `function`, None when it has no reservation."""
        return dict(self.api_reserved_concurrency).get(function)

    @property
    def log_retention(self) -> logs.RetentionDays:
        return _RETENTION[self.log_retention_days]
