"""The upload-sync dialect as Data Insider's file-upload document writes its calls: start, upload (a
Parquet and a CSV file, multipart form), end, list, history; and its errors `{"code", "msg"}`."""

from __future__ import annotations

import requests

from .conftest import Tenant, csv_bytes, keys, new_tenant, parquet_bytes, read_parquet_rows

LIST_FIELDS = {
    "org_id", "sync_id", "name", "path", "sync_type", "sync_status", "start_time", "end_time", "total_files",
    "num_failed",
}  # fmt: skip
HISTORY_FIELDS = {
    "org_id",
    "history_id",
    "sync_id",
    "file_name",
    "start_time",
    "end_time",
    "sync_status",
    "message",
}


def test_the_seed_calls_as_written(tenant: Tenant, s3, local_cloud):
    base, key = tenant.base, tenant.key
    r = requests.post(
        f"{base}/api/ingestion/file/sync/start",
        headers={"Content-Type": "application/json"},
        json={
            "name": "transactions incremental sync 06/12/21",
            "path": "/data/db/transactions",
            "api_key": key,
            "sync_type": "IncrementalSync",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"sync_id"} and isinstance(r.json()["sync_id"], int)
    sync_id = r.json()["sync_id"]

    r = requests.post(
        f"{base}/api/lake/file/upload?sync_id={sync_id}&api_key={key}",
        files={"file": ("sales_transaction.parquet", parquet_bytes(3))},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"code": 0, "msg": None}
    r = requests.post(
        f"{base}/api/lake/file/upload",
        params={"path": "/data/db/transactions", "sync_id": str(sync_id), "api_key": key},
        files={"file": ("orders.csv", csv_bytes(2), "text/csv")},
        timeout=30,
    )
    assert r.json() == {"code": 0, "msg": None}, r.text

    r = requests.post(
        f"{base}/api/ingestion/file/sync/end",
        headers={"Content-Type": "application/json"},
        json={"sync_id": sync_id, "api_key": key},
        timeout=30,
    )
    assert r.status_code == 200 and r.json() == {"success": True}, r.text

    done = tenant.wait_done(sync_id)
    assert done["sync_status"] == "Finished", done

    r = requests.get(f"{base}/api/ingestion/file/sync/list?from=0&size=10&api_key={key}", timeout=30)
    assert r.status_code == 200, r.text
    listed = r.json()
    assert isinstance(listed, list) and len(listed) == 1
    entry = listed[0]
    assert set(entry) == LIST_FIELDS
    assert entry["sync_id"] == sync_id and entry["name"] == "transactions incremental sync 06/12/21"
    assert entry["path"] == "/data/db/transactions" and entry["sync_type"] == "IncrementalSync"
    assert entry["sync_status"] == "Finished"
    assert entry["total_files"] == 2 and entry["num_failed"] == 0
    assert entry["start_time"] > 1_600_000_000_000 and entry["end_time"] >= entry["start_time"]

    r = requests.get(f"{base}/api/ingestion/file/sync/history?from=0&size=10&api_key={key}", timeout=30)
    assert r.status_code == 200, r.text
    history = r.json()
    assert [set(h) for h in history] == [HISTORY_FIELDS, HISTORY_FIELDS]
    assert {h["file_name"] for h in history} == {"sales_transaction.parquet", "orders.csv"}
    assert all(h["sync_status"] == "Finished" and h["sync_id"] == sync_id for h in history)
    assert history[0]["history_id"] > history[1]["history_id"]  # newest first
    assert all(h["end_time"] >= h["start_time"] > 0 for h in history)

    # Both files are Parquet in the sync's lake path now, with their rows.
    lake = keys(s3, local_cloud.bucket, f"lake/{tenant.project}/data/db/transactions/")
    assert len(lake) == 2 and all(k.endswith(".parquet") for k in lake), lake
    assert sorted(read_parquet_rows(s3, local_cloud.bucket, k) for k in lake) == [2, 3]
    files = {f["file_name"]: f for f in tenant.files(sync_id)}
    assert files["orders.csv"]["format"] == "csv" and files["orders.csv"]["read"] == 2
    assert [c["name"] for c in files["orders.csv"]["columns"]] == ["order_id", "amount"]
    assert files["sales_transaction.parquet"]["inserted"] == 3

    # Pages: from/size.
    second = tenant.start()
    r = requests.get(
        f"{base}/api/ingestion/file/sync/list", params={"from": 1, "size": 1, "api_key": key}, timeout=30
    )
    assert [s["sync_id"] for s in r.json()] == [sync_id]
    r = requests.get(
        f"{base}/api/ingestion/file/sync/list", params={"from": 0, "size": 1, "api_key": key}, timeout=30
    )
    assert [s["sync_id"] for s in r.json()] == [second]
    assert r.json()[0]["end_time"] == 0 and r.json()[0]["sync_status"] == "Syncing"


def test_sync_ids_count_up_per_project(tenant: Tenant, base_url):
    first, second = tenant.start(), tenant.start()
    assert second == first + 1
    other = new_tenant(base_url)
    assert other.start() == 1


def test_a_user_token_works_with_project_id(tenant: Tenant):
    r = tenant.user.call(
        "POST",
        "/api/ingestion/file/sync/start",
        json={"name": "n", "path": "p", "sync_type": "Full Sync", "project_id": tenant.project},
    )
    assert r.status_code == 200, r.text
    r = tenant.user.call("POST", "/api/ingestion/file/sync/start", json={"name": "n", "path": "p"})
    assert r.status_code == 400 and r.json()["code"] == 400 and "project_id" in r.json()["msg"]


def test_paths_that_try_to_escape_are_400(tenant: Tenant):
    for path in (
        "../other-project",
        "/data/../../x",
        "a/./b/..",
        "data/\x01evil",
        "x" * 600,
        "/",
        ".hidden/x",
    ):
        r = requests.post(
            f"{tenant.base}/api/ingestion/file/sync/start",
            json={"name": "n", "path": path, "api_key": tenant.key, "sync_type": "FullSync"},
            timeout=30,
        )
        assert r.status_code == 400, (path, r.text)
        body = r.json()
        assert body["code"] == 400 and "path" in body["msg"], body


def test_bad_input_gets_the_dialects_errors(tenant: Tenant):
    url = f"{tenant.base}/api/ingestion/file/sync/start"
    r = requests.post(
        url, json={"name": "n", "path": "p", "api_key": tenant.key, "sync_type": "Sometimes"}, timeout=30
    )
    assert r.status_code == 400 and r.json()["code"] == 400 and "sync_type" in r.json()["msg"]
    r = requests.post(url, data="{not json", headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400 and r.json()["code"] == 400  # the body is refused before any credential
    r = requests.post(
        url,
        data="{not json",
        headers={"Content-Type": "application/json", "x-api-key": tenant.key},
        timeout=30,
    )
    assert r.status_code == 400 and r.json()["code"] == 400, r.text
    r = requests.post(
        url, data="x", headers={"Content-Type": "text/plain", "x-api-key": tenant.key}, timeout=30
    )
    assert r.status_code == 400 and r.json()["code"] == 400, r.text
    sync_id = tenant.start()
    r = tenant.upload(sync_id, "a.csv", csv_bytes(), path="/somewhere/else")
    assert r.status_code == 400 and "path" in r.json()["msg"]
    r = requests.post(
        f"{tenant.base}/api/lake/file/upload", params={"sync_id": sync_id, "api_key": tenant.key}, timeout=30
    )
    assert r.status_code == 400 and r.json()["code"] == 400
    r = requests.get(
        f"{tenant.base}/api/ingestion/file/sync/list",
        params={"size": 1000, "api_key": tenant.key},
        timeout=30,
    )
    assert r.status_code == 400 and r.json()["code"] == 400
    assert tenant.end(sync_id).json() == {"success": True}
    again = tenant.end(sync_id)
    assert again.status_code == 409 and again.json()["code"] == 409
    late = tenant.upload(sync_id, "late.csv", csv_bytes())
    assert late.status_code == 409 and late.json()["code"] == 409


def test_a_bogus_api_key_is_401(tenant: Tenant):
    for key in ("ipk.0000.0000.bogus", "cccccccc-14a1-4eb1-8964-000000000000"):
        r = requests.post(
            f"{tenant.base}/api/ingestion/file/sync/start",
            json={"name": "n", "path": "p", "api_key": key, "sync_type": "FullSync"},
            timeout=30,
        )
        assert r.status_code == 401 and r.json()["code"] == 401 and r.json()["msg"], r.text
    r = requests.get(
        f"{tenant.base}/api/ingestion/file/sync/list", params={"api_key": "ipk.a.b.c"}, timeout=30
    )
    assert r.status_code == 401 and r.json()["code"] == 401


def test_another_projects_sync_id_is_not_found(tenant: Tenant, base_url):
    sync_id = tenant.start()
    stranger = new_tenant(base_url, "stranger")
    stranger.start()  # the stranger has a sync with the same id in their own project
    up = stranger.upload(sync_id, "a.csv", csv_bytes(), project_id=tenant.project)  # the owner's sync
    assert up.status_code == 404 and up.json()["code"] == 404, up.text
    r = stranger.user.call("GET", f"/api/v1/project/{tenant.project}/syncs/{sync_id}")
    assert r.status_code == 404
    r = requests.post(
        f"{base_url}/api/ingestion/file/sync/end",
        json={"sync_id": sync_id, "api_key": stranger.key, "project_id": tenant.project},
        timeout=30,
    )
    assert r.status_code == 404 and r.json()["code"] == 404
    # The owner's sync is untouched.
    assert tenant.sync(sync_id)["end_time"] == 0


def test_a_direct_upload_over_the_limit_names_the_multipart_route(tenant: Tenant):
    sync_id = tenant.start()
    r = tenant.upload(sync_id, "big.csv", b"x" * (4 * 1024 * 1024 + 100 * 1024))
    assert r.status_code == 413, r.text
    assert r.json()["code"] == 413 and "/uploads" in r.json()["msg"] and "4 MiB" in r.json()["msg"]
    assert tenant.sync(sync_id)["in_flight"] == 0


def test_a_retried_start_with_an_idempotency_key_answers_the_same_sync(tenant: Tenant, base_url):
    url = f"{tenant.base}/api/ingestion/file/sync/start"
    body = {"name": "n", "path": "/retry/me", "api_key": tenant.key, "sync_type": "FullSync"}
    first = requests.post(url, json=body, headers={"Idempotency-Key": "k-1"}, timeout=30)
    again = requests.post(url, json=body, headers={"Idempotency-Key": "k-1"}, timeout=30)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json() == again.json()
    other = requests.post(
        url, json={**body, "path": "/elsewhere"}, headers={"Idempotency-Key": "k-1"}, timeout=30
    )
    assert other.status_code == 409 and other.json()["code"] == 409
    fresh = requests.post(url, json=body, headers={"Idempotency-Key": "k-2"}, timeout=30)
    assert fresh.json()["sync_id"] == first.json()["sync_id"] + 1
    # The same key in another project is another request.
    stranger = new_tenant(base_url, "idem")
    r = requests.post(
        url, json={**body, "api_key": stranger.key}, headers={"Idempotency-Key": "k-1"}, timeout=30
    )
    assert r.status_code == 200 and r.json() == {"sync_id": 1}
    native = tenant.native("POST", "/syncs", json={"path": "/n"}, headers={"Idempotency-Key": "n-1"})
    native_again = tenant.native("POST", "/syncs", json={"path": "/n"}, headers={"Idempotency-Key": "n-1"})
    assert native.status_code == native_again.status_code == 201
    assert native.json()["data"]["sync_id"] == native_again.json()["data"]["sync_id"]
    assert native.json()["data"]["name"] == "/n"


def test_unreadable_bodies_are_400_on_every_route(tenant: Tenant):
    for path in ("/api/ingestion/file/sync/start", "/api/lake/file/upload?sync_id=1"):
        for ctype, data in (
            ("multipart/form-data", b"--x--"),
            ("multipart/form-data; boundary=", b"--x--"),
            ("text/plain", b"hello"),
            ("application/json", b"\xff\xfe"),
        ):
            r = requests.post(
                f"{tenant.base}{path}",
                data=data,
                headers={"Content-Type": ctype, "x-api-key": tenant.key},
                timeout=30,
            )
            assert r.status_code == 400, (path, ctype, r.text)
            assert r.json()["code"] == 400 and r.json()["msg"]
