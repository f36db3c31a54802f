"""A job's EventBridge Scheduler schedule: present while the job is active with a schedule, gone when it is
deactivated, manual or deleted, changed with the frequency; its target starts the sync state machine."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from .conftest import job_body


def _schedule(scheduler, group: str, project: str, job_id: str) -> dict | None:
    try:
        return scheduler.get_schedule(GroupName=group, Name=f"job-{project}-{job_id}")
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ResourceNotFoundException"
        return None


@pytest.fixture
def scheduled(alice, project, source_bucket) -> dict:
    body = job_body(source_bucket, name="hourly", frequency="1-hours")
    r = alice.call("POST", f"/api/v1/project/{project}/jobs", json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]


def test_schedule_follows_the_job(alice, project, scheduled, scheduler, local_cloud):
    group = local_cloud.scheduler_group
    url = f"/api/v1/project/{project}/jobs/{scheduled['id']}"
    got = _schedule(scheduler, group, project, scheduled["id"])
    assert got is not None
    assert got["ScheduleExpression"] == "rate(1 hour)" and got["State"] == "ENABLED"
    assert got["Target"]["Arn"] == local_cloud.resources.state_machine_arn
    assert json.loads(got["Target"]["Input"]) == {
        "job": {"project_id": project, "job_id": scheduled["id"]},
        "run": {"trigger": "schedule"},
    }
    # Deactivate: gone; activate: back.
    assert alice.call("POST", f"{url}/activate", json={"activate": False}).status_code == 200
    assert _schedule(scheduler, group, project, scheduled["id"]) is None
    assert alice.call("POST", f"{url}/activate", json={"activate": True}).status_code == 200
    assert _schedule(scheduler, group, project, scheduled["id"]) is not None
    # A new frequency changes the expression; manual removes the schedule.
    assert alice.call("PUT", url, json={"frequency": "*/5 * * * *"}).status_code == 200
    assert (
        _schedule(scheduler, group, project, scheduled["id"])["ScheduleExpression"] == "cron(*/5 * * * ? *)"
    )
    assert alice.call("PUT", url, json={"frequency": "manual"}).status_code == 200
    assert _schedule(scheduler, group, project, scheduled["id"]) is None
    assert alice.call("PUT", url, json={"frequency": "rate(10 minutes)"}).status_code == 200
    assert _schedule(scheduler, group, project, scheduled["id"]) is not None
    # Delete: gone.
    assert alice.call("DELETE", url).status_code == 200
    assert _schedule(scheduler, group, project, scheduled["id"]) is None


def test_inactive_job_has_no_schedule(alice, project, source_bucket, scheduler, local_cloud):
    body = job_body(source_bucket, name="paused", frequency="rate(5 minutes)", activate=False)
    job = alice.call("POST", f"/api/v1/project/{project}/jobs", json=body).json()["data"]
    assert _schedule(scheduler, local_cloud.scheduler_group, project, job["id"]) is None


def test_the_schedule_starts_a_run(alice, project, scheduled, scheduler, local_cloud):
    """Fire the schedule as the local clock would: its target starts a run with trigger `schedule`."""
    got = _schedule(scheduler, local_cloud.scheduler_group, project, scheduled["id"])
    local_cloud.scheduler.fire(got)
    tasks_url = f"/api/v1/project/{project}/jobs/{scheduled['id']}/tasks"
    deadline = time.monotonic() + 30
    runs: list = []
    while time.monotonic() < deadline:
        runs = alice.call("GET", tasks_url).json()["data"]
        if runs and runs[0]["state"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.5)
    assert runs and runs[0]["trigger"] == "schedule", runs
