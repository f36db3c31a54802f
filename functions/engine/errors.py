"""Errors the engine raises: one type per failure a caller must tell apart."""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every engine failure: a verdict on the input, which a retry does not change."""

    transient = False


class SourceNotFoundError(EngineError):
    """The file named by a source URI does not exist (or, read at a version, that version is gone)."""


class SourceChangedError(SourceNotFoundError):
    """The object was listed or registered at one version (ETag or version id) and is now another: the
    version to read is gone. Never read the newer one in its place: retry, then fail."""


class UnreadableFileError(EngineError):
    """A file cannot be parsed at all (corrupt, truncated, wrong format); the message says why."""


class UnsafeKeyError(EngineError):
    """An object key with an empty, `.` or `..` segment: a filesystem would resolve it to another object
    (even another bucket), so it is never read."""


class SchemaError(EngineError):
    """A schema is malformed or a type string is unknown."""


class CommitError(EngineError):
    """A writer could not commit its staged data; nothing became visible."""


class SourceUnavailableError(OSError):
    """Reading a source failed for a reason that passes (network, throttling, an S3 5xx): try again
    later. It says nothing about the file, so the engine raises it instead of UnreadableFileError and
    never counts the file as bad (a full refresh would otherwise drop its rows)."""

    transient = True


# what pyarrow's S3 filesystem and botocore say when a read may work on a second try
TRANSIENT_MARKERS = (
    "NETWORK_CONNECTION", "SLOW_DOWN", "SlowDown", "SERVICE_UNAVAILABLE", "INTERNAL_FAILURE", "THROTTLING",
    "Throttling", "RequestTimeout", "Timeout was reached", "Connection reset", "Connection was closed",
    "HTTP status 500", "HTTP status 502", "HTTP status 503", "HTTP status 504",
)  # fmt: skip


def is_transient(exc: BaseException) -> bool:
    """True for a failure that may pass on a retry (never for a file that is bad).

    An exception whose class says which kind it is (a boolean ``transient``: the engine's own, and
    core.errors' ``Transient`` and ``Terminal``, which the engine cannot import) is taken at its word;
    any other is transient only as an I/O failure that pyarrow or botocore describe as passing.
    """
    declared = getattr(exc, "transient", None)
    if isinstance(declared, bool):
        return declared
    return isinstance(exc, OSError) and any(m in str(exc) for m in TRANSIENT_MARKERS)


def unless_transient(exc: BaseException, error: EngineError) -> Exception:
    """``error`` (the verdict on the file), or a SourceUnavailableError when ``exc`` may pass."""
    return SourceUnavailableError(str(exc)) if is_transient(exc) else error
