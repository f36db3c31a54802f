"""One error type per domain failure; each dialect maps them to its envelope in functions.core.dialects."""

from __future__ import annotations


class DomainError(Exception):
    """A failure the caller can act on; `status` is its HTTP status."""

    status = 400
    default_message = "Bad request"

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        self.message = message or self.default_message
        self.field = field
        super().__init__(self.message)


class Invalid(DomainError):
    status = 400
    default_message = "Bad request"


class Unauthorized(DomainError):
    status = 401
    default_message = "Authentication required"


class Forbidden(DomainError):
    status = 403
    default_message = "Insufficient permissions"


class NotFound(DomainError):
    status = 404
    default_message = "Resource not found"


class Conflict(DomainError):
    status = 409
    default_message = "Conflict"


class PayloadTooLarge(DomainError):
    status = 413
    default_message = "Payload too large"


class TooManyRequests(DomainError):
    status = 429
    default_message = "Too many requests"
