"""What the contract modules share: a customer's export bucket with real CSV files, and waiting for a run
to end. Each module signs up its own user once and reuses its project and job for every test."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.integration.files import csv_bytes
from tests.integration.sources import s3_source as s3_config
from tests.integration.users import User

ROWS = [
    {"id": 1, "name": "ada", "amount": 1.5},
    {"id": 2, "name": "bob", "amount": 2.25},
]
ENDED = ("succeeded", "failed", "cancelled")


@pytest.fixture(scope="session")
def exports(s3) -> str:
    """A bucket like a customer's exports: two files in stream `orders`, one in `customers`."""
    name = f"contract-exports-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="exports/orders/part-1.csv", Body=csv_bytes(ROWS))
    s3.put_object(Bucket=name, Key="exports/orders/part-2.csv", Body=csv_bytes(ROWS[:1]))
    s3.put_object(Bucket=name, Key="exports/customers/all.csv", Body=csv_bytes(ROWS))
    return name


def s3_source(bucket: str, name: str = "exports") -> dict:
    return {"name": name, "type": "s3", "version": "v1", "config": s3_config(bucket, prefix="exports/")}


def parquet_destination(name: str = "lake") -> dict:
    return {"name": name, "type": "parquet", "version": "v1", "config": {"path": f"tables/{name}"}}


def new_job(user: User, project: str, bucket: str, name: str) -> dict:
    body = {
        "name": name,
        "source": s3_source(bucket),
        "destination": parquet_destination(),
        "frequency": "manual",
        "streams_config": {"streams": [{"stream_name": "orders"}]},
    }
    r = user.call("POST", f"/api/v1/project/{project}/jobs", json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]


def wait_run_end(user: User, project: str, job_id, run_id: str, timeout: float = 60) -> None:
    """Until the run has ended (read through the native task list)."""
    deadline = time.monotonic() + timeout
    while True:
        page = user.call("GET", f"/api/v1/project/{project}/jobs/{job_id}/tasks").json()["data"]
        run = next((r for r in page if r["id"] == run_id), None)
        if run and run["status"] in ENDED:
            return
        assert time.monotonic() < deadline, f"run {run_id} did not end: {run}"
        time.sleep(0.3)
