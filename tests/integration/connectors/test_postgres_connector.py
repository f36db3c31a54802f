"""The postgres source over HTTP against the local cloud and a real PostgreSQL: spec, named connection
checks (with and without CDC), discovery, the masked password, and the host rule."""

from __future__ import annotations

import pytest

from tests.conftest import free_port

MASK = "********"
READER, READER_PW = "shop_reader", "Reader-pass-1"
CDC, CDC_PW = "shop_cdc", "Cdc-pass-22"


@pytest.fixture(scope="module")
def shop(postgres_server) -> dict:
    name = postgres_server.create_database("shop")
    with postgres_server.connect(name) as conn:
        for statement in (
            "CREATE EXTENSION IF NOT EXISTS hstore",
            "CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric(10,2), placed_at timestamptz, tags text[])",
            "CREATE TABLE notes (body text, extra hstore)",  # no key; one column without a mapping
            "CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 100",
            "CREATE SCHEMA hidden",
            "CREATE TABLE hidden.secret (id int)",
            "INSERT INTO orders VALUES (1, 9.5, now(), '{a,b}')",
            "CREATE PUBLICATION shop_pub FOR TABLE orders",
            f"DROP ROLE IF EXISTS {READER}",
            f"CREATE ROLE {READER} LOGIN PASSWORD '{READER_PW}'",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER}",
            f"DROP ROLE IF EXISTS {CDC}",
            f"CREATE ROLE {CDC} LOGIN REPLICATION PASSWORD '{CDC_PW}'",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {CDC}",
        ):
            conn.execute(statement)
    return {"host": "localhost", "port": postgres_server.port, "database": name, "ssl_mode": "disable"}


def config(shop: dict, user: str = READER, password: str = READER_PW, **extra) -> dict:
    return {**shop, "username": user, "password": password, **extra}


def _test(user, pid, body):
    r = user.call("POST", f"/api/v1/project/{pid}/sources/test", json=body)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def _checks(data) -> dict[str, tuple[str, str]]:
    return {c["name"]: (c["status"], c["message"]) for c in data["checks"]}


def test_spec_marks_the_password_secret(alice, project):
    got = alice.call("GET", f"/api/v1/project/{project}/sources/spec", params={"type": "postgres"}).json()[
        "data"
    ]
    assert got["secret_fields"] == ["password"] and got["spec"]["properties"]["password"]["secret"] is True
    assert {"host", "database", "username", "password"} <= set(got["spec"]["required"])


def test_connection_checks_name_what_passed_and_what_did_not(alice, project, shop):
    ok = _test(alice, project, {"type": "postgres", "config": config(shop)})
    assert ok["connection_result"]["status"] == "SUCCEEDED", ok
    checks = _checks(ok)
    assert list(checks) == ["reachable", "authenticated", "select_on_schemas", "close"]
    assert "SELECT on 3 tables and views in public" in checks["select_on_schemas"][1]
    assert READER_PW not in str(ok)

    wrong = _checks(_test(alice, project, {"type": "postgres", "config": config(shop, password="Nope-1234")}))
    assert (
        wrong["authenticated"][0] == "failed"
        and "password authentication failed" in wrong["authenticated"][1]
    )
    assert wrong["select_on_schemas"][0] == "skipped"

    hidden = _checks(
        _test(alice, project, {"type": "postgres", "config": config(shop, schemas=["hidden", "nope"])})
    )
    assert hidden["select_on_schemas"] == ("failed", "schema(s) nope do not exist")
    hidden = _checks(_test(alice, project, {"type": "postgres", "config": config(shop, schemas=["hidden"])}))
    assert hidden["select_on_schemas"][0] == "failed" and "USAGE" in hidden["select_on_schemas"][1]

    closed = _checks(
        _test(alice, project, {"type": "postgres", "config": {**config(shop), "port": free_port()}})
    )
    assert closed["reachable"][0] == "failed" and "not reachable" in closed["reachable"][1]


def test_cdc_checks(alice, project, shop):
    cdc = {"replication_slot": "shop_slot", "publication": "shop_pub"}
    ok = _test(alice, project, {"type": "postgres", "config": config(shop, CDC, CDC_PW, **cdc)})
    checks = _checks(ok)
    assert ok["connection_result"]["status"] == "SUCCEEDED", ok
    assert [n for n in checks][3:7] == [
        "wal_level_logical",
        "replication_attribute",
        "replication_slot",
        "publication",
    ]
    assert "the first CDC run creates it" in checks["replication_slot"][1]
    assert "holds 1 tables of public" in checks["publication"][1]

    reader = _checks(_test(alice, project, {"type": "postgres", "config": config(shop, **cdc)}))
    assert (
        reader["replication_attribute"][0] == "failed"
        and "WITH REPLICATION" in reader["replication_attribute"][1]
    )

    nopub = {**cdc, "publication": "missing_pub"}
    missing = _checks(
        _test(alice, project, {"type": "postgres", "config": config(shop, CDC, CDC_PW, **nopub)})
    )
    assert (
        missing["publication"][0] == "failed"
        and "CREATE PUBLICATION missing_pub" in missing["publication"][1]
    )

    r = alice.call("POST", f"/api/v1/project/{project}/sources/test",
                   json={"type": "postgres", "config": config(shop, replication_slot="only_slot")})  # fmt: skip
    assert r.status_code == 400 and "go together" in r.json()["message"]


def test_discovery_lists_tables_views_types_keys_and_modes(alice, project, shop):
    body = {
        "type": "postgres",
        "config": config(shop, CDC, CDC_PW, replication_slot="s", publication="shop_pub"),
    }
    r = alice.call("POST", f"/api/v1/project/{project}/source/streams", json=body)
    assert r.status_code == 200, r.text
    streams = {s["stream_name"]: s for s in r.json()["data"]["streams_config"]["streams"]}
    assert set(streams) == {"orders", "notes", "big_orders"}
    orders = streams["orders"]
    assert [(c["name"], c["type"]) for c in orders["columns"]] == [
        ("id", "int64"), ("amount", "decimal(10,2)"), ("placed_at", "timestamptz"), ("tags", "list<string>")
    ]  # fmt: skip
    assert orders["primary_key"] == ["id"] and orders["cursor_field"] == "placed_at"
    assert orders["supported_sync_modes"] == ["full_refresh", "incremental", "cdc"]
    assert (
        streams["big_orders"]["kind"] == "view" and "cdc" not in streams["big_orders"]["supported_sync_modes"]
    )
    notes = streams["notes"]
    assert notes["supported_sync_modes"] == ["full_refresh"] and notes[
        "supported_destination_sync_modes"
    ] == ["append", "overwrite"]
    assert (
        notes["unsupported_columns"][0]["name"] == "extra"
        and "hstore" in notes["unsupported_columns"][0]["reason"]
    )


def test_a_stored_source_keeps_its_password_masked(alice, project, shop):
    base = f"/api/v1/project/{project}"
    made = alice.call(
        "POST", f"{base}/sources", json={"name": "shopdb", "type": "postgres", "config": config(shop)}
    )
    assert made.status_code == 201, made.text
    source = made.json()["data"]
    assert source["config"]["password"] == MASK
    again = _test(alice, project, {"id": source["id"], "type": "postgres", "config": source["config"]})
    assert again["connection_result"]["status"] == "SUCCEEDED"  # the mask means: the stored password
    streams = alice.call("POST", f"{base}/source/streams", json={"source_id": source["id"]})
    assert streams.status_code == 200 and READER_PW not in streams.text


@pytest.mark.parametrize("host", ["169.254.169.254", "fe80::1", "0.0.0.0"])
def test_metadata_and_link_local_hosts_are_refused(alice, project, shop, host):
    r = alice.call("POST", f"/api/v1/project/{project}/sources/test",
                   json={"type": "postgres", "config": {**config(shop), "host": host}})  # fmt: skip
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "config.host"
