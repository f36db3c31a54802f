"""Per-environment configuration, read from cdk.json's `environments` context (configuration is data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

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
    # Buckets outside the data bucket that S3 source connectors may read (names; empty: none).
    source_buckets: tuple[str, ...] = ()
    # The console's own domain (CloudFront alias) and its ACM certificate in us-east-1; without them
    # the console is served at the distribution's *.cloudfront.net domain.
    console_domain: str | None = None
    console_certificate_arn: str | None = None

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
            source_buckets=tuple(raw.get("source_buckets", ())),
            console_domain=raw.get("console", {}).get("domain"),
            console_certificate_arn=raw.get("console", {}).get("certificate_arn"),
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
        if any(not b or "*" in b or "/" in b for b in self.source_buckets):
            raise ValueError(f"{self.name}: source_buckets must be plain bucket names")
        if bool(self.console_domain) != bool(self.console_certificate_arn):
            raise ValueError(f"{self.name}: console.domain and console.certificate_arn go together")
        if self.console_domain and f"https://{self.console_domain}" not in self.cors_origins:
            raise ValueError(
                f"{self.name}: cors_origins must include the console, https://{self.console_domain}"
            )
        if self.auto_delete_objects and self.removal_policy == "retain":
            raise ValueError(f"{self.name}: auto_delete_objects needs removal_policy 'destroy'")

    @property
    def removal(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.removal_policy == "retain" else RemovalPolicy.DESTROY

    @property
    def log_retention(self) -> logs.RetentionDays:
        return _RETENTION[self.log_retention_days]
