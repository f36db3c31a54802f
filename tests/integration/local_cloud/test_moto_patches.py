"""Where the local cloud corrects moto to behave as AWS does: DynamoDB applies concurrent writes to one
item one at a time, and S3 serves a ranged GET by reading the range, not the whole object."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.s3.models import FakeKey


def test_concurrent_counter_updates_are_not_lost(moto_endpoint, local_cloud):
    ddb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    table = f"counter-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def bump(_: int) -> None:
        client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
        for _ in range(25):
            client.update_item(
                TableName=table,
                Key={"pk": {"S": "c"}},
                UpdateExpression="ADD n :one, seen :me",
                ExpressionAttributeValues={":one": {"N": "1"}, ":me": {"SS": [uuid.uuid4().hex]}},
            )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(bump, range(8)))
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "c"}}, ConsistentRead=True)["Item"]
    assert int(item["n"]["N"]) == 200
    assert len(item["seen"]["SS"]) == 200


@pytest.fixture(scope="module")
def big_object(local_cloud, s3) -> tuple[str, bytes]:
    bucket = f"ranges-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    body = bytes(range(256)) * 4096  # 1 MiB, every offset's byte is known
    s3.put_object(Bucket=bucket, Key="big.bin", Body=body)
    return bucket, body


@pytest.mark.parametrize(
    "header", ["bytes=0-0", "bytes=1000-70000", "bytes=1048000-", "bytes=1048000-9999999"]
)
def test_a_ranged_get_reads_only_its_range(s3, big_object, header, monkeypatch):
    bucket, body = big_object
    whole_reads: list[str] = []
    whole = FakeKey.value.fget
    monkeypatch.setattr(
        FakeKey, "value", property(lambda k: whole_reads.append(k.name) or whole(k), FakeKey.value.fset)
    )
    # The counting property replaced the local cloud's: put its range handling back on top of it
    # (monkeypatch restores both after the test).
    from moto.s3.responses import S3Response

    from infra.local import moto_patches

    monkeypatch.setattr(S3Response, "get_object", S3Response.get_object)
    moto_patches._ranged_s3_reads()
    got = s3.get_object(Bucket=bucket, Key="big.bin", Range=header)
    begin, _, end = header.removeprefix("bytes=").partition("-")
    stop = min(int(end) + 1, len(body)) if end else len(body)
    assert got["Body"].read() == body[int(begin) : stop]
    assert got["ContentRange"] == f"bytes {begin}-{stop - 1}/{len(body)}"
    assert whole_reads == []


def test_other_ranges_keep_s3_answers(s3, big_object):
    bucket, body = big_object
    assert s3.get_object(Bucket=bucket, Key="big.bin", Range="bytes=-10")["Body"].read() == body[-10:]
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == body
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=bucket, Key="big.bin", Range=f"bytes={len(body)}-")
    assert refused.value.response["Error"]["Code"] == "InvalidRange"


def test_concurrent_completes_of_one_upload_assemble_it_once(s3, big_object, monkeypatch):
    from moto.s3.models import FakeMultipart

    assembled: list[str] = []
    assemble = FakeMultipart.complete

    def slow_assembly(self, body):  # every complete arrives while the first is still assembling
        assembled.append(self.id)
        time.sleep(0.5)
        return assemble(self, body)

    monkeypatch.setattr(FakeMultipart, "complete", slow_assembly)
    bucket, _ = big_object
    upload = s3.create_multipart_upload(Bucket=bucket, Key="twice.bin")["UploadId"]
    part = b"x" * (5 << 20)
    etags = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(Bucket=bucket, Key="twice.bin", UploadId=upload, PartNumber=n, Body=part)[
                "ETag"
            ],
        }
        for n in (1, 2)
    ]

    def complete(_: int) -> str:
        try:
            s3.complete_multipart_upload(
                Bucket=bucket, Key="twice.bin", UploadId=upload, MultipartUpload={"Parts": etags}
            )
            return "completed"
        except ClientError as exc:
            return exc.response["Error"]["Code"]

    with ThreadPoolExecutor(4) as pool:
        answers = sorted(pool.map(complete, range(4)))
    assert set(answers) <= {"completed", "NoSuchUpload"} and "completed" in answers  # never a 500
    assert assembled == [upload]
    assert s3.head_object(Bucket=bucket, Key="twice.bin")["ContentLength"] == 10 << 20


def test_listing_versions_copies_no_contents(s3, big_object, monkeypatch):
    from moto.s3.models import FakeKey

    bucket, body = big_object
    copied: list[str] = []
    whole = FakeKey.__getstate__
    monkeypatch.setattr(FakeKey, "__getstate__", lambda k: copied.append(k.name) or whole(k))
    listed = s3.list_object_versions(Bucket=bucket, Prefix="big")
    assert [v["Key"] for v in listed["Versions"]] == ["big.bin"] and listed["Versions"][0]["IsLatest"]
    assert copied == []
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == body  # still readable
