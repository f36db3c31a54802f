"""An upload sync's table target: its finished files are loaded into an Iceberg table of a destination
(incremental syncs append, full syncs overwrite), once, in one commit; bad targets are 400s."""

from __future__ import annotations

import requests

from tests.integration.syncs.conftest import Tenant, csv_bytes


def _destination(tenant: Tenant, name: str, type_: str, config: dict) -> None:
    r = tenant.user.call(
        "POST",
        f"/api/v1/project/{tenant.project}/destinations",
        json={"name": name, "type": type_, "config": config},
    )
    assert r.status_code == 201, r.text


def _table(tenant: Tenant, identifier: str):
    from functions.core.settings import get_settings
    from functions.engine import glue_catalog

    s = get_settings()
    catalog = glue_catalog(f"s3://{s.data_bucket}/lake/{tenant.project}/iceberg", s.endpoint_url, s.region)
    return catalog.load_table(tuple(identifier.split(".")))


def _rows(tenant: Tenant, identifier: str) -> list[dict]:
    return sorted(_table(tenant, identifier).scan().to_arrow().to_pylist(), key=lambda r: r["order_id"])


def _sync(tenant: Tenant, files: dict[str, bytes], **start) -> dict:
    sync_id = tenant.start(path="/sales/orders", **start)
    for name, data in files.items():
        r = tenant.upload(sync_id, name, data, path="/sales/orders")
        assert r.status_code == 200, r.text
    assert tenant.end(sync_id).status_code == 200
    return tenant.wait_done(sync_id)


def test_syncs_load_their_files_into_the_table_append_then_overwrite(tenant: Tenant):
    _destination(tenant, "warehouse", "iceberg", {"catalog": "glue", "database": "sales"})
    first = _sync(
        tenant,
        {"a.csv": csv_bytes(2), "b.csv": b"order_id,amount\n3,3.5\n4,4.5\n"},
        destination="warehouse",
        table="orders",
    )
    ident = f"p_{tenant.project}_sales.orders"
    assert first["sync_status"] == "Finished", first
    assert (first["destination"], first["table"], first["table_rows"]) == ("warehouse", ident, 4)
    assert [r["order_id"] for r in _rows(tenant, ident)] == [1, 2, 3, 4]

    # another incremental sync appends; without `table` the path's last folder names it
    second = _sync(tenant, {"c.csv": b"order_id,amount\n5,5.5\n"}, destination="WAREHOUSE")
    assert second["sync_status"] == "Finished" and second["table_rows"] == 1, second
    assert [r["order_id"] for r in _rows(tenant, ident)] == [1, 2, 3, 4, 5]

    # a full sync overwrites the table as it replaces the path's files
    full = _sync(tenant, {"d.csv": b"order_id,amount\n7,7.5\n8,8.5\n"}, sync_type="FullSync",
                 destination="warehouse", table="orders")  # fmt: skip
    assert full["sync_status"] == "Finished" and full["table_rows"] == 2, full
    assert [(r["order_id"], r["amount"]) for r in _rows(tenant, ident)] == [(7, 7.5), (8, 8.5)]

    # the ingest job of the sync names the table
    r = requests.get(
        f"{tenant.base}/api/ingest/jobs/sync-{full['sync_id']}",
        headers={"amperity-tenant": tenant.project, "api-version": "2024-04-01", "x-api-key": tenant.key},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["tables"][0]["table_name"] == ident

    # finishing again (a redelivered end) finds the commit by its token: no second commit, same count
    from functions.core.repositories.upload_syncs import SyncSessionRecord
    from functions.core.services import ingestion

    snapshots = len(_table(tenant, ident).metadata.snapshots)
    session = SyncSessionRecord.get(*SyncSessionRecord.key(tenant.project, full["sync_id"]))
    assert ingestion.load_table(session) == (ident, 2)
    assert len(_table(tenant, ident).metadata.snapshots) == snapshots

    # an empty full sync empties the path, and so the table
    empty = _sync(tenant, {}, sync_type="FullSync", destination="warehouse", table="orders")
    assert empty["sync_status"] == "Finished" and empty["table_rows"] == 0, empty
    assert _rows(tenant, ident) == []


def test_rows_the_table_cannot_take_fail_the_sync_but_stay_in_the_lake(tenant: Tenant):
    _destination(tenant, "warehouse", "iceberg", {"catalog": "glue", "database": "typed"})
    ok = _sync(tenant, {"a.csv": csv_bytes(2)}, destination="warehouse", table="orders")
    assert ok["sync_status"] == "Finished", ok
    clash = _sync(tenant, {"b.csv": b"order_id,amount\nX-1,1.5\n"}, destination="warehouse", table="orders")
    assert clash["sync_status"] == "Failed", clash
    assert "the files are in the lake" in clash["message"] and "order_id" in clash["message"], clash
    assert clash["total_files"] == 1 and clash["num_failed"] == 0
    assert [r["order_id"] for r in _rows(tenant, f"p_{tenant.project}_typed.orders")] == [1, 2]


def test_a_bad_table_target_is_a_400_and_starts_nothing(tenant: Tenant):
    _destination(tenant, "files", "parquet", {"path": "exports"})
    url = f"{tenant.base}/api/ingestion/file/sync/start"
    base = {"path": "/sales/orders", "api_key": tenant.key}
    cases = [
        ({"destination": "nowhere"}, "no destination named 'nowhere'"),
        ({"destination": "files"}, "is a parquet destination"),
        ({"table": "orders"}, "give the iceberg destination"),
        ({"destination": "files", "table": "Orders!"}, "table"),
    ]
    for extra, says in cases:
        r = requests.post(url, json={**base, **extra}, timeout=30)
        assert r.status_code == 400, (extra, r.text)
        assert r.json()["code"] != 0 and says in r.json()["msg"], (extra, r.text)
    r = requests.get(
        f"{tenant.base}/api/ingestion/file/sync/list", params={"api_key": tenant.key}, timeout=30
    )
    assert r.status_code == 200 and r.json() == []
    r = tenant.native("POST", "/syncs", json={"path": "/x", "destination": "nowhere"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "destination", r.text
