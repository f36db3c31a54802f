"""One error taxonomy: every error is Transient or Terminal, and the engine's is_transient agrees.

The engine imports nothing from core, so its `is_transient` cannot test `isinstance(exc, Transient)`;
it reads the `transient` each kind declares. The table below holds a sample of every kind the workflow
and the API tell apart; a new error class whose kind the engine would misjudge belongs in it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.core.connectors import CheckFailed
from functions.core.errors import (
    Conflict,
    Invalid,
    NameTaken,
    NotFound,
    Terminal,
    TooManyRequests,
    Transient,
)
from functions.core.repositories.base import StoreRefused
from functions.engine import (
    CommitError,
    EngineError,
    SchemaError,
    SourceChangedError,
    SourceNotFoundError,
    SourceUnavailableError,
    UnreadableFileError,
    UnsafeKeyError,
    is_transient,
)
from functions.workflow.errors import SyncError, TransientError

ASL = Path(__file__).resolve().parents[3] / "infra" / "state_machines" / "sync.asl.json"

# core's taxonomy (and the classes derived from it): transient exactly when a Transient
TAXONOMY = [
    Transient(),
    Transient("the table is busy"),
    TransientError("s3://lake/a.csv: SlowDown"),
    SyncError("the job's source is gone"),
    CheckFailed("cannot write to s3://lake/probe"),
    Invalid("bad field", field="name"),
    NotFound(),
    Conflict(),
    NameTaken(),
    TooManyRequests(),
    StoreRefused("Writing the run failed: ValidationException"),
]

# the engine's own errors and the I/O failures it reads, with the kind the workflow must give them
ENGINE = [
    (SourceUnavailableError("read timed out"), True),
    (OSError("AWS Error NETWORK_CONNECTION during GetObject"), True),
    (OSError("AWS Error SLOW_DOWN during GetObject"), True),
    (OSError("HTTP status 503"), True),
    (FileNotFoundError("s3://lake/a.csv: no such key"), False),
    (PermissionError("AccessDenied"), False),
    (EngineError("unknown format 'xml'"), False),
    (UnreadableFileError("a.csv: not gzip"), False),
    (SourceNotFoundError("s3://lake/a.csv"), False),
    (SourceChangedError("s3://lake/a.csv changed"), False),
    (UnsafeKeyError("a/../b"), False),
    (SchemaError("unknown type 'money'"), False),
    (CommitError("the commit was refused"), False),
    (ValueError("a bug"), False),
]


@pytest.mark.parametrize("exc", TAXONOMY, ids=lambda e: type(e).__name__)
def test_every_error_of_the_taxonomy_is_one_kind(exc: Exception) -> None:
    assert isinstance(exc, Transient) != isinstance(exc, Terminal)


@pytest.mark.parametrize("exc", TAXONOMY, ids=lambda e: type(e).__name__)
def test_the_engine_agrees_with_the_taxonomy(exc: Exception) -> None:
    assert is_transient(exc) is isinstance(exc, Transient)


@pytest.mark.parametrize(("exc", "transient"), ENGINE, ids=lambda v: type(v).__name__)
def test_the_engine_tells_its_own_failures_apart(exc: Exception, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_the_names_the_state_machine_retries_on_are_transient() -> None:
    """Step Functions matches the error's class name: renaming TransientError would stop the retries."""

    def retried(node: object) -> set[str]:
        if isinstance(node, dict):
            names = {n for r in node.get("Retry", []) for n in r["ErrorEquals"]}
            return names.union(*(retried(v) for v in node.values()))
        if isinstance(node, list):
            return set().union(*(retried(v) for v in node))
        return set()

    assert TransientError.__name__ in retried(json.loads(ASL.read_text()))
    assert issubclass(TransientError, Transient)
