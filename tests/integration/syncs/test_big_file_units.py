"""An uploaded file over UPLOAD_UNITS_THRESHOLD_BYTES goes through the sync state machine in byte-range
work units (issue 12 section 3): here a 6 MiB CSV with a 1 MiB threshold and 1 MiB units, uploaded by
presigned multipart into a sync with a table target. Counts are exact, the file is counted once even
when its S3 event arrives again, and the sync finishes only after the file's execution committed."""

from __future__ import annotations

import json

import pytest

from functions.core import aws
from functions.core.services import ingestion
from infra.local import runtime

from .conftest import Tenant, keys, read_parquet_rows
from .test_ingestion import s3_event, sqs_batch
from .test_multipart import chunks, put_part, start
from .test_table_target import _destination, _table

MiB = 1024 * 1024


@pytest.fixture
def small_units(monkeypatch):
    from functions.core.settings import get_settings

    monkeypatch.setenv("UPLOAD_UNITS_THRESHOLD_BYTES", str(MiB))
    monkeypatch.setenv("WORK_UNIT_BYTES", str(MiB))
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def six_mb_csv() -> tuple[bytes, int]:
    """Quoted values with commas: the units start at record starts found by the quote rule."""
    rows = 6 * MiB // 30
    body = b"".join(b'%d,"customer, %d",%d.25\n' % (n, n, n % 1000) for n in range(rows))
    return b"order_id,customer,amount\n" + body, rows


def test_a_big_upload_is_ingested_in_work_units_and_counted_once(
    tenant: Tenant, s3, local_cloud, small_units
):
    data, rows = six_mb_csv()
    _destination(tenant, "warehouse", "iceberg", {"catalog": "glue", "database": "sales"})
    sync_id = tenant.start(path="big/orders", destination="warehouse", table="orders")
    upload = start(tenant, sync_id, data, name="orders.csv")
    pieces = chunks(data, 5 * MiB)
    etags = [{"part_number": p["part_number"], "etag": put_part(p["url"], pieces[p["part_number"]])}
             for p in upload["parts"]]  # fmt: skip
    r = tenant.native(
        "POST", f"/syncs/{sync_id}/uploads/{upload['upload_id']}/complete", json={"parts": etags}
    )
    assert r.status_code == 200, r.text
    assert tenant.end(sync_id).status_code == 200
    done = tenant.wait_done(sync_id, timeout=150)
    assert done["sync_status"] == "Finished", done
    assert (done["total_files"], done["read"], done["inserted"], done["rejected"]) == (1, rows, rows, 0), done
    (entry,) = tenant.files(sync_id)
    assert entry["sync_status"] == "Finished" and entry["read"] == rows and entry["size"] == len(data)

    # It went through the state machine, in several units, and its execution has ended.
    record = _record(tenant, sync_id)
    name = ingestion.file_execution_name(tenant.project, sync_id, record.sk.rsplit("#", 1)[-1])
    sfn = aws.client("stepfunctions")
    arn = f"{local_cloud.state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    prefix = f"logs/{tenant.project}/syncs/{sync_id}/{record.sk.rsplit('#', 1)[-1]}/"
    units = json.loads(s3.get_object(Bucket=local_cloud.bucket, Key=prefix + "units.json")["Body"].read())
    assert len(units) >= 5
    lake = keys(s3, local_cloud.bucket, f"lake/{tenant.project}/big/orders/")
    assert sum(read_parquet_rows(s3, local_cloud.bucket, k) for k in lake) == rows
    assert _table(tenant, done["table"]).scan().to_arrow().num_rows == rows

    # The object's event again (a duplicate, a late redelivery): nothing is counted or started twice.
    event = s3_event(local_cloud.bucket, record.object_key, record.etag, len(data),
                     name="ObjectCreated:CompleteMultipartUpload")  # fmt: skip
    runtime.invoke("ingest", sqs_batch(event))
    again = tenant.sync(sync_id)
    assert (again["total_files"], again["read"], again["table_rows"]) == (1, rows, rows)
    ran = sfn.list_executions(stateMachineArn=local_cloud.state_machine_arn)["executions"]
    assert [e["name"] for e in ran].count(name) == 1


def _record(tenant: Tenant, sync_id: int):
    from functions.core.repositories.projects import project_pk
    from functions.core.repositories.upload_syncs import SyncFileRecord

    (record,) = SyncFileRecord.query(
        project_pk(tenant.project), SyncFileRecord.sk.startswith(f"FILE#{sync_id:010d}#")
    )
    return record
