"""One error type per domain failure; each dialect maps them to its envelope in functions.core.dialects.

Every failure is one of two kinds (as dlt's common exceptions split them): :class:`Transient` may pass
if the same call is made again (throttling, a lost connection, a concurrent commit), :class:`Terminal`
fails the same way every time (bad input, a missing resource, a refused credential). Retries (the
API's 503, the state machine's Retry) are for the first kind only. Each kind says so in its `transient`
attribute, which the engine's `is_transient` reads (the engine imports nothing from core)."""

from __future__ import annotations


class Terminal(Exception):
    """Retrying the same call fails the same way."""

    transient = False


class Transient(Exception):
    """A failure that may pass on a retry; the API answers 503 and the caller retries later."""

    transient = True
    status = 503
    default_message = "Service temporarily unavailable; retry later"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        self.field: str | None = None
        super().__init__(self.message)


class DomainError(Terminal):
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


class NameTaken(Conflict):
    """A name that must be unique (in its project and kind) is already used."""

    default_message = "Name already taken"


class PayloadTooLarge(DomainError):
    status = 413
    default_message = "Payload too large"


class TooManyRequests(DomainError):
    status = 429
    default_message = "Too many requests"
