"""Fixtures for the postgres source's tests: a fresh database of the session's server per test module,
and the plugin pointed at it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.postgres.helpers import Database


@pytest.fixture(scope="module")
def db(postgres_server) -> Iterator[Database]:
    name = f"t_{uuid.uuid4().hex[:10]}"
    postgres_server.create_database(name)
    database = Database(postgres_server, name)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture(scope="module")
def source(db: Database) -> Callable[..., Any]:
    """``source(schemas=[...], slot=..., publication=..., chunk_size=...)``: the plugin on ``db``."""
    return db.source
