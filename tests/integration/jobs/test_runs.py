"""Runs through the jobs API: sync now, cancel, tasks, task logs; and a run as an Amperity ingest job."""

from __future__ import annotations

import time

import pytest
import requests

TERMINAL = ("succeeded", "failed", "cancelled")


def wait_for_end(user, project: str, job_id: str, run_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        runs = user.call("GET", f"/api/v1/project/{project}/jobs/{job_id}/tasks").json()["data"]
        run = next((r for r in runs if r["id"] == run_id), None)
        if run and run["state"] in TERMINAL:
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.3)


@pytest.fixture(scope="module")
def finished_run(owner, shared_project, shared_job) -> dict:
    alice, project, job = owner, shared_project, shared_job
    r = alice.call("POST", f"/api/v1/project/{project}/jobs/{job['id']}/sync")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["message"] == "sync started"
    run = body["data"]
    assert run["id"].startswith("isj-") and run["job_id"] == job["id"] and run["trigger"] == "manual"
    assert run["state"] in ("queued", "running", *TERMINAL)
    return wait_for_end(alice, project, job["id"], run["id"])


def test_sync_tasks_and_logs(owner, shared_project, shared_job, finished_run):
    alice, project, job = owner, shared_project, shared_job
    assert finished_run["state"] == "succeeded", finished_run
    assert finished_run["stats"]["read"] == 2
    assert finished_run["status"] == "succeeded" and finished_run["runtime"] == finished_run["runtime_ms"]
    [table] = finished_run["tables"]
    assert table["table_name"] and table["read"] == 2 and table["file_count"] == 1 and "files" not in table
    base = f"/api/v1/project/{project}/jobs/{job['id']}"
    got = alice.call("GET", f"{base}").json()["data"]
    assert got["last_run_id"] == finished_run["id"] and got["last_run_state"] == "succeeded"
    tasks = alice.call("GET", f"{base}/tasks", params={"limit": 1}).json()
    assert tasks["success"] and [t["id"] for t in tasks["data"]] == [finished_run["id"]]
    files = alice.call("GET", f"{base}/task/{finished_run['id']}/files").json()
    [file] = files["data"]
    assert file["name"] == "exports/orders/orders-1.csv" and file["table_name"] == table["table_name"]
    assert (file["read"], file["inserted"], file["errors"], files["next_cursor"]) == (2, 2, 0, None)
    logs = alice.call("GET", f"{base}/task/{finished_run['id']}/logs").json()
    assert logs["success"] is True and logs["data"]["task_logs"], logs
    assert all("message" in line for line in logs["data"]["task_logs"])
    assert alice.call("POST", f"{base}/task/{finished_run['id']}/logs").json()["data"] == logs["data"]
    assert alice.call("GET", f"{base}/task/isj-unknown/files").status_code == 404
    assert alice.call("GET", f"{base}/task/isj-unknown/logs").status_code == 404
    # Nothing is running now: cancel is a conflict.
    r = alice.call("POST", f"{base}/cancel")
    assert r.status_code == 409 and r.json()["success"] is False


def test_sync_twice_is_a_conflict_and_cancel_stops_it(alice, project, job, monkeypatch):
    from functions.workflow import units

    real = units.ingest_unit
    monkeypatch.setattr(units, "ingest_unit", lambda e: (time.sleep(2.0), real(e))[1])  # a run that lasts
    base = f"/api/v1/project/{project}/jobs/{job['id']}"
    first = alice.call("POST", f"{base}/sync").json()["data"]
    second = alice.call("POST", f"{base}/sync")
    assert second.status_code == 409 and second.json()["success"] is False, second.text
    r = alice.call("POST", f"{base}/cancel")
    assert r.status_code == 200 and r.json()["data"]["state"] == "cancelled", r.text
    assert wait_for_end(alice, project, job["id"], first["id"])["state"] == "cancelled"
    assert alice.call("DELETE", base).status_code == 200


def _ingest(user, run_id: str, **headers) -> requests.Response:
    return requests.get(f"{user.base}/api/ingest/jobs/{run_id}", headers=headers, timeout=30)


def test_run_as_an_amperity_ingest_job(owner, bob, shared_project, shared_job, finished_run):
    alice, project, job = owner, shared_project, shared_job
    run_id = finished_run["id"]
    auth = {"Authorization": f"Bearer {alice.token}"}
    # As Amperity's clients send it: amperity-tenant and api-version headers.
    r = _ingest(alice, run_id, **auth, **{"amperity-tenant": project, "api-version": "2024-04-01"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert set(got) == {"id", "workflow_id", "tables"}
    assert got["id"] == run_id and got["workflow_id"] == job["id"]
    [table] = got["tables"]
    assert set(table) == {
        "table_name", "feed_id", "job_id", "state", "read", "inserted", "updated", "deleted", "rejected",
        "errors", "started_at", "ended_at", "files", "file_count",
    }  # fmt: skip
    assert table["job_id"] == run_id and table["read"] == 2 and table["inserted"] + table["updated"] == 2
    assert table["files"] and set(table["files"][0]) == {"file_id", "name", "read", "errors"}
    # api_version as a query parameter, an API key as the credential.
    key = alice.new_key(project, "viewer")
    r = requests.get(
        f"{alice.base}/api/ingest/jobs/{run_id}",
        params={"api_version": "2024-04-01"},
        headers={"x-api-key": key, "amperity-tenant": project},
        timeout=30,
    )
    assert r.status_code == 200 and r.json() == got
    # Errors: raw {"message"} bodies.
    ok = {"amperity-tenant": project, "api-version": "2024-04-01"}
    for headers, status in [
        ({**auth, "amperity-tenant": project, "api-version": "2023-01-01"}, 400),
        ({**auth, "amperity-tenant": project}, 400),
        ({**auth, "api-version": "2024-04-01"}, 400),
        (ok, 401),
        ({"Authorization": f"Bearer {bob.token}", **ok}, 403),
    ]:
        r = _ingest(alice, run_id, **headers)
        assert r.status_code == status, (headers, r.text)
        assert set(r.json()) == {"message"} and r.json()["message"]
    r = _ingest(alice, "isj-20240101-0-nothing", **auth, **ok)
    assert r.status_code == 404 and set(r.json()) == {"message"}


def test_an_upload_sync_is_an_ingest_job_too(alice, project):
    key = alice.new_key(project, "editor")
    r = requests.post(
        f"{alice.base}/api/ingestion/file/sync/start",
        json={"name": "daily", "path": "/data/orders", "api_key": key, "sync_type": "IncrementalSync"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    sync_id = r.json()["sync_id"]
    body = b"id,name\n1,ada\n2,bob\n"
    r = requests.post(
        f"{alice.base}/api/lake/file/upload",
        params={"path": "/data/orders", "sync_id": str(sync_id), "api_key": key},
        files={"file": ("orders.csv", body, "text/csv")},
        timeout=30,
    )
    assert r.json() == {"code": 0, "msg": None}, r.text
    r = requests.post(
        f"{alice.base}/api/ingestion/file/sync/end", json={"sync_id": sync_id, "api_key": key}, timeout=30
    )
    assert r.status_code == 200, r.text
    headers = {"x-api-key": key, "amperity-tenant": project, "api-version": "2024-04-01"}
    # Not waited for (upload ingestion runs on S3 events): the shape, whatever the sync's progress.
    r = _ingest(alice, f"sync-{sync_id}", **headers)
    assert r.status_code == 200, r.text
    got = r.json()
    assert set(got) == {"id", "workflow_id", "tables"}
    assert got["id"] == got["workflow_id"] == f"sync-{sync_id}"
    [table] = got["tables"]
    assert table["table_name"] == "data/orders" and table["job_id"] == f"sync-{sync_id}"
    assert table["state"] in ("running", *TERMINAL) and table["started_at"]
    assert all(set(f) == {"file_id", "name", "read", "errors"} for f in table["files"])
    assert _ingest(alice, "sync-999999", **headers).status_code == 404
