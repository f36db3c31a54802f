"""The run sweeper on the local cloud's clock: a run whose execution ended without its end being recorded
(MarkFailed crashed and the execution-ended event was lost), or whose execution never started (the
function died between queuing the run and starting it), still ends, and its job is free again."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from functions.core import aws
from functions.core.repositories.jobs import JobRecord
from functions.core.schedules import utc_now
from functions.core.services import runs
from tests.integration.files import csv_bytes
from tests.integration.runs.conftest import ROWS, stream

LATER = timedelta(minutes=20)  # past the grace period (cdk.json: sweep_grace_minutes 15)


def _lost(event: dict) -> dict:
    raise RuntimeError("this invocation never happened")


def _wait_execution_ended(arn: str, timeout: float = 30.0) -> dict:
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{arn} still running"
        time.sleep(0.2)
    return described


def test_a_run_whose_execution_ended_unrecorded_is_failed_by_the_sweeper(make_job, local_cloud, monkeypatch):
    from functions.workflow import handler

    job = make_job([stream("orders")], {"orders/1.csv": csv_bytes(ROWS)})
    # the plan fails (its destination is gone), MarkFailed's invocation dies, and the EventBridge event
    # that would end the run never arrives
    JobRecord(*JobRecord.key(job.project_id, job.job_id)).update(actions=[JobRecord.dest_id.set("gone")])
    monkeypatch.setitem(handler.STEPS, "mark_failed", _lost)
    monkeypatch.setitem(handler.STEPS, "execution_ended", _lost)
    run_id = runs.start_run(job.project_id, job.job_id, trigger="manual", started_by="ada")["id"]
    arn = runs._execution_arn(run_id)
    assert _wait_execution_ended(arn)["status"] == "FAILED"
    deadline = time.monotonic() + 10
    while arn not in local_cloud.watcher.reported:  # the watcher tried to deliver it, and failed
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert "error" in local_cloud.watcher.reported[arn]
    monkeypatch.undo()
    assert runs.get_run(job.project_id, run_id)["state"] == "running"  # stuck: nothing will end it

    assert run_id not in local_cloud.sweeper.sweep_once()  # within the grace period: left alone
    assert run_id in local_cloud.sweeper.sweep_once(now=utc_now() + LATER)
    run = runs.get_run(job.project_id, run_id)
    assert run["state"] == "failed" and run["end_time"], run
    assert run["error"].startswith("SyncFailed"), run["error"]
    assert job.item().current_run_id is None and job.item().last_run_state == "failed"
    assert run_id not in local_cloud.sweeper.sweep_once(now=utc_now() + LATER)  # ended: out of the index


def test_a_run_whose_execution_never_started_is_failed_by_the_sweeper(make_job, local_cloud, monkeypatch):
    job = make_job([stream("orders")], {"orders/1.csv": csv_bytes(ROWS)})
    sfn = aws.client("stepfunctions")

    def dies(**_kwargs):
        raise SystemExit("the function was stopped (a timeout) before it started the execution")

    monkeypatch.setattr(sfn, "start_execution", dies)
    with pytest.raises(SystemExit):
        runs.start_run(job.project_id, job.job_id, trigger="manual", started_by="ada")
    monkeypatch.undo()
    (queued,) = [r for r in runs.list_runs(job.project_id, job.job_id, limit=10, cursor=None)[0]]
    assert queued["state"] == "queued" and job.item().current_run_id == queued["id"]

    assert queued["id"] in local_cloud.sweeper.sweep_once(now=utc_now() + LATER)
    run = runs.get_run(job.project_id, queued["id"])
    assert run["state"] == "failed" and run["error"] == "the run never started (it has no execution)"
    assert job.item().current_run_id is None
    started = runs.start_run(job.project_id, job.job_id, trigger="manual", started_by="ada")  # free again
    assert started["id"] != queued["id"]
