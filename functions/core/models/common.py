"""The shared edge models: the strict request base, envelopes, name and username types."""

from __future__ import annotations

import re
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ..constants import MAX_NAME_LENGTH

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


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
