"""Amperity's GET /ingest/jobs/{id} (docs/api.md, ingest-job dialect) over HTTP on the local
cloud: a job run and an upload sync, each read as an ingest job, with the document's headers
(`amperity-tenant`, `api-version`, `Authorization: Bearer`) and its `api_version` query parameter.

Cost: one user, one project; one job run and one upload sync of one file (about 10 s).
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.contract.conftest import new_job, wait_run_end
from tests.contract.shapes import assert_conforms, assert_enum
from tests.integration.users import User, signup_and_login

API_VERSION = "2024-04-01"
# The document's 200 example, its values read as their types.
INGEST_JOB = {
    "id": "string",
    "tables": [
        {
            "errors": "integer",
            "feed_id": "string",
            "read": "integer",
            "rejected": "integer",
            "updated": "integer",
            "started_at": "timestamp",
            "state": "string",
            "ended_at": "timestamp",
            "files": [{"file_id": "string", "name": "string", "read": "integer", "errors": "integer"}],
            "inserted": "integer",
            "table_name": "string",
            "job_id": "string",
        }
    ],
    "workflow_id": "string",
}
SUCCEEDED = frozenset({"succeeded"})  # the only state the document shows


@pytest.fixture(scope="module")
def user(base_url) -> User:
    return signup_and_login(base_url, "amperity")


@pytest.fixture(scope="module")
def project(user: User) -> str:
    return user.new_project()


@pytest.fixture(scope="module")
def run_id(user: User, project: str, exports: str) -> str:
    job = new_job(user, project, exports, "orders")
    run = user.call("POST", f"/api/v1/project/{project}/jobs/{job['id']}/sync").json()["data"]
    wait_run_end(user, project, job["id"], run["id"])
    return run["id"]


@pytest.fixture(scope="module")
def sync_ingest_id(user: User, project: str) -> str:
    """An upload sync of one file, finished; its ingest job id."""
    key = user.new_key(project, "editor")
    start = {"name": "daily", "path": "/data/orders", "api_key": key, "sync_type": "IncrementalSync"}
    sync_id = requests.post(f"{user.base}/api/ingestion/file/sync/start", json=start, timeout=30).json()[
        "sync_id"
    ]
    r = requests.post(
        f"{user.base}/api/lake/file/upload",
        params={"path": "/data/orders", "sync_id": sync_id, "api_key": key},
        files={"file": ("orders.csv", b"id,name\n1,ada\n2,bob\n", "text/csv")},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    requests.post(
        f"{user.base}/api/ingestion/file/sync/end", json={"sync_id": sync_id, "api_key": key}, timeout=30
    )
    deadline = time.monotonic() + 30
    while (
        user.call("GET", f"/api/v1/project/{project}/syncs/{sync_id}").json()["data"]["sync_status"]
        == "Syncing"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    return f"sync-{sync_id}"


def get(user: User, project: str, ingest_id: str, *, query: bool = False) -> requests.Response:
    headers = {"amperity-tenant": project, "Authorization": f"Bearer {user.token}"}
    params = {}
    if query:
        params["api_version"] = API_VERSION
    else:
        headers["api-version"] = API_VERSION
    return requests.get(
        f"{user.base}/api/ingest/jobs/{ingest_id}", headers=headers, params=params, timeout=30
    )


@pytest.mark.parametrize("query", [False, True], ids=["api-version header", "api_version query"])
def test_a_job_run_is_an_ingest_job(user: User, project: str, run_id: str, query):
    r = get(user, project, run_id, query=query)
    assert r.status_code == 200, r.text
    assert_conforms(r.json(), INGEST_JOB)
    got = r.json()
    assert got["id"] == run_id and got["tables"] and got["tables"][0]["files"]
    for table in got["tables"]:
        assert_enum(table["state"], SUCCEEDED, "tables[].state")
        assert table["job_id"] == run_id and table["read"] == sum(f["read"] for f in table["files"])


def test_an_upload_sync_is_an_ingest_job(user: User, project: str, sync_ingest_id: str):
    r = get(user, project, sync_ingest_id)
    assert r.status_code == 200, r.text
    assert_conforms(r.json(), INGEST_JOB)
    [table] = r.json()["tables"]
    assert_enum(table["state"], SUCCEEDED, "tables[].state")
    assert [f["name"] for f in table["files"]] == ["orders.csv"] and table["read"] == 2


def test_a_bad_request_is_a_4xx(user: User, project: str, run_id: str):
    r = requests.get(
        f"{user.base}/api/ingest/jobs/{run_id}",
        headers={
            "amperity-tenant": project,
            "api-version": "1999-01-01",
            "Authorization": f"Bearer {user.token}",
        },
        timeout=30,
    )
    assert 400 <= r.status_code < 500 and r.json()["message"]
