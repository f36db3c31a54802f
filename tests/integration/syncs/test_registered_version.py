"""The ingest worker reads exactly the object it registered (issue 18's second reproduction, over
HTTP): a reused Idempotency-Key with other content is a 409 and stores nothing, and an object
overwritten under its key is still read at the version its event named, so no rows are lost or
counted twice."""

from __future__ import annotations

import io

import pyarrow.parquet as pq

from .conftest import Tenant


def _csv(ids: range) -> bytes:
    return b"id,note\n" + b"".join(f"{i},{'x' * 12}\n".encode() for i in ids)


def _lake_ids(s3, bucket: str, files: list[dict]) -> list[int]:
    ids: list[int] = []
    for f in files:
        for uri in f["lake_files"]:
            key = uri.split("/", 3)[-1]
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            ids += pq.read_table(io.BytesIO(body)).column("id").to_pylist()
    return sorted(ids)


def test_a_reused_idempotency_key_with_other_content_is_a_409(tenant: Tenant, s3, local_cloud):
    first, other = _csv(range(300, 303)), _csv(range(400, 406))
    assert len(first) == 59  # the first file: 59 bytes, ids 300-302
    sync_id = tenant.start(sync_type="FullSync")
    key = {"Idempotency-Key": "same-csv-1"}
    r = tenant.upload(sync_id, "same.csv", first, headers=key)
    assert r.status_code == 200 and r.json() == {"code": 0, "msg": None}, r.text
    r = tenant.upload(sync_id, "same.csv", other, headers=key)
    assert r.status_code == 409 and r.json()["code"] != 0 and "Idempotency-Key" in r.json()["msg"], r.text
    r = tenant.upload(sync_id, "other.csv", first, headers=key)  # the key named another file
    assert r.status_code == 409, r.text
    r = tenant.upload(sync_id, "same.csv", first, headers=key)  # a true retry: same answer, no new object
    assert r.status_code == 200, r.text
    assert tenant.end(sync_id).status_code == 200
    done = tenant.wait_done(sync_id)
    assert done["sync_status"] == "Finished" and done["total_files"] == 1, done
    (f,) = tenant.files(sync_id)
    assert f["sync_status"] == "Finished" and (f["read"], f["inserted"]) == (3, 3), f
    assert _lake_ids(s3, local_cloud.bucket, [f]) == [300, 301, 302]


def test_an_object_overwritten_under_its_key_is_read_at_the_registered_version(
    tenant: Tenant, s3, local_cloud
):
    """Two S3 events for one key (the second object overwrote the first before the worker read it): each
    is its own object, read at its own version id; the old worker read the newest object for both."""
    sync_id = tenant.start()
    key = f"uploads/{tenant.project}/{sync_id}/0123456789abcdef/same.csv"
    s3.put_object(Bucket=local_cloud.bucket, Key=key, Body=_csv(range(300, 303)))
    s3.put_object(Bucket=local_cloud.bucket, Key=key, Body=_csv(range(400, 406)))
    counted = tenant.wait_counted(sync_id, 2)
    assert counted["total_files"] == 2 and counted["in_flight"] == 0, counted
    assert tenant.end(sync_id).status_code == 200
    done = tenant.wait_done(sync_id)
    assert done["sync_status"] == "Finished" and (done["read"], done["inserted"]) == (9, 9), done
    files = tenant.files(sync_id)
    assert sorted(f["read"] for f in files) == [3, 6]
    assert _lake_ids(s3, local_cloud.bucket, files) == [300, 301, 302, 400, 401, 402, 403, 404, 405]
