"""S3 objects read at the version that was listed or registered (moto server): a replaced or deleted
object is never read in its place, an archived one is a clear verdict, byte-range units read alike."""

from __future__ import annotations

import uuid

import boto3
import pytest

from functions.engine import (
    ObjectVersion,
    SourceChangedError,
    SourceNotFoundError,
    StreamSchema,
    UnreadableFileError,
    ingest_file,
    open_s3_version,
    plan_units,
)

SCHEMA = StreamSchema.from_list([{"name": "id", "type": "int64"}, {"name": "v", "type": "string"}])


@pytest.fixture(scope="module")
def s3(moto_endpoint: str):
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture(scope="module")
def versioned(s3) -> str:
    name = f"pinned-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _csv(ids: range) -> bytes:
    return b"id,v\n" + b"".join(f"{i},row{i}\n".encode() for i in ids)


def _ids(source, **kw) -> list[int]:
    rows: list[int] = []

    class Sink:
        def write(self, table):
            rows.extend(table.column("id").to_pylist())

        def mark(self):
            return len(rows)

        def rollback(self, mark):
            del rows[mark:]

    stats = ingest_file(source, SCHEMA, Sink(), fmt="csv", **kw)
    assert stats.errors == 0, stats.error
    return rows


def test_a_registered_version_is_read_after_the_key_was_overwritten(s3, versioned):
    first = s3.put_object(Bucket=versioned, Key="same.csv", Body=_csv(range(300, 303)))
    s3.put_object(Bucket=versioned, Key="same.csv", Body=_csv(range(400, 406)))
    uri = f"s3://{versioned}/same.csv"
    by_version = open_s3_version(uri, s3, ObjectVersion(first["ETag"], first["VersionId"]))
    assert by_version.size == len(_csv(range(300, 303)))
    assert _ids(by_version) == [300, 301, 302]
    with pytest.raises(SourceChangedError, match="changed since it was listed"):
        open_s3_version(uri, s3, ObjectVersion(etag=first["ETag"]))  # the ETag pin: the key holds another


def test_an_object_replaced_between_open_and_read_is_never_read_in_its_place(s3, versioned):
    put = s3.put_object(Bucket=versioned, Key="moving.csv", Body=_csv(range(1, 4)))
    source = open_s3_version(f"s3://{versioned}/moving.csv", s3, ObjectVersion(etag=put["ETag"]))
    s3.put_object(Bucket=versioned, Key="moving.csv", Body=_csv(range(7, 20)))
    with pytest.raises(SourceChangedError):  # raised, not counted: the caller retries, then fails
        ingest_file(source, SCHEMA, None, fmt="csv")


def test_a_deleted_object_is_not_found_and_an_archived_one_is_unreadable(s3, versioned):
    put = s3.put_object(Bucket=versioned, Key="gone.csv", Body=_csv(range(3)))
    s3.delete_object(Bucket=versioned, Key="gone.csv")
    with pytest.raises(SourceNotFoundError, match="file not found"):
        open_s3_version(f"s3://{versioned}/gone.csv", s3, ObjectVersion(etag=put["ETag"]))
    cold = s3.put_object(Bucket=versioned, Key="cold.csv", Body=_csv(range(3)), StorageClass="GLACIER")
    source = open_s3_version(f"s3://{versioned}/cold.csv", s3, ObjectVersion(etag=cold["ETag"]))
    stats = ingest_file(source, SCHEMA, None, fmt="csv")
    assert stats.errors == 1 and "InvalidObjectState" in (stats.error or "")
    with pytest.raises(UnreadableFileError):
        ingest_file(source, SCHEMA, None, fmt="csv", raise_errors=True)


def test_byte_range_units_of_a_pinned_object_give_every_row_once(s3, versioned):
    body = _csv(range(5000))
    put = s3.put_object(Bucket=versioned, Key="big.csv", Body=body)
    source = open_s3_version(f"s3://{versioned}/big.csv", s3, ObjectVersion(put["ETag"], put["VersionId"]))
    units = plan_units(source, 8 << 10, fmt="csv")
    assert len(units) > 3
    seen: list[int] = []
    for unit in units:
        seen += _ids(source, unit=unit)
    assert seen == list(range(5000))
