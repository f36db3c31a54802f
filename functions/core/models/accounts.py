"""Sign up, log in, who am I."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

from ..auth import Role
from .common import EMAIL_RE, Strict, Username

# The user pool's policy (infra/constructs/users.py, infra/local/provision.py), as the API says it.
POLICY_TEXT = (
    "must have at least 8 characters with an upper-case letter, a lower-case letter, a digit and a symbol"
)


class SignupRequest(Strict):
    email: Annotated[str, Field(max_length=254)]
    username: Username
    password: Annotated[str, StringConstraints(strip_whitespace=False), Field(min_length=8, max_length=256)]

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        if not EMAIL_RE.match(v):
            raise ValueError("not a valid email address")
        return v.lower()

    @field_validator("password")
    @classmethod
    def _password(cls, v: str) -> str:
        if not (
            any(c.islower() for c in v)
            and any(c.isupper() for c in v)
            and any(c.isdigit() for c in v)
            and any(not c.isalnum() and not c.isspace() for c in v)
        ):
            raise ValueError(POLICY_TEXT)
        return v


class LoginRequest(Strict):
    username: Annotated[str, Field(min_length=1, max_length=254)]
    # a password is taken exactly as typed (Strict trims other strings)
    password: Annotated[str, StringConstraints(strip_whitespace=False), Field(min_length=1, max_length=256)]


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
