"""Projects, members and API keys."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from ..auth import Role
from .common import Name, Strict, Username


class ProjectCreate(Strict):
    name: Name
    description: Annotated[str, Field(max_length=1024)] = ""


class ProjectUpdate(Strict):
    name: Name | None = None
    description: Annotated[str | None, Field(max_length=1024)] = None


class ProjectOut(BaseModel):
    id: str
    name: str
    description: str
    role: Role
    external_id: str = Field(
        description="What this project's source roles trust: the service assumes a source's role_arn with "
        "it (generated per project, never chosen by a user; see docs/security.md)"
    )
    source_principal: str | None = Field(
        None, description="The principal a source role's trust policy names (with the external id)"
    )
    created_by: str
    updated_by: str
    created_at: str
    updated_at: str


class MemberAdd(Strict):
    username: Username
    role: Role = Role.viewer


class MemberUpdate(Strict):
    role: Role


class MemberOut(BaseModel):
    username: str
    role: Role
    added_by: str
    added_at: str


class ApiKeyCreate(Strict):
    name: Name
    role: Role = Role.viewer
    expires_in_days: Annotated[
        int | None, Field(ge=1, le=3650, description="Days until the key stops working; none: no expiry")
    ] = None


class ApiKeyOut(BaseModel):
    id: str
    name: str
    role: Role
    prefix: str
    created_by: str = Field(description="The key's owner: it works only while they hold its role")
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself; shown only in this answer")
