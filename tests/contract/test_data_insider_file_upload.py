"""Data Insider's file upload API (docs/api.md, upload-sync dialect) over HTTP on the
local cloud: start a sync, upload files, end it, list syncs, list the uploaded files' history; the
document's bodies, its enums (`FullSync`/`IncrementalSync`, `Syncing`/`Failed`/`Finished`) and its
epoch-millisecond times with `end_time` 0 while open.

The document's list, history and upload samples send no credential; ours need the sync's API key, given
as `api_key` exactly as the start and end bodies carry it.

Cost: one user, one project, two syncs of one small file each (a few seconds).
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.contract.shapes import assert_conforms, assert_enum
from tests.integration.users import User, signup_and_login

START = {"sync_id": "integer"}
UPLOAD = {"code": "integer", "msg": None}
END = {"success": "boolean"}
SYNC_LIST = [
    {
        "org_id": "integer",
        "sync_id": "integer",
        "name": "string",
        "path": "string",
        "sync_type": "string",
        "sync_status": "string",
        "start_time": "integer",
        "end_time": "integer",
        "total_files": "integer",
        "num_failed": "integer",
    }
]
HISTORY = [
    {
        "org_id": "integer",
        "history_id": "integer",
        "sync_id": "integer",
        "file_name": "string",
        "start_time": "integer",
        "end_time": "integer",
        "sync_status": "string",
        "message": "string",
    }
]
SYNC_TYPES = frozenset({"FullSync", "IncrementalSync"})
SYNC_STATUSES = frozenset({"Syncing", "Failed", "Finished"})
CSV = b"id,amount\n1,9.5\n2,3.25\n"


@pytest.fixture(scope="module")
def user(base_url) -> User:
    return signup_and_login(base_url, "insider")


@pytest.fixture(scope="module")
def api_key(user: User) -> str:
    return user.new_key(user.new_project(), "editor")


def start(user: User, api_key: str, sync_type: str, path: str) -> requests.Response:
    body = {"name": f"transactions {sync_type}", "path": path, "api_key": api_key, "sync_type": sync_type}
    return requests.post(f"{user.base}/api/ingestion/file/sync/start", json=body, timeout=30)


def upload(user: User, api_key: str, sync_id: int, path: str) -> requests.Response:
    params = {"path": path, "sync_id": sync_id, "api_key": api_key}
    files = {"file": ("sales_transaction.csv", CSV, "text/csv")}
    return requests.post(f"{user.base}/api/lake/file/upload", params=params, files=files, timeout=30)


def end(user: User, api_key: str, sync_id: int) -> requests.Response:
    body = {"sync_id": sync_id, "api_key": api_key}
    return requests.post(f"{user.base}/api/ingestion/file/sync/end", json=body, timeout=30)


def listing(user: User, api_key: str, what: str) -> list:
    params = {"from": 0, "size": 10, "api_key": api_key}
    r = requests.get(f"{user.base}/api/ingestion/file/sync/{what}", params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def syncs(user: User, api_key: str) -> dict:
    """One sync of each type, each through start, upload and end; answers kept for the tests."""
    out: dict = {}
    for sync_type, path in (("IncrementalSync", "/data/db/transactions"), ("FullSync", "/data/db/full")):
        started = start(user, api_key, sync_type, path)
        sync_id = started.json()["sync_id"]
        open_list = listing(user, api_key, "list")
        uploaded = upload(user, api_key, sync_id, path)
        ended = end(user, api_key, sync_id)
        out[sync_type] = {
            "id": sync_id,
            "start": started,
            "upload": uploaded,
            "end": ended,
            "open": open_list,
        }
    deadline = time.monotonic() + 30
    while any(s["sync_status"] == "Syncing" for s in listing(user, api_key, "list")):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    return out


@pytest.mark.parametrize("sync_type", sorted(SYNC_TYPES))
def test_start_upload_end(syncs: dict, sync_type):
    s = syncs[sync_type]
    for answer, shape in ((s["start"], START), (s["upload"], UPLOAD), (s["end"], END)):
        assert answer.status_code == 200, answer.text
        assert_conforms(answer.json(), shape)
    assert s["upload"].json() == {"code": 0, "msg": None}
    assert s["end"].json()["success"] is True


def test_an_open_sync_lists_as_syncing_with_end_time_0(syncs: dict):
    first = syncs["IncrementalSync"]
    assert_conforms(first["open"], SYNC_LIST)
    [item] = [s for s in first["open"] if s["sync_id"] == first["id"]]
    assert (
        item["sync_status"] == "Syncing" and item["end_time"] == 0 and item["start_time"] > 1_600_000_000_000
    )


def test_sync_list(user: User, api_key: str, syncs: dict):
    items = listing(user, api_key, "list")
    assert_conforms(items, SYNC_LIST)
    assert {s["sync_id"] for s in items} == {s["id"] for s in syncs.values()}
    for s in items:
        assert_enum(s["sync_type"], SYNC_TYPES, "sync_type")
        assert_enum(s["sync_status"], SYNC_STATUSES, "sync_status")
        assert s["sync_status"] == "Finished" and s["end_time"] >= s["start_time"] and s["total_files"] == 1
    assert {s["sync_type"] for s in items} == SYNC_TYPES


def test_history(user: User, api_key: str, syncs: dict):
    items = listing(user, api_key, "history")
    assert_conforms(items, HISTORY)
    assert {h["sync_id"] for h in items} == {s["id"] for s in syncs.values()}
    for h in items:
        assert_enum(h["sync_status"], SYNC_STATUSES, "sync_status")
        assert h["file_name"] == "sales_transaction.csv" and h["sync_status"] == "Finished"
