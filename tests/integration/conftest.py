"""Fixtures for tests over real HTTP: one local cloud per session (on the session's moto server) and
an HTTP client bound to its gateway."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
import requests

from tests.integration.users import User, signup_and_login


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


@pytest.fixture
def alice(base_url) -> User:
    return signup_and_login(base_url, "alice")


@pytest.fixture
def bob(base_url) -> User:
    return signup_and_login(base_url, "bob")


@pytest.fixture
def project(alice: User) -> str:
    return alice.new_project()
