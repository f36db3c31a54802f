"""Issue 13, faults 8-10: a viewer cannot aim stored secrets at new targets; hostile shapes are 400s, never
500s; per-project quotas and the minimum schedule interval hold, answering 429 or 400 with the limit's
name (each limit is a setting from cdk.json; tests set one the way an environment would)."""

from __future__ import annotations

import base64
import json
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.integration.files import csv_bytes
from tests.integration.users import signup_and_login
from tests.security.conftest import PEOPLE, job_body, ok, people_bucket, unique, wait_run
from tests.security.document import operations

# ---------------------------------------------------------------- fault 8: discovery and the viewer


def test_a_viewer_discovers_stored_sources_but_aims_no_secret_at_a_new_config(owner, base_url):
    url = f"{base_url}/api/v1/project/{owner.project}/source/streams"
    stored = ok(owner.user.call("GET", f"/api/v1/project/{owner.project}/sources/{owner.source['id']}"))
    changed = {**stored["data"]["config"], "prefix": "exports/people/"}  # its secrets (if any) masked
    fresh = {"bucket": owner.bucket, "role_arn": changed["role_arn"], "prefix": "exports/"}
    for headers in (owner.viewer.bearer, {"x-api-key": owner.key("viewer")}):
        r = requests.post(url, json={"source_id": owner.source["id"]}, headers=headers, timeout=30)
        assert r.status_code == 200, r.text  # the stored source, as it is
        for body in ({"source_id": owner.source["id"], "config": changed}, {"type": "s3", "config": fresh}):
            r = requests.post(url, json=body, headers=headers, timeout=30)
            assert r.status_code == 403, (body, r.text)
        query = {"source_id": owner.source["id"], "config": json.dumps(changed)}
        assert requests.get(url, params=query, headers=headers, timeout=30).status_code == 403
    r = requests.post(
        url,
        json={"source_id": owner.source["id"], "config": changed},
        headers=owner.editor.bearer,
        timeout=30,
    )
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- fault 9: shapes that made 500s


CURSOR_OPERATIONS = [
    (m, p) for m, p, op in operations() if any(q["name"] == "cursor" for q in op.get("parameters", []))
]


def test_deep_json_in_the_config_parameter_or_any_cursor_is_a_400(owner):
    base = f"/api/v1/project/{owner.project}"
    r = owner.user.call("GET", f"{base}/source/streams", params={"config": "[" * 1200 + "]" * 1200})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "config", r.text
    deep = base64.urlsafe_b64encode(b"[" * 1536).decode().rstrip("=")  # within the cursor's 2,048 characters
    assert len(CURSOR_OPERATIONS) >= 8
    ids = {
        "{projectid}": owner.project,
        "{jobid}": owner.job["id"],
        "{id}": owner.run_id,
        "{sync_id}": str(owner.sync_id),
    }
    for method, template in CURSOR_OPERATIONS:
        path = template
        for placeholder, value in ids.items():
            path = path.replace(placeholder, value)
        r = owner.user.call(method, path, params={"cursor": deep})
        assert r.status_code == 400, (method, template, r.status_code, r.text)
        assert "cursor" in r.text, r.text


# ---------------------------------------------------------------- fault 10: limits


@contextmanager
def workflow_busy():
    """The workflow function busy with something else (the local cloud runs one invocation of a function at
    a time): a run that starts now stays active until the block ends."""
    from infra.local.runtime import _lock_for

    with _lock_for("workflow"):
        yield


def test_the_local_environment_gets_its_limits_from_cdk_json(local_cloud):
    cdk = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())
    for name, value in cdk["context"]["environments"]["local"]["limits"].items():
        assert local_cloud.env[name.upper()] == str(value), name


def test_quotas_of_jobs_runs_and_open_upload_syncs_answer_429_naming_the_limit(base_url, s3, settings_env):
    user = signup_and_login(base_url, "quota")
    project = user.new_project()
    bucket = people_bucket(s3, "quota")
    base = f"/api/v1/project/{project}"
    settings_env(
        MAX_JOBS_PER_PROJECT=1, MAX_CONCURRENT_RUNS_PER_PROJECT=1, MAX_OPEN_UPLOAD_SYNCS_PER_PROJECT=1
    )
    first = ok(user.call("POST", f"{base}/jobs", json=job_body(bucket, unique("first"))), 201)["data"]
    r = user.call("POST", f"{base}/jobs", json=job_body(bucket, unique("second")))
    assert r.status_code == 429 and "max_jobs_per_project" in r.json()["message"], r.text
    settings_env(MAX_JOBS_PER_PROJECT=2)
    second = ok(user.call("POST", f"{base}/jobs", json=job_body(bucket, unique("second"))), 201)["data"]

    with workflow_busy():
        run = ok(user.call("POST", f"{base}/jobs/{first['id']}/sync"))["data"]
        r = user.call("POST", f"{base}/jobs/{second['id']}/sync")
        assert r.status_code == 429 and "max_concurrent_runs_per_project" in r.json()["message"], r.text
        r = user.call(
            "POST", "/api/v1/application/start", json={"name": second["name"], "appType": "ingestion"}
        )
        assert r.status_code == 429 and "max_concurrent_runs_per_project" in r.json()["message"], r.text
    wait_run(project, run["id"])
    ok(user.call("POST", f"{base}/jobs/{second['id']}/sync"))

    sync = ok(user.call("POST", f"{base}/syncs", json={"path": "/quota/a"}), 201)["data"]
    r = user.call("POST", f"{base}/syncs", json={"path": "/quota/b"})
    assert r.status_code == 429 and "max_open_upload_syncs_per_project" in r.json()["message"], r.text
    r = user.call("POST", "/api/ingestion/file/sync/start", json={"path": "/quota/b", "project_id": project})
    assert r.status_code == 429 and r.json()["code"] != 0 and "max_open_upload_syncs" in r.json()["msg"], (
        r.text
    )
    ok(user.call("POST", f"{base}/syncs/{sync['sync_id']}/end"))
    ok(user.call("POST", f"{base}/syncs", json={"path": "/quota/b"}), 201)


@pytest.mark.parametrize(
    ("frequency", "refused"),
    [("rate(5 minutes)", True), ("*/30 * * * *", True), ("cron(0/1 * * * ? *)", True), ("0,30 * * * *", True),
     ("1-hours", False), ("0 * * * *", False), ("manual", False)],
)  # fmt: skip
def test_schedules_more_frequent_than_the_environment_allows_are_a_400(
    frequency, refused, owner, settings_env
):
    settings_env(MIN_SCHEDULE_INTERVAL_MINUTES=60)
    r = owner.user.call(
        "PUT",
        f"/api/v1/project/{owner.project}/jobs/{owner.job['id']}",
        json={"frequency": frequency, "activate": False},
    )
    if refused:
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "frequency", r.text
        assert "min_schedule_interval_minutes" in r.json()["message"]
    else:
        assert r.status_code == 200, r.text
    ok(
        owner.user.call(
            "PUT", f"/api/v1/project/{owner.project}/jobs/{owner.job['id']}", json={"frequency": "manual"}
        )
    )


def test_the_local_minimum_interval_refuses_every_minute(owner):
    """No override: the local environment's own minimum (5 minutes, cdk.json)."""
    r = owner.user.call(
        "PUT", f"/api/v1/project/{owner.project}/jobs/{owner.job['id']}", json={"frequency": "rate(1 minute)"}
    )
    assert r.status_code == 400 and "min_schedule_interval_minutes" in r.json()["message"], r.text


def test_a_run_over_the_files_quota_fails_naming_the_limit(base_url, s3, settings_env):
    user = signup_and_login(base_url, "files")
    project = user.new_project()
    bucket = people_bucket(s3, "files")
    s3.put_object(Bucket=bucket, Key="exports/people/more.csv", Body=csv_bytes(PEOPLE))
    base = f"/api/v1/project/{project}"
    job = ok(user.call("POST", f"{base}/jobs", json=job_body(bucket, unique("files"))), 201)["data"]
    settings_env(MAX_FILES_PER_RUN=1)
    run = wait_run(project, ok(user.call("POST", f"{base}/jobs/{job['id']}/sync"))["data"]["id"])
    assert run["state"] == "failed" and "max_files_per_run" in (run["error"] or ""), run
