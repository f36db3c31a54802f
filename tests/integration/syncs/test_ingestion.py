"""S3 event-triggered ingestion: every file counted once however S3 delivers its events (twice, out of
order, a Put and a CompleteMultipartUpload for one object), malformed files, and the end of a sync: a
full sync moves the path's earlier files to trash, an incremental one keeps them."""

from __future__ import annotations

import hashlib
import json
import uuid

import requests

from infra.local import runtime

from .conftest import Tenant, csv_bytes, keys, parquet_bytes


def s3_event(
    bucket: str, key: str, etag: str, size: int, name: str = "ObjectCreated:Put", version=None
) -> dict:
    obj = {"key": key, "size": size, "eTag": etag.strip('"'), "sequencer": "0066322E40A1B2C3D4"}
    if version:
        obj["versionId"] = version
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventName": name,
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": obj},
    }


def sqs_batch(*s3_records: dict) -> dict:
    records = []
    for rec in s3_records:
        body = json.dumps({"Records": [rec]})
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingestplane-local-ingest",
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


def put_upload(s3, bucket: str, tenant: Tenant, sync_id: int, name: str, data: bytes) -> tuple[str, str]:
    key = f"uploads/{tenant.project}/{sync_id}/{uuid.uuid4().hex[:16]}/{name}"
    resp = s3.put_object(Bucket=bucket, Key=key, Body=data)
    return key, resp["ETag"]


def test_duplicate_and_reordered_events_count_each_file_once(tenant: Tenant, s3, local_cloud):
    bucket = local_cloud.bucket
    sync_id = tenant.start(path="events")
    a = put_upload(s3, bucket, tenant, sync_id, "a.csv", csv_bytes(3))
    b = put_upload(s3, bucket, tenant, sync_id, "b.parquet", parquet_bytes(4))
    ev_a, ev_b = (s3_event(bucket, k, e, 10) for k, e in (a, b))
    ev_a_complete = s3_event(bucket, a[0], a[1], 10, "ObjectCreated:CompleteMultipartUpload")
    # B before A, A twice and as both event kinds, in one batch and again in another; the local
    # cloud's poller delivers the real events as well.
    result = runtime.invoke("ingest", sqs_batch(ev_b, ev_a, ev_a_complete, ev_b, ev_a))
    assert result == {"batchItemFailures": []}
    assert runtime.invoke("ingest", sqs_batch(ev_a, ev_b)) == {"batchItemFailures": []}
    counted = tenant.wait_counted(sync_id, 2)
    assert counted["total_files"] == 2 and counted["num_failed"] == 0 and counted["in_flight"] == 0, counted
    assert tenant.end(sync_id).json() == {"success": True}
    done = tenant.wait_done(sync_id)
    assert done["sync_status"] == "Finished" and done["total_files"] == 2, done
    # Replayed after the end: still nothing counted twice.
    assert runtime.invoke("ingest", sqs_batch(ev_a_complete, ev_b)) == {"batchItemFailures": []}
    again = tenant.sync(sync_id)
    assert (again["total_files"], again["num_failed"], again["read"]) == (2, 0, 7)
    files = tenant.files(sync_id)
    assert sorted(f["file_name"] for f in files) == ["a.csv", "b.parquet"]
    lake = keys(s3, bucket, f"lake/{tenant.project}/events/")
    assert len(lake) == 2, lake


def test_events_for_unknown_syncs_and_other_keys_are_acknowledged(local_cloud, tenant: Tenant):
    bucket = local_cloud.bucket
    events = sqs_batch(
        s3_event(bucket, f"uploads/{tenant.project}/999999/tok/x.csv", "abc", 3),
        s3_event(bucket, "uploads/nonsense", "abc", 3),
        s3_event("another-bucket", f"uploads/{tenant.project}/1/tok/x.csv", "abc", 3),
    )
    events["Records"].append({**events["Records"][0], "messageId": "not-json", "body": "{oops"})
    assert runtime.invoke("ingest", events) == {"batchItemFailures": []}


def test_a_malformed_file_fails_with_a_specific_message(tenant: Tenant):
    sync_id = tenant.start(path="broken")
    assert (
        tenant.upload(sync_id, "broken.parquet", b"PAR1 this is not parquet at all PAR1").status_code == 200
    )
    assert tenant.upload(sync_id, "good.csv", csv_bytes(2)).status_code == 200
    assert tenant.end(sync_id).json() == {"success": True}
    done = tenant.wait_done(sync_id)
    assert done["sync_status"] == "Finished", done  # the sync completed; one of its files did not
    assert done["total_files"] == 2 and done["num_failed"] == 1
    files = {f["file_name"]: f for f in tenant.files(sync_id)}
    bad = files["broken.parquet"]
    assert bad["sync_status"] == "Failed" and "broken.parquet" in bad["message"] and len(bad["message"]) > 20
    assert bad["end_time"] >= bad["start_time"] > 0
    assert files["good.csv"]["sync_status"] == "Finished"


def test_full_sync_moves_earlier_files_to_trash_and_incremental_keeps_them(tenant: Tenant, s3, local_cloud):
    bucket, project = local_cloud.bucket, tenant.project
    lake = f"lake/{project}/sales/daily/"

    first = tenant.start(path="/sales/daily", sync_type="IncrementalSync")
    tenant.upload(first, "day1.csv", csv_bytes(1))
    tenant.end(first)
    assert tenant.wait_done(first)["sync_status"] == "Finished"
    (day1,) = keys(s3, bucket, lake)

    nested = tenant.start(path="/sales/daily/archive")  # another path under it: not touched
    tenant.upload(nested, "old.csv", csv_bytes(1))
    tenant.end(nested)
    assert tenant.wait_done(nested)["sync_status"] == "Finished"

    full = tenant.start(path="sales//daily/", sync_type="FullSync")
    tenant.upload(full, "all.csv", csv_bytes(5))
    counted = tenant.wait_counted(full, 1)
    assert counted["total_files"] == 1
    assert keys(s3, bucket, lake) == sorted([day1, *keys(s3, bucket, lake + "archive/")])  # not yet swapped
    tenant.end(full)
    done = tenant.wait_done(full)
    assert done["sync_status"] == "Finished", done
    now = [k for k in keys(s3, bucket, lake) if "/archive/" not in k]
    assert len(now) == 1 and now[0].rsplit("/", 1)[-1].startswith(f"s{full}-"), now
    trashed = keys(s3, bucket, f"trash/{project}/{full}/")
    assert trashed == [f"trash/{project}/{full}/sales/daily/{day1.rsplit('/', 1)[-1]}"]
    assert len(keys(s3, bucket, lake + "archive/")) == 1
    assert keys(s3, bucket, f"lake/{project}/.staging/") == []

    incremental = tenant.start(path="sales/daily", sync_type="IncrementalSync")
    tenant.upload(incremental, "day2.csv", csv_bytes(2))
    tenant.end(incremental)
    assert tenant.wait_done(incremental)["sync_status"] == "Finished"
    after = [k for k in keys(s3, bucket, lake) if "/archive/" not in k]
    assert len(after) == 2 and now[0] in after


def test_an_empty_full_sync_finishes_and_trashes_the_path(tenant: Tenant, s3, local_cloud):
    first = tenant.start(path="empty/target")
    tenant.upload(first, "x.csv", csv_bytes(1))
    tenant.end(first)
    tenant.wait_done(first)
    full = tenant.start(path="empty/target", sync_type="FullSync")
    assert tenant.end(full).json() == {"success": True}
    done = tenant.wait_done(full)
    assert done["sync_status"] == "Finished" and done["total_files"] == 0, done
    assert keys(s3, local_cloud.bucket, f"lake/{tenant.project}/empty/target/") == []
    assert len(keys(s3, local_cloud.bucket, f"trash/{tenant.project}/{full}/")) == 1


def test_the_sync_is_an_ingest_job_with_its_files_stats(tenant: Tenant):
    from functions.core.repositories.upload_syncs import SyncFileRecord, SyncSessionRecord

    sync_id = tenant.start(path="job")
    tenant.upload(sync_id, "rows.csv", csv_bytes(4))
    tenant.end(sync_id)
    tenant.wait_done(sync_id)
    (session,) = SyncSessionRecord.by_job.query(
        f"INGESTJOB#{tenant.project}", SyncSessionRecord.gsi1sk == f"sync-{sync_id}"
    )
    assert (session.read, session.inserted, session.rejected, session.errors) == (4, 4, 0, 0)
    (f,) = SyncFileRecord.query(session.pk, SyncFileRecord.sk.startswith(f"FILE#{sync_id:010d}#"))
    assert (f.read, f.inserted, f.rejected, f.errors) == (4, 4, 0, 0) and f.lake_files
    from functions.core.services.upload_syncs import ingest_job_records

    found = ingest_job_records(tenant.project, f"sync-{sync_id}")
    assert found and found[0].sync_id == sync_id and [x.file_name for x in found[1]] == ["rows.csv"]
    assert ingest_job_records(tenant.project, "sync-999999") is None
    assert ingest_job_records("another-project", f"sync-{sync_id}") is None


def test_a_record_that_fails_is_reported_alone(tenant: Tenant, s3, local_cloud):
    bucket = local_cloud.bucket
    sync_id = tenant.start(path="partial")
    good = put_upload(s3, bucket, tenant, sync_id, "good.csv", csv_bytes(1))
    missing = s3_event(
        bucket, f"uploads/{tenant.project}/{sync_id}/gone/gone.csv", "", 0
    )  # no ETag, no object
    batch = sqs_batch(s3_event(bucket, good[0], good[1], 10), missing)
    result = runtime.invoke("ingest", batch)
    assert result == {"batchItemFailures": [{"itemIdentifier": batch["Records"][1]["messageId"]}]}
    assert tenant.wait_counted(sync_id, 1)["total_files"] == 1


def test_a_retried_upload_with_its_idempotency_key_is_stored_and_counted_once(
    tenant: Tenant, s3, local_cloud
):
    sync_id = tenant.start()
    headers = {"Idempotency-Key": "file-1"}
    for _ in range(2):  # the answer to the first was lost: the client sends it again
        r = requests.post(
            f"{tenant.base}/api/lake/file/upload",
            params={"sync_id": sync_id, "api_key": tenant.key},
            files={"file": ("a.csv", csv_bytes(2))},
            headers=headers,
            timeout=30,
        )
        assert r.status_code == 200, r.text
    other = tenant.upload(sync_id, "a.csv", csv_bytes(2))  # no key: another upload of the same name
    assert other.status_code == 200
    assert tenant.end(sync_id).status_code == 200
    done = tenant.wait_done(sync_id)
    assert (done["sync_status"], done["total_files"], done["read"]) == ("Finished", 2, 4), done
    stored = keys(s3, local_cloud.bucket, f"uploads/{tenant.project}/{sync_id}/")
    assert len([k for k in stored if k.endswith("/a.csv")]) == 2
