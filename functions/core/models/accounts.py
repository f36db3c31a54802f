"""Sign up, log in, who am I."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from ..auth import Role
from .common import EMAIL_RE, Strict, Username


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
