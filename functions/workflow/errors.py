"""The errors a workflow step raises: the ASL retries TransientError by its name, and the run fails
with SyncError's message. They are the workflow's names for core's two kinds of failure."""

from __future__ import annotations

from functions.core.errors import Terminal, Transient


class TransientError(Transient):
    """A failure worth retrying (throttling, a lost connection, a concurrent catalog commit): the ASL's
    Retry matches this name."""


class SyncError(Terminal):
    """A run that cannot proceed (bad job, source or destination): the run fails with this message."""
