"""Errors the engine raises: one type per failure a caller must tell apart."""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every engine failure."""


class SourceNotFoundError(EngineError):
    """The file named by a source URI does not exist."""


class UnreadableFileError(EngineError):
    """A file cannot be parsed at all (corrupt, truncated, wrong format); the message says why."""


class SchemaError(EngineError):
    """A schema is malformed or a type string is unknown."""


class CommitError(EngineError):
    """A writer could not commit its staged data; nothing became visible."""
