"""Issue 18's first reproduction over HTTP: a job over 60 CSV files (1,200 rows) runs a full refresh
that overwrites an Iceberg table; right after the plan one source file is deleted. Put back 2.1 s
later, a later read finds it and the run commits all 1,200 rows; never put back, the run fails and the
table keeps its snapshot and its 1,200 rows (the old code overwrote it with 1,180)."""

from __future__ import annotations

import threading
import uuid

import pytest

from functions.core.services import runs
from tests.integration.files import csv_bytes
from tests.integration.runs.conftest import wait_run
from tests.integration.sources import s3_source
from tests.integration.users import User

FILES = 60
ROWS_PER_FILE = 20


def _file(i: int) -> bytes:
    first = i * ROWS_PER_FILE
    return csv_bytes([{"id": n, "amount": n / 4} for n in range(first, first + ROWS_PER_FILE)])


@pytest.fixture(scope="module")
def sixty_files(s3) -> tuple[str, str]:
    bucket = f"vanish-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    for i in range(FILES):
        s3.put_object(Bucket=bucket, Key=f"exports/orders/{i:02d}.csv", Body=_file(i))
    return bucket, "exports/orders/37.csv"


def _job(user: User, project: str, bucket: str) -> str:
    body = {
        "name": "orders",
        "frequency": "manual",
        "source": {"name": "exports", "type": "s3", "version": "v1",
                   "config": s3_source(bucket, prefix="exports/")},
        "destination": {"name": "warehouse", "type": "iceberg", "version": "v1",
                        "config": {"catalog": "glue", "database": "sales"}},
        "streams_config": {"streams": [{"stream_name": "orders", "sync_mode": "full_refresh",
                                        "destination_sync_mode": "overwrite", "primary_key": ["id"]}]},
    }  # fmt: skip
    r = user.call("POST", f"/api/v1/project/{project}/jobs", json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]["id"]


def _sync(user: User, project: str, job_id: str) -> dict:
    r = user.call("POST", f"/api/v1/project/{project}/jobs/{job_id}/sync")
    assert r.status_code == 200, r.text
    run_id = r.json()["data"]["id"]
    return wait_run(_Ref(project), run_id, timeout=90)


class _Ref:
    def __init__(self, project_id: str) -> None:
        self.project_id = project_id


def _table(project: str):
    from functions.core.connectors.iceberg import glue_database
    from functions.core.settings import get_settings
    from functions.engine import glue_catalog

    s = get_settings()
    catalog = glue_catalog(f"s3://{s.data_bucket}/lake/{project}/iceberg", s.endpoint_url, s.region)
    return catalog.load_table((glue_database(project, "sales"), "orders"))


def _ids(table) -> list[int]:
    return sorted(table.scan(selected_fields=("id",)).to_arrow().column("id").to_pylist())


def test_a_file_deleted_after_the_plan_is_retried_and_never_costs_the_table_its_rows(
    alice, project, s3, sixty_files, monkeypatch
):
    from functions.workflow import plan as plan_step

    bucket, victim = sixty_files
    job_id = _job(alice, project, bucket)
    first = _sync(alice, project, job_id)
    assert first["state"] == "succeeded", first
    assert _ids(_table(project)) == list(range(FILES * ROWS_PER_FILE))

    real_plan = plan_step.plan
    put_back: list[threading.Timer] = []

    def plan_then_delete(event, back_after: float | None):
        out = real_plan(event)
        s3.delete_object(Bucket=bucket, Key=victim)
        if back_after is not None:
            timer = threading.Timer(
                back_after, lambda: s3.put_object(Bucket=bucket, Key=victim, Body=_file(37))
            )
            timer.start()
            put_back.append(timer)
        return out

    # Back 2.1 s later: the file is read again (1 s, 2 s, 4 s apart) and the run commits every row.
    monkeypatch.setattr(plan_step, "plan", lambda e: plan_then_delete(e, 2.1))
    second = _sync(alice, project, job_id)
    assert second["state"] == "succeeded", second
    assert second["stats"]["read"] == FILES * ROWS_PER_FILE
    table = _table(project)
    assert _ids(table) == list(range(FILES * ROWS_PER_FILE))

    # Never back: the run fails, and the table keeps its snapshot and its rows.
    snapshot = table.current_snapshot().snapshot_id
    monkeypatch.setattr(plan_step, "plan", lambda e: plan_then_delete(e, None))
    third = _sync(alice, project, job_id)
    assert third["state"] == "failed", third
    assert "exports/orders/37.csv" in third["error"] and "Nothing was committed" in third["error"]
    table = _table(project)
    assert table.current_snapshot().snapshot_id == snapshot
    assert _ids(table) == list(range(FILES * ROWS_PER_FILE))
    assert runs.get_run(project, third["id"])["stats"]["inserted"] == 0
    for timer in put_back:
        timer.join()
