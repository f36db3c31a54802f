"""Fixtures for the engine's Iceberg tests: a bucket and a Glue catalog on the session's moto server."""

from __future__ import annotations

import uuid

import boto3
import pyarrow.fs as pafs
import pytest

from functions.engine import glue_catalog


@pytest.fixture(scope="session")
def lake_bucket(moto_endpoint: str) -> str:
    name = f"engine-lake-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def s3fs(moto_endpoint: str) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(
        endpoint_override=moto_endpoint, region="us-east-1", access_key="testing", secret_key="testing",
        scheme="http", allow_bucket_creation=True,
    )  # fmt: skip


@pytest.fixture()
def catalog(moto_endpoint: str, lake_bucket: str):
    return glue_catalog(f"s3://{lake_bucket}/warehouse", endpoint_url=moto_endpoint, region="us-east-1")


@pytest.fixture()
def namespace() -> str:
    return f"ns_{uuid.uuid4().hex[:8]}"
