"""Fixtures shared by every test folder: fake AWS credentials and one moto server for the session."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

# No test may reach real AWS: fake credentials and a fixed region before any client is made.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "ingestplane-test",
    }
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server on a free loopback port, shared by the whole test session."""
    from moto.server import ThreadedMotoServer

    from infra.local.moto_patches import serialize_dynamodb

    serialize_dynamodb()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator:
    """A real PostgreSQL (the machine's package, wal_level=logical) in a temporary folder, for the session."""
    from tests.postgres import start_server

    server = start_server(free_port())
    try:
        yield server
    finally:
        server.stop()
