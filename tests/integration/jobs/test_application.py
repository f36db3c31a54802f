"""Gathr's application API over a job: start, stop, status, update, sent exactly as Gathr's docs write them
(`Authorization: <token>`, JSON bodies with name, appType, projectName)."""

from __future__ import annotations

import json
import time

import requests

from .conftest import job_body

STATES = ("STOPPED", "STARTING", "RUNNING", "ERROR")


def _post(user, path: str, body: dict, token: str | None = None) -> requests.Response:
    headers = {"Content-Type": "application/json", "Authorization": token or user.token}  # raw token
    return requests.post(
        f"{user.base}/api/v1/application/{path}", data=json.dumps(body), headers=headers, timeout=30
    )


def _status(user, app_type: str, name: str, token: str | None = None, **params) -> requests.Response:
    headers = {"Authorization": token or user.token}
    url = f"{user.base}/api/v1/application/status/{app_type}/{name}"
    return requests.get(url, headers=headers, params=params, timeout=30)


def _ok(r: requests.Response, message: str | None = None) -> str:
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"message", "status"} and body["status"] == "Success", body
    if message is not None:
        assert body["message"] == message
    return body["message"]


def _state(r: requests.Response) -> str:
    """The application_status of a status answer."""
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"application_status", "status"} and body["status"] == "Success", body
    return body["application_status"]


def _err(r: requests.Response, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"message", "status"} and body["status"] == "Error" and body["message"], body
    return body["message"]


def _project_name(user, project: str) -> str:
    return user.call("GET", f"/api/v1/project/{project}").json()["data"]["name"]


def test_start_status_stop(owner, shared_project, shared_job):
    alice, project, job = owner, shared_project, shared_job
    name, pname = job["name"], _project_name(alice, project)
    alice.call("POST", f"/api/v1/project/{project}/jobs/{job['id']}/activate", json={"activate": False})
    assert _state(_status(alice, "ingestion", name)) == "STOPPED"
    body = {"name": name, "appType": "ingestion", "projectName": pname}
    _ok(_post(alice, "start", body), "Request to start the application is accepted.")
    assert _state(_status(alice, "Ingestion", name)) in ("STARTING", "RUNNING")
    got = alice.call("GET", f"/api/v1/project/{project}/jobs/{job['id']}").json()["data"]
    assert got["activate"] is True and (got["current_run_id"] or got["last_run_id"])
    _ok(
        _post(alice, "stop", {**body, "appType": "INGESTION"}), "Request to stop the application is accepted."
    )
    deadline = time.monotonic() + 20
    while (state := _state(_status(alice, "ingestion", name))) not in ("STOPPED", "ERROR"):
        assert time.monotonic() < deadline, state
        time.sleep(0.3)
    assert state == "STOPPED"
    assert (
        alice.call("GET", f"/api/v1/project/{project}/jobs/{job['id']}").json()["data"]["activate"] is False
    )
    # Stopping a stopped application is accepted too.
    _ok(_post(alice, "stop", body), "Request to stop the application is accepted.")


def test_error_state_after_a_failed_run(owner, shared_project, shared_job, local_cloud):
    alice, project, job = owner, shared_project, shared_job
    import os

    import boto3

    dynamodb = boto3.client("dynamodb", endpoint_url=local_cloud.aws_endpoint, region_name="us-east-1")
    dynamodb.update_item(
        TableName=os.environ["JOBS_TABLE"],
        Key={"pk": {"S": f"PROJECT#{project}"}, "sk": {"S": f"JOB#{job['id']}"}},
        UpdateExpression="SET last_run_state = :s",
        ExpressionAttributeValues={":s": {"S": "failed"}},
    )
    assert _state(_status(alice, "etl", job["name"])) == "ERROR"


def test_api_key_and_bearer_credentials(owner, shared_project, shared_job):
    alice, project, job = owner, shared_project, shared_job
    key = alice.new_key(project, "editor")
    assert _state(_status(alice, "ingestion", job["name"], token=key)) in STATES
    assert _state(_status(alice, "ingestion", job["name"], token=f"Bearer {alice.token}")) in STATES
    viewer = alice.new_key(project, "viewer")
    assert _state(_status(alice, "ingestion", job["name"], token=viewer)) in STATES
    _err(_post(alice, "stop", {"name": job["name"], "appType": "ingestion"}, token=viewer), 403)


def test_errors_in_the_application_envelope(owner, bob, shared_job):
    alice, job = owner, shared_job
    name = job["name"]
    assert "appType" in _err(_post(alice, "start", {"name": name, "appType": "cdc"}), 400)
    _err(_status(alice, "streaming", name), 400)
    _err(_post(alice, "start", {"appType": "ingestion"}), 400)  # no name
    _err(_post(alice, "start", {"name": "no-such-app", "appType": "ingestion"}), 404)
    _err(_status(alice, "ingestion", name, projectName="another project"), 404)
    _err(_status(bob, "ingestion", name), 404)  # not bob's
    r = requests.get(f"{alice.base}/api/v1/application/status/ingestion/{name}", timeout=30)
    _err(r, 401)


def test_name_shared_by_two_projects_needs_project_name(alice, project, job, source_bucket):
    other = alice.new_project()
    r = alice.call("POST", f"/api/v1/project/{other}/jobs", json=job_body(source_bucket))
    assert r.status_code == 201, r.text
    assert "projectName" in _err(_status(alice, "ingestion", job["name"]), 400)
    assert _state(_status(alice, "ingestion", job["name"], projectName=_project_name(alice, other))) in STATES


def test_update_sets_bucket_and_files(owner, shared_project, shared_job, source_bucket):
    alice, project, job = owner, shared_project, shared_job
    body = {
        "name": job["name"],
        "appType": "ingestion",
        "projectName": _project_name(alice, project),
        "bucketName": source_bucket,
        "filename": ["orders/orders-1.csv,customers/customers.csv", "orders/*.csv"],
    }
    _ok(_post(alice, "update", body), "Application updated successfully.")
    source = alice.call("GET", f"/api/v1/project/{project}/sources/{job['source']['id']}").json()["data"]
    assert source["config"]["bucket"] == source_bucket
    assert source["config"]["files"] == ["orders/orders-1.csv", "customers/customers.csv", "orders/*.csv"]
    # etl names the source component.
    etl = {**body, "appType": "etl", "filename": ["orders/orders-1.csv"]}
    assert "componentId" in _err(_post(alice, "update", etl), 400)
    assert "componentId" in _err(_post(alice, "update", {**etl, "componentId": "lake"}), 400)
    _ok(_post(alice, "update", {**etl, "componentId": job["source"]["name"]}))
    source = alice.call("GET", f"/api/v1/project/{project}/sources/{job['source']['id']}").json()["data"]
    assert source["config"]["files"] == ["orders/orders-1.csv"]
    _err(_post(alice, "update", {"name": job["name"], "appType": "ingestion"}), 400)  # nothing to update
    assert "bucketName" in _err(_post(alice, "update", {**body, "bucketName": "Not A Bucket"}), 400)
