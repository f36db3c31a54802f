"""Per-environment configuration, read from cdk.json's `environments` context (configuration is data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

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
    # A single-tenant environment's buckets that every project may read with the service's own role
    # (names; empty, the default: none, every other bucket is read with a project's own role or keys).
    single_tenant_source_buckets: tuple[str, ...] = ()
    # Per-project quotas and the minimum schedule interval (OWASP API4), as the functions' settings.
    limits: tuple[tuple[str, int], ...] = ()

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
            single_tenant_source_buckets=tuple(raw.get("single_tenant_source_buckets", ())),
            limits=tuple(sorted({**DEFAULT_LIMITS, **raw.get("limits", {})}.items())),
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
        if self.auto_delete_objects and self.removal_policy == "retain":
            raise ValueError(f"{self.name}: auto_delete_objects needs removal_policy 'destroy'")

    @property
    def limits_environment(self) -> dict[str, str]:
        """The limits as the functions' environment variables (`MAX_JOBS_PER_PROJECT`, ...)."""
        return limits_environment(dict(self.limits))

    @property
    def removal(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.removal_policy == "retain" else RemovalPolicy.DESTROY

    @property
    def log_retention(self) -> logs.RetentionDays:
        return _RETENTION[self.log_retention_days]
