"""Fixtures shared by every test folder: fake AWS credentials, one moto server for the session, and one
local cloud on it with an HTTP client bound to its gateway (started only by the tests over HTTP that ask
for it: integration, contract and security)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import boto3
import pytest
import requests

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


# Folders whose session fixtures are dear (tests/infra: the CDK synths; tests/console: a browser and its
# own cloud) run whole on one xdist worker, and first: they are the longest.
WHOLE_FOLDERS = ("tests/infra", "tests/console")


def _scope(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return next((folder for folder in WHOLE_FOLDERS if path.startswith(folder + "/")), path)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    order = {folder: i for i, folder in enumerate(WHOLE_FOLDERS)}
    items.sort(key=lambda item: order.get(_scope(item.nodeid), len(order)))  # stable: file order kept


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`make test` runs two xdist workers: each test file runs whole on one of them (its module fixtures
    are made once), each of WHOLE_FOLDERS too, in the order collected."""
    from xdist.scheduler import LoadScopeScheduling

    class ByFileAndFolder(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _scope(nodeid)

    config.option.loadscopereorder = False
    return ByFileAndFolder(config, log)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server on a free loopback port, shared by the whole test session."""
    from moto.server import ThreadedMotoServer

    from infra.local import moto_patches

    moto_patches.apply()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def local_cloud(moto_endpoint: str) -> Iterator:
    """The local cloud on free ports, provisioned on the session's moto server, env vars exported."""
    from infra.local import LocalCloud

    cloud = LocalCloud(
        gateway_port=0,
        aws_endpoint=moto_endpoint,
        scheduler_interval=2.0,
        quiet=True,
    )
    cloud.start()
    from functions.core import aws  # cached clients made before the env was set would escape it

    aws.client.cache_clear()
    try:
        yield cloud
    finally:
        cloud.stop()


class GatewaySession(requests.Session):
    """A requests.Session whose relative URLs (`/health`) go to the gateway; a 30 s default timeout."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        if url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", 30)
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def http(local_cloud) -> Iterator[GatewaySession]:
    """An HTTP client for the gateway: `http.get("/health")`."""
    with GatewaySession(local_cloud.gateway_url) as session:
        yield session


@pytest.fixture(scope="session")
def base_url(local_cloud) -> str:
    return local_cloud.gateway_url.rstrip("/")


@pytest.fixture(scope="session")
def s3(local_cloud):
    """An S3 client on the local cloud's moto server."""
    return boto3.client("s3", endpoint_url=local_cloud.aws_endpoint, region_name="us-east-1")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator:
    """A real PostgreSQL (the machine's package, wal_level=logical) in a temporary folder, for the session."""
    from tests.postgres import start_server

    server = start_server(free_port())
    try:
        yield server
    finally:
        server.stop()
