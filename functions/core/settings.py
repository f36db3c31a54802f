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
    # Database sources may be on loopback only where the environment says so (the local cloud does).
    allow_loopback_hosts: bool = Field(False, alias="ALLOW_LOOPBACK_HOSTS")

    model_config = {"populate_by_name": True}

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def jwks(self) -> str:
        return self.jwks_url or f"{self.issuer}/.well-known/jwks.json"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read from the environment on first call."""
    try:
        return Settings.model_validate(dict(os.environ))
    except ValidationError as exc:  # a missing variable is a deployment bug: say which
        missing = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise RuntimeError(f"missing or invalid environment settings: {missing}") from exc
