"""Deleting a project stops it (issue 13, fault 7; docs/security.md): its schedules go, its runs are
cancelled, its keys revoked, and the workflow checks the project again before it writes, so a schedule
that fires anyway (a race, a leftover) writes nothing into the deleted project's lake."""

from __future__ import annotations

import json
import time

import boto3
import pytest
import requests

from tests.integration.users import signup_and_login
from tests.security.conftest import job_body, make_keys, ok, people_bucket, unique, wait_run


def _lake(s3, bucket: str, project: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"lake/{project}/").get("Contents", [])
    return sorted(o["Key"] for o in listed)


def _execution_done(sfn, arn: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, f"{arn} still running"
        time.sleep(0.3)
    return status


def test_deleting_a_project_stops_its_schedules_runs_and_keys(base_url, s3, local_cloud):
    from functions.core.services import jobs, runs

    user = signup_and_login(base_url, "deleting")
    project = user.new_project(unique("doomed"))
    bucket = people_bucket(s3, "doomed")
    base = f"/api/v1/project/{project}"
    every5 = ok(user.call("POST", f"{base}/jobs", json=job_body(bucket, unique("every5"), frequency="rate(5 minutes)")), 201)["data"]  # fmt: skip
    busy = ok(user.call("POST", f"{base}/jobs", json=job_body(bucket, unique("busy"))), 201)["data"]
    key = make_keys(user, project)["editor"]["key"]
    scheduler = boto3.client("scheduler", endpoint_url=local_cloud.aws_endpoint, region_name="us-east-1")
    group, name = local_cloud.scheduler_group, jobs.schedule_name(project, every5["id"])
    schedule = scheduler.get_schedule(Name=name, GroupName=group)
    run_id = ok(user.call("POST", f"{base}/jobs/{busy['id']}/sync"))["data"]["id"]

    ok(user.call("DELETE", base))

    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name=name, GroupName=group)
    run = wait_run(project, run_id)
    assert run["state"] == "cancelled", run
    assert requests.get(base_url + base, headers={"x-api-key": key}, timeout=30).status_code == 401
    assert user.call("GET", base).status_code == 404

    # The schedule fires anyway (it raced the delete): the workflow finds the project gone.
    from functions.core.repositories.jobs import JobRecord

    JobRecord(*JobRecord.key(project, every5["id"])).update(actions=[JobRecord.activate.set(True)])
    before = _lake(s3, local_cloud.bucket, project)
    sfn = boto3.client("stepfunctions", endpoint_url=local_cloud.aws_endpoint, region_name="us-east-1")
    target = schedule["Target"]
    started = sfn.start_execution(stateMachineArn=target["Arn"], input=target["Input"])
    _execution_done(sfn, started["executionArn"])
    fired = runs.get_run(project, runs.scheduled_run_id(started["executionArn"]))
    assert (fired["state"], fired["error"]) == ("cancelled", "the project was deleted"), fired
    assert _lake(s3, local_cloud.bucket, project) == before
    assert json.loads(target["Input"])["job"] == {"project_id": project, "job_id": every5["id"]}
