"""The errors a workflow step raises: the ASL retries TransientError by its name, and the run fails
with SyncError's message."""

from __future__ import annotations


class TransientError(Exception):
    """A failure worth retrying (throttling, a lost connection, a concurrent catalog commit): the ASL's
    Retry matches this name."""


class SyncError(Exception):
    """A run that cannot proceed (bad job, source or destination): the run fails with this message."""
