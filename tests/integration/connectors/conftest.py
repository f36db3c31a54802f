"""Fixtures for connector tests: a source bucket in the local cloud's S3 with real files of every format."""

from __future__ import annotations

import uuid

import boto3
import pytest

from tests.integration.files import avro_bytes, csv_bytes, gzip_csv_bytes, jsonl_bytes, parquet_bytes

ROWS = [
    {"id": 1, "name": "ada", "amount": 1.5, "updated_at": "2024-05-01T10:00:00Z"},
    {"id": 2, "name": "bob", "amount": 2.25, "updated_at": "2024-05-02T11:30:00Z"},
    {"id": 3, "name": "cy", "amount": 3.0, "updated_at": "2024-05-03T12:45:00Z"},
]


FILES = {
    "csv/orders-1.csv": csv_bytes(ROWS),
    "csv/orders-2.csv": csv_bytes(ROWS[:1]),
    "gzcsv/orders.csv.gz": gzip_csv_bytes(ROWS),
    "jsonl/events.jsonl": jsonl_bytes(ROWS),
    "parquet/part-0.parquet": parquet_bytes(ROWS),
    "avro/rows.avro": avro_bytes(ROWS),
    "mixed/a.csv": csv_bytes(ROWS),
    "mixed/b.parquet": parquet_bytes(ROWS),
}


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
