"""Job runs end to end through the local cloud's real state machine: plan -> Map(ingest) -> commit."""

from __future__ import annotations

import json
import threading
import time

import pytest

from functions.core import aws
from functions.core.constants import MAP_RESULTS_PREFIX
from functions.core.errors import Conflict, NotFound
from functions.core.services import runs
from tests.integration.files import avro_bytes, csv_bytes, gzip_csv_bytes, jsonl_bytes, parquet_bytes
from tests.integration.runs.conftest import COLUMNS, ROWS, files_of, stream, wait_run


def test_every_format_lands_in_its_iceberg_table(make_job):
    job = make_job(
        [stream(s) for s in ("csv", "gzcsv", "jsonl", "parquet", "avro")],
        {
            "csv/a.csv": csv_bytes(ROWS),
            "gzcsv/a.csv.gz": gzip_csv_bytes(ROWS),
            "jsonl/a.jsonl": jsonl_bytes(ROWS),
            "parquet/a.parquet": parquet_bytes(ROWS),
            "avro/a.avro": avro_bytes(ROWS),
        },
    )
    started = runs.start_run(job.project_id, job.job_id, trigger="manual", started_by="ada")
    assert started["id"].startswith("isj-") and started["state"] in ("queued", "running", "succeeded")
    run = wait_run(job, started["id"])
    assert run["state"] == "succeeded", run
    assert run["trigger"] == "manual" and run["started_by"] == "ada"
    assert run["end_time"] and run["runtime_ms"] is not None and run["error"] is None
    assert run["stats"]["read"] == 15 and run["stats"]["inserted"] == 15
    assert run["stats"]["rejected"] == 0 and run["stats"]["errors"] == 0
    assert sorted(t["table_name"] for t in run["tables"]) == ["avro", "csv", "gzcsv", "jsonl", "parquet"]
    for table in run["tables"]:
        assert table["state"] == "succeeded" and table["read"] == 3 and table["inserted"] == 3
        (f,) = files_of(job, run["id"], table["table_name"])
        assert f["read"] == 3 and f["errors"] == 0 and f["file_id"] and f["name"].startswith(job.prefix)
        rows = job.rows(table["table_name"])
        assert [(r["id"], r["name"], r["amount"]) for r in rows] == [
            (r["id"], r["name"], r["amount"]) for r in ROWS
        ]
    item = job.item()
    assert item.current_run_id is None
    assert item.last_run_state == "succeeded" and item.last_run_id == run["id"] and item.last_run_time

    # Its log: JSON-lines events, paged with a cursor.
    everything, cursor = runs.run_logs(job.project_id, job.job_id, run["id"], limit=100, cursor=None)
    assert cursor is None and len(everything) >= 8
    for e in everything:
        assert set(e) >= {"level", "time", "message", "stream", "file"}
    assert "run started" in everything[0]["message"] and everything[-1]["message"] == "run succeeded"
    assert {e["file"] for e in everything if e["file"]} == {
        f"{job.prefix}{s}/a.{x}"
        for s, x in [
            ("csv", "csv"),
            ("gzcsv", "csv.gz"),
            ("jsonl", "jsonl"),
            ("parquet", "parquet"),
            ("avro", "avro"),
        ]
    }
    paged, cursor = [], None
    while True:
        page, cursor = runs.run_logs(job.project_id, job.job_id, run["id"], limit=3, cursor=cursor)
        assert len(page) <= 3
        paged += page
        if cursor is None:
            break
    assert paged == everything
    with pytest.raises(NotFound):
        runs.run_logs(job.project_id, "other-job", run["id"], limit=10, cursor=None)


def _start(job, **kw):
    return runs.start_run(job.project_id, job.job_id, trigger=kw.get("trigger", "manual"), started_by="ada")


def test_incremental_upsert_reads_only_the_new_file_and_counts_updates(make_job):
    job = make_job(
        [stream("orders", sync_mode="incremental", dest="upsert", pk=["id"], columns=COLUMNS)],
        {"orders/1.csv": csv_bytes(ROWS)},
    )
    first = wait_run(job, _start(job)["id"])
    assert first["state"] == "succeeded", first
    assert (first["stats"]["inserted"], first["stats"]["updated"]) == (3, 0)

    changed = [{"id": 2, "name": "bob", "amount": 20.0}, {"id": 3, "name": "cy", "amount": 30.0},
               {"id": 4, "name": "dee", "amount": 4.0}]  # fmt: skip
    job.put("orders/2.csv", csv_bytes(changed))
    second = wait_run(job, _start(job)["id"])
    assert second["state"] == "succeeded", second
    assert second["stats"]["read"] == 3  # only the new file
    assert (second["stats"]["inserted"], second["stats"]["updated"]) == (1, 2)
    (table,) = second["tables"]
    assert [f["name"] for f in files_of(job, second["id"], "orders")] == [f"{job.prefix}orders/2.csv"]
    assert (table["inserted"], table["updated"]) == (1, 2)
    assert [(r["id"], r["amount"]) for r in job.rows("orders")] == [(1, 1.5), (2, 20.0), (3, 30.0), (4, 4.0)]
    _retrying_the_commit_after_a_lost_answer_changes_nothing(job, second["id"], (1, 2))

    third = wait_run(job, _start(job)["id"])  # nothing new: nothing read, nothing changed
    assert third["state"] == "succeeded" and third["stats"]["read"] == 0
    assert len(job.rows("orders")) == 4


def _retrying_the_commit_after_a_lost_answer_changes_nothing(job, run_id: str, counts: tuple) -> None:
    """The commit step retried after its commit landed but before it recorded so (a lost answer):
    the table's history has the commit's token, so nothing is committed twice and the counts stand."""
    from functions.workflow import commit, store, units
    from functions.workflow.payloads import UnitResult

    prefix = runs.run_prefix(job.project_id, job.job_id, run_id)
    aws.client("s3").delete_object(Bucket=store.bucket(), Key=f"{prefix}commits/0000.json")
    snapshots = len(job.table("orders").metadata.snapshots)
    rows = job.rows("orders")
    entry = units.plan_doc(prefix).streams[0]
    results = [UnitResult.model_validate(r) for r in store.unit_results(prefix) if r["stream"] == 0]
    record = commit._commit_stream(entry, results, prefix, 0)
    assert (record.inserted, record.updated) == counts
    assert record.recovered is True
    assert len(job.table("orders").metadata.snapshots) == snapshots
    assert job.rows("orders") == rows


def test_incremental_append_picks_up_only_a_new_file_and_full_refresh_overwrites(make_job):
    job = make_job(
        [stream("orders", sync_mode="incremental", dest="append")], {"orders/1.jsonl": jsonl_bytes(ROWS)}
    )
    assert wait_run(job, _start(job)["id"])["stats"]["inserted"] == 3
    job.put("orders/2.jsonl", jsonl_bytes([{"id": 9, "name": "zed", "amount": 9.0}]))
    second = wait_run(job, _start(job)["id"])
    assert second["state"] == "succeeded" and second["stats"]["read"] == 1
    assert [r["id"] for r in job.rows("orders")] == [1, 2, 3, 9]

    job.set_streams([stream("orders", sync_mode="full_refresh", dest="append")])
    full = wait_run(job, _start(job)["id"])
    assert full["state"] == "succeeded" and full["stats"]["read"] == 4
    assert [r["id"] for r in job.rows("orders")] == [1, 2, 3, 9]  # overwritten, not appended twice

    # The job's runs: newest first, paged, and only inside the project.
    listed, cursor = runs.list_runs(job.project_id, job.job_id, limit=None, cursor=None)
    assert [r["id"] for r in listed] == [full["id"], second["id"], listed[2]["id"]] and cursor is None
    first, cursor = runs.list_runs(job.project_id, job.job_id, limit=2, cursor=None)
    rest, cursor = runs.list_runs(job.project_id, job.job_id, limit=2, cursor=cursor)
    assert [r["id"] for r in first + rest] == [r["id"] for r in listed]
    assert runs.get_run(job.project_id, full["id"])["job_name"] == f"job-{job.job_id}"
    with pytest.raises(NotFound):
        runs.get_run("someone-else", full["id"])
    with pytest.raises(NotFound):
        runs.list_runs(job.project_id, "no-such-job", limit=None, cursor=None)


def test_a_malformed_file_is_counted_and_fails_the_run_which_commits_nothing(make_job):
    bad_rows = b"id,name,amount\n5,eve,5.5\nnot-a-number,fay,6.0\n"
    job = make_job(
        [stream("orders", columns=COLUMNS)],
        {
            "orders/good.csv": csv_bytes(ROWS),
            "orders/rows.csv": bad_rows,
            "orders/broken.parquet": b"PAR1 not parquet",
        },
    )
    run = wait_run(job, _start(job)["id"])
    assert run["state"] == "failed"
    assert "broken.parquet" in run["error"] and "could not be read" in run["error"]
    assert "Nothing was committed" in run["error"]
    assert run["stats"]["rejected"] == 1 and run["stats"]["errors"] == 1
    assert run["stats"]["read"] == 5 and run["stats"]["inserted"] == 0
    (table,) = run["tables"]
    assert table["state"] == "failed"
    by_name = {f["name"].rsplit("/", 1)[-1]: f for f in files_of(job, run["id"], "orders")}
    assert by_name["broken.parquet"]["errors"] == 1 and by_name["broken.parquet"]["message"]
    assert by_name["rows.csv"]["rejected"] == 1 and by_name["rows.csv"]["read"] == 2
    assert by_name["good.csv"]["read"] == 3 and by_name["good.csv"]["inserted"] == 0
    assert job.table("orders").current_snapshot() is None  # a failed run changes no table
    assert job.item().last_run_state == "failed"
    logs, _ = runs.run_logs(job.project_id, job.job_id, run["id"], limit=100, cursor=None)
    assert any(e["level"] == "ERROR" and (e["file"] or "").endswith("broken.parquet") for e in logs)
    assert any("not changed, the run failed" in e["message"] for e in logs)


def test_two_concurrent_starts_make_one_run_and_one_conflict(make_job):
    job = make_job([stream("orders")], {"orders/1.csv": csv_bytes(ROWS)})
    results: list = []
    barrier = threading.Barrier(2)
    runs.list_runs(job.project_id, job.job_id, limit=None, cursor=None)  # clients made before the race

    def start():
        barrier.wait()
        try:
            results.append(_start(job))
        except Exception as exc:  # noqa: BLE001 - recorded, so the assertion shows anything but a Conflict
            results.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = [r for r in results if isinstance(r, dict)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(started) == 1 and len(conflicts) == 1, results
    assert conflicts[0].message == "job is already running"
    assert wait_run(job, started[0]["id"])["state"] == "succeeded"
    listed, _ = runs.list_runs(job.project_id, job.job_id, limit=None, cursor=None)
    assert len(listed) == 1


def _execute(local_cloud, payload: dict, timeout: float = 30.0) -> dict:
    sfn = aws.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=local_cloud.state_machine_arn, input=json.dumps(payload))[
        "executionArn"
    ]
    deadline = time.monotonic() + timeout
    while (d := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, d
        time.sleep(0.2)
    return d


def test_a_scheduled_start_creates_its_run(local_cloud, make_job):
    job = make_job([stream("orders")], {"orders/1.csv": csv_bytes(ROWS)})
    done = _execute(
        local_cloud,
        {"job": {"project_id": job.project_id, "job_id": job.job_id}, "run": {"trigger": "schedule"}},
    )
    assert done["status"] == "SUCCEEDED", done
    (run,), _ = runs.list_runs(job.project_id, job.job_id, limit=None, cursor=None)
    assert run["id"] == runs.scheduled_run_id(done["executionArn"])
    assert run["trigger"] == "schedule" and run["state"] == "succeeded" and run["stats"]["inserted"] == 3
    assert len(job.rows("orders")) == 3 and job.item().current_run_id is None


def test_a_scheduled_start_of_a_busy_inactive_or_missing_job_is_skipped(local_cloud, make_job):
    inactive = make_job([stream("orders")], {"orders/1.csv": csv_bytes(ROWS)}, activate=False)
    busy = make_job([stream("orders")], {"orders/1.csv": csv_bytes(ROWS)})
    from functions.core.repositories.jobs import JobRecord

    JobRecord(*JobRecord.key(busy.project_id, busy.job_id)).update(
        actions=[JobRecord.current_run_id.set("isj-other")]
    )
    for job_ref in (
        {"project_id": inactive.project_id, "job_id": inactive.job_id},
        {"project_id": busy.project_id, "job_id": busy.job_id},
        {"project_id": busy.project_id, "job_id": "no-such-job"},
    ):
        done = _execute(local_cloud, {"job": job_ref, "run": {"trigger": "schedule"}})
        assert done["status"] == "SUCCEEDED", done
        assert json.loads(done["output"])["status"] == "skipped"
    assert runs.list_runs(inactive.project_id, inactive.job_id, limit=None, cursor=None)[0] == []
    assert runs.list_runs(busy.project_id, busy.job_id, limit=None, cursor=None)[0] == []
    assert busy.item().current_run_id == "isj-other"


def test_cancel_mid_run_ends_cancelled_and_commits_nothing(make_job, monkeypatch, settings_env):
    from functions.workflow import units as unit_step

    real = unit_step.ingest_unit
    monkeypatch.setattr(unit_step, "ingest_unit", lambda e: (time.sleep(0.5), real(e))[1])
    settings_env(WORKFLOW_GROUP_MAX_FILES=1)  # a unit per file: the cancel lands between them
    job = make_job([stream("orders")], {f"orders/{i}.csv": csv_bytes(ROWS) for i in range(3)})
    run_id = _start(job)["id"]
    units = f"{runs.run_prefix(job.project_id, job.job_id, run_id)}units/"
    s3 = aws.client("s3")
    deadline = time.monotonic() + 20
    while not s3.list_objects_v2(Bucket=local_cloud_bucket(), Prefix=units).get("KeyCount"):
        assert time.monotonic() < deadline, "no unit was ingested"
        time.sleep(0.1)
    cancelled = runs.cancel_run(job.project_id, job.job_id, by="ada")
    assert cancelled["state"] == "cancelled" and "ada" in cancelled["error"]
    with pytest.raises(Conflict):
        runs.cancel_run(job.project_id, job.job_id, by="ada")
    run = wait_run(job, run_id)
    assert run["state"] == "cancelled"
    sfn = aws.client("stepfunctions")
    # ABORTED in AWS; moto stopping an execution inside a Map ends it FAILED (its parser's quirk).
    assert sfn.describe_execution(executionArn=runs._execution_arn(run_id))["status"] in ("ABORTED", "FAILED")
    time.sleep(1.0)  # whatever the stopped execution was doing has finished by now
    assert job.table("orders").current_snapshot() is None  # nothing committed
    assert runs.get_run(job.project_id, run_id)["state"] == "cancelled"
    assert job.item().current_run_id is None and job.item().last_run_state == "cancelled"
    logs, _ = runs.run_logs(job.project_id, job.job_id, run_id, limit=100, cursor=None)
    assert logs[-1]["message"] == "run cancelled; nothing was committed"
    data = aws.client("s3").list_objects_v2(
        Bucket=local_cloud_bucket(),
        Prefix=f"lake/{job.project_id}/iceberg/p_{job.project_id}_sales.db/orders/data/",
    )
    assert not [o for o in data.get("Contents", []) if o["Key"].endswith(".parquet")]  # staged files removed
    monkeypatch.setattr(unit_step, "ingest_unit", real)
    again = wait_run(job, _start(job)["id"])  # the job is free again
    assert again["state"] == "succeeded" and len(job.rows("orders")) == 9


def local_cloud_bucket() -> str:
    from functions.core.settings import get_settings

    return get_settings().data_bucket


def test_an_execution_stopped_outside_the_service_still_ends_its_run(make_job, monkeypatch):
    from functions.workflow import plan

    real = plan.plan
    monkeypatch.setattr(plan, "plan", lambda e: (time.sleep(1.0), real(e))[1])
    job = make_job([stream("orders")], {"orders/1.csv": csv_bytes(ROWS)})
    run_id = _start(job)["id"]
    deadline = time.monotonic() + 10
    while runs.get_run(job.project_id, run_id)["state"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    aws.client("stepfunctions").stop_execution(executionArn=runs._execution_arn(run_id))
    run = wait_run(job, run_id)  # the local execution watcher reports ABORTED as the EventBridge rule does
    assert run["state"] == "cancelled" and run["error"] == "the execution was stopped"
    assert job.item().current_run_id is None


def test_a_failing_step_fails_the_run_with_its_error(make_job):
    job = make_job([stream("orders")], {"orders/1.csv": csv_bytes(ROWS)})
    from functions.core.repositories.jobs import JobRecord

    JobRecord(*JobRecord.key(job.project_id, job.job_id)).update(actions=[JobRecord.dest_id.set("gone")])
    run = wait_run(job, _start(job)["id"])
    assert run["state"] == "failed"
    assert run["error"].startswith("SyncError: ") and "destination gone does not exist" in run["error"]
    assert job.item().current_run_id is None and job.item().last_run_state == "failed"


def test_many_units_go_through_the_distributed_map(make_job, settings_env):
    settings_env(WORKFLOW_INLINE_MAX_UNITS=1, WORKFLOW_GROUP_MAX_FILES=1)
    job = make_job([stream("orders")], {f"orders/{i}.csv": csv_bytes(ROWS) for i in range(3)})
    run = wait_run(job, _start(job)["id"], timeout=60)
    assert run["state"] == "succeeded", run
    assert run["stats"]["inserted"] == 9 and len(job.rows("orders")) == 9
    history = aws.client("stepfunctions").get_execution_history(executionArn=runs._execution_arn(run["id"]))
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history["events"] if "stateEnteredEventDetails" in e
    ]
    assert "IngestUnitsDistributed" in entered and "IngestUnitsInline" not in entered
    # the children's outputs went to S3 (ResultWriter), not into the state: the Map Run's manifest
    sfn = aws.client("stepfunctions")
    (map_run,) = sfn.list_map_runs(executionArn=runs._execution_arn(run["id"]))["mapRuns"]
    key = f"{MAP_RESULTS_PREFIX}{map_run['mapRunArn'].rsplit(':', 1)[-1]}/manifest.json"
    manifest = aws.client("s3").get_object(Bucket=local_cloud_bucket(), Key=key)["Body"].read()
    assert json.loads(manifest)["MapRunArn"] == map_run["mapRunArn"]


def test_small_files_share_units_and_a_bad_one_fails_the_run(make_job, settings_env):
    """Five small files in units of two: three units, one writer each; the malformed file's rows roll
    back alone and each file keeps its own stats, but the run fails and no unit's rows are committed
    (its staged files are deleted)."""
    settings_env(WORKFLOW_GROUP_MAX_FILES=2)
    files = {f"orders/{i}.csv": csv_bytes([{**r, "id": r["id"] + 10 * i} for r in ROWS]) for i in range(5)}
    files["orders/2.csv"] = b"\x1f\x8b\x08\x00broken gzip"
    job = make_job([stream("orders", columns=COLUMNS)], files)
    run = wait_run(job, _start(job)["id"], timeout=60)
    assert run["state"] == "failed" and "orders/2.csv" in run["error"], run
    plan = json.loads(
        aws.client("s3")
        .get_object(
            Bucket=local_cloud_bucket(),
            Key=f"{runs.run_prefix(job.project_id, job.job_id, run['id'])}units.json",
        )["Body"]
        .read()
    )
    assert [len(u["work"]["spec"]["files"]) for u in plan] == [2, 2, 1]
    (table,) = run["tables"]
    assert table["file_count"] == 5
    by_name = {f["name"].rsplit("/", 1)[-1]: f for f in files_of(job, run["id"], "orders")}
    assert by_name["2.csv"]["errors"] == 1 and by_name["3.csv"]["read"] == len(ROWS)
    assert run["stats"]["read"] == 4 * len(ROWS) and run["stats"]["inserted"] == 0
    assert job.table("orders").current_snapshot() is None
    data = aws.client("s3").list_objects_v2(
        Bucket=local_cloud_bucket(),
        Prefix=f"lake/{job.project_id}/iceberg/p_{job.project_id}_sales.db/orders/data/",
    )
    assert not [o for o in data.get("Contents", []) if o["Key"].endswith(".parquet")]  # staged files removed
