"""Pydantic models at the edges of the native dialect: request bodies and response data."""

from __future__ import annotations

import re
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .auth import Role
from .constants import MAX_NAME_LENGTH

T = TypeVar("T")

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$")
EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")

Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH, pattern=r"^[^\x00-\x1f\x7f]+$")]
Username = Annotated[str, Field(min_length=3, max_length=64, pattern=USERNAME_RE.pattern)]


class Strict(BaseModel):
    """Request bodies: unknown fields are refused (no mass assignment), strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ---------------------------------------------------------------- envelopes (for the OpenAPI document)


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    message: str
    data: T


class PageEnvelope(BaseModel, Generic[T]):
    success: bool = True
    message: str
    data: list[T]
    next_cursor: str | None


class FieldError(BaseModel):
    field: str | None = None
    message: str


class ErrorEnvelope(BaseModel):
    success: bool = False
    message: str
    errors: list[FieldError] | None = None


# ---------------------------------------------------------------- auth


class SignupRequest(Strict):
    email: Annotated[str, Field(max_length=254)]
    username: Username
    password: Annotated[str, Field(min_length=8, max_length=256)]

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        if not EMAIL_RE.match(v):
            raise ValueError("not a valid email address")
        return v.lower()

    @field_validator("password")
    @classmethod
    def _password(cls, v: str) -> str:
        if not (any(c.islower() for c in v) and any(c.isupper() for c in v) and any(c.isdigit() for c in v)):
            raise ValueError(
                "must have at least 8 characters with an upper-case letter, a lower-case letter and a digit"
            )
        return v


class LoginRequest(Strict):
    username: Annotated[str, Field(min_length=1, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class UserOut(BaseModel):
    username: str
    email: str | None = None


class LoginOut(BaseModel):
    username: str
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


class WhoAmI(BaseModel):
    username: str
    auth: str  # how the credential came: cookie, bearer, authorization, x-api-key, query, body
    kind: str  # user | api_key
    project_id: str | None = None
    role: Role | None = None


# ---------------------------------------------------------------- projects


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


class ApiKeyOut(BaseModel):
    id: str
    name: str
    role: Role
    prefix: str
    created_by: str
    created_at: str
    revoked_at: str | None = None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself; shown only in this answer")


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
