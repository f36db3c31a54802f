"""Fixtures for connector tests: a source bucket in the local cloud's S3 with real files of every format."""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid

import boto3
import pytest

from tests.integration.api.conftest import User, signup_and_login

ROWS = [
    {"id": 1, "name": "ada", "amount": 1.5, "updated_at": "2024-05-01T10:00:00Z"},
    {"id": 2, "name": "bob", "amount": 2.25, "updated_at": "2024-05-02T11:30:00Z"},
    {"id": 3, "name": "cy", "amount": 3.0, "updated_at": "2024-05-03T12:45:00Z"},
]


def _csv(rows: list[dict], delimiter: str = ",") -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


def _jsonl(rows: list[dict]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def _parquet(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


def _avro(rows: list[dict]) -> bytes:
    import fastavro

    schema = {
        "type": "record",
        "name": "row",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "name", "type": "string"},
            {"name": "amount", "type": "double"},
            {"name": "updated_at", "type": "string"},
        ],
    }
    buf = io.BytesIO()
    fastavro.writer(buf, fastavro.parse_schema(schema), rows)
    return buf.getvalue()


FILES = {
    "csv/orders-1.csv": _csv(ROWS),
    "csv/orders-2.csv": _csv(ROWS[:1]),
    "gzcsv/orders.csv.gz": gzip.compress(_csv(ROWS)),
    "jsonl/events.jsonl": _jsonl(ROWS),
    "parquet/part-0.parquet": _parquet(ROWS),
    "avro/rows.avro": _avro(ROWS),
    "mixed/a.csv": _csv(ROWS),
    "mixed/b.parquet": _parquet(ROWS),
}


@pytest.fixture(scope="session")
def s3(local_cloud):
    return boto3.client("s3", endpoint_url=local_cloud.aws_endpoint, region_name="us-east-1")


@pytest.fixture(scope="session")
def source_bucket(s3) -> str:
    """A bucket outside the service, like a customer's export bucket, holding every format."""
    name = f"shop-exports-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    for key, body in FILES.items():
        s3.put_object(Bucket=name, Key=f"exports/{key}", Body=body)
    s3.put_object(Bucket=name, Key="exports/csv/_SUCCESS", Body=b"")
    return name


@pytest.fixture(scope="session")
def secrets_client(local_cloud):
    return boto3.client("secretsmanager", endpoint_url=local_cloud.aws_endpoint, region_name="us-east-1")


@pytest.fixture(scope="session")
def glue(local_cloud):
    return boto3.client("glue", endpoint_url=local_cloud.aws_endpoint, region_name="us-east-1")


@pytest.fixture(scope="session")
def dynamodb(local_cloud):
    return boto3.client("dynamodb", endpoint_url=local_cloud.aws_endpoint, region_name="us-east-1")


@pytest.fixture(scope="session")
def base_url(local_cloud) -> str:
    return local_cloud.gateway_url.rstrip("/")


@pytest.fixture
def alice(base_url) -> User:
    return signup_and_login(base_url, "alice")


@pytest.fixture
def bob(base_url) -> User:
    return signup_and_login(base_url, "bob")


@pytest.fixture
def project(alice: User) -> str:
    return alice.new_project()
