"""Fixtures for job tests: a customer's export bucket with two CSV streams, users, a project, a job."""

from __future__ import annotations

import uuid

import boto3
import pytest

from tests.integration.files import csv_bytes
from tests.integration.sources import s3_source
from tests.integration.users import User, signup_and_login

ROWS = [
    {"id": 1, "name": "ada", "amount": 1.5, "updated_at": "2024-05-01T10:00:00Z"},
    {"id": 2, "name": "bob", "amount": 2.25, "updated_at": "2024-05-02T11:30:00Z"},
]


@pytest.fixture(scope="session")
def scheduler(local_cloud):
    return boto3.client("scheduler", endpoint_url=local_cloud.aws_endpoint, region_name="us-east-1")


@pytest.fixture(scope="session")
def source_bucket(s3) -> str:
    """Two streams under exports/: `orders` and `customers`."""
    name = f"job-exports-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="exports/orders/orders-1.csv", Body=csv_bytes(ROWS))
    s3.put_object(Bucket=name, Key="exports/customers/customers.csv", Body=csv_bytes(ROWS[:1]))
    return name


def source_ref(bucket: str, name: str = "exports") -> dict:
    return {"name": name, "type": "s3", "version": "v1", "config": s3_source(bucket, prefix="exports/")}


def dest_ref(name: str = "lake") -> dict:
    return {"name": name, "type": "parquet", "version": "v1", "config": {"path": f"tables/{name}"}}


def job_body(bucket: str, name: str = "orders-sync", **extra) -> dict:
    body = {
        "name": name,
        "source": source_ref(bucket),
        "destination": dest_ref(),
        "streams_config": {
            "streams": [
                {
                    "stream_name": "orders",
                    "sync_mode": "full_refresh",
                    "destination_sync_mode": "append",
                    "primary_key": ["id"],
                }
            ]
        },
        "frequency": "manual",
    }
    body.update(extra)
    return body


@pytest.fixture
def job(alice: User, project: str, source_bucket: str) -> dict:
    r = alice.call("POST", f"/api/v1/project/{project}/jobs", json=job_body(source_bucket))
    assert r.status_code == 201, r.text
    return r.json()["data"]


# Module-scoped variants: one user, project and job shared by a module's tests that can share them.
@pytest.fixture(scope="module")
def owner(base_url) -> User:
    return signup_and_login(base_url, "owner")


@pytest.fixture(scope="module")
def shared_project(owner: User) -> str:
    return owner.new_project()


@pytest.fixture(scope="module")
def shared_job(owner: User, shared_project: str, source_bucket: str) -> dict:
    r = owner.call("POST", f"/api/v1/project/{shared_project}/jobs", json=job_body(source_bucket))
    assert r.status_code == 201, r.text
    return r.json()["data"]
