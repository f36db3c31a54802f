"""Connection tests and stream discovery against real buckets, files and the Glue catalog of the local cloud."""

from __future__ import annotations

import json

from tests.integration.sources import SOURCE_ROLE

SECRET = "streams-secret-value-0123456789"


def _test(user, pid, kind, body):
    r = user.call("POST", f"/api/v1/project/{pid}/{kind}/test", json=body)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_s3_source_test_reads_the_first_file(alice, project, source_bucket):
    ok = _test(
        alice,
        project,
        "sources",
        {
            "type": "s3",
            "config": {"bucket": source_bucket, "role_arn": SOURCE_ROLE, "prefix": "exports/gzcsv/"},
        },
    )
    assert ok["connection_result"]["status"] == "SUCCEEDED", ok
    assert [c["name"] for c in ok["checks"]] == [
        "bucket_reachable",
        "prefix_listable",
        "file_readable",
        "format_recognized",
    ]
    assert "csv, gzip, 4 columns" in ok["checks"][3]["message"]

    missing = _test(
        alice,
        project,
        "sources",
        {"type": "s3", "config": {"bucket": "no-such-bucket-here", "role_arn": SOURCE_ROLE}},
    )
    assert missing["connection_result"]["status"] == "FAILED"
    assert missing["checks"][0]["status"] == "failed" and "does not exist" in missing["checks"][0]["message"]
    assert {c["status"] for c in missing["checks"][1:]} == {"skipped"}

    empty = _test(
        alice,
        project,
        "sources",
        {"type": "s3", "config": {"bucket": source_bucket, "role_arn": SOURCE_ROLE, "prefix": "nothing/"}},
    )
    assert empty["checks"][1]["status"] == "failed" and "no files" in empty["checks"][1]["message"]

    wrong = _test(alice, project, "sources", {"type": "s3", "config": {"bucket": source_bucket, "role_arn": SOURCE_ROLE, "prefix": "exports/parquet/", "format": "csv"}})  # fmt: skip
    assert wrong["connection_result"]["status"] == "FAILED" and "parquet" in wrong["checks"][3]["message"]

    r = alice.call(
        "POST", f"/api/v1/project/{project}/sources/test", json={"type": "s3", "config": {"bucket": 5}}
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "config.bucket"


def test_destination_tests_reach_glue_and_write_probes(alice, project, glue, s3, local_cloud):
    iceberg = _test(alice, project, "destinations", {"type": "iceberg", "config": {"database": "orders"}})
    assert iceberg["connection_result"]["status"] == "SUCCEEDED", iceberg
    assert [c["name"] for c in iceberg["checks"]] == ["glue_reachable", "namespace", "warehouse_writable"]
    database = f"p_{project}_orders"
    assert glue.get_database(Name=database)["Database"]["Name"] == database
    again = _test(alice, project, "destinations", {"type": "iceberg", "config": {"database": "orders"}})
    assert "exists" in again["checks"][1]["message"]

    parquet = _test(alice, project, "destinations", {"type": "parquet", "config": {"path": "exports/daily"}})
    assert parquet["connection_result"]["status"] == "SUCCEEDED", parquet
    # The probe objects were removed.
    listed = s3.list_objects_v2(Bucket=local_cloud.env["DATA_BUCKET"], Prefix=f"lake/{project}/")
    assert listed.get("KeyCount", 0) == 0


def _streams(user, pid, config, status=200):
    r = user.call("POST", f"/api/v1/project/{pid}/source/streams", json={"type": "s3", "config": config})
    assert r.status_code == status, r.text
    return r.json()


def test_discovery_infers_every_format(alice, project, source_bucket):
    config = {"bucket": source_bucket, "role_arn": SOURCE_ROLE, "prefix": "exports/", "files": ["csv/*", "gzcsv/*", "jsonl/*", "parquet/*", "avro/*"]}  # fmt: skip
    streams = {
        s["stream_name"]: s for s in _streams(alice, project, config)["data"]["streams_config"]["streams"]
    }
    assert set(streams) == {"csv", "gzcsv", "jsonl", "parquet", "avro"}
    assert {n: s["format"] for n, s in streams.items()} == {
        "csv": "csv", "gzcsv": "csv", "jsonl": "jsonl", "parquet": "parquet", "avro": "avro"
    }  # fmt: skip
    for name, stream in streams.items():
        columns = {c["name"]: c["type"] for c in stream["columns"]}
        assert set(columns) == {"id", "name", "amount", "updated_at"}, (name, columns)
        assert columns["id"] == "int64" and columns["name"] == "string", (name, columns)
        assert stream["selected"] is True and stream["sync_mode"] == "full_refresh"
        assert set(stream["supported_sync_modes"]) == {"full_refresh", "incremental"}
        assert stream["destination_sync_mode"] == "append" and stream["primary_key"] == ["id"]
        assert stream["namespace"] == source_bucket
    assert streams["csv"]["cursor_field"] == "updated_at" and streams["csv"]["file_count"] == 2
    assert streams["csv"]["columns"][3]["type"] == "timestamptz"


def test_discovery_names_incompatible_files(alice, project, source_bucket):
    body = _streams(
        alice,
        project,
        {"bucket": source_bucket, "role_arn": SOURCE_ROLE, "prefix": "exports/mixed/"},
        status=400,
    )
    assert body["success"] is False and body["errors"][0]["field"] == "config"
    assert "exports/mixed/a.csv" in body["message"] and "exports/mixed/b.parquet" in body["message"]
    assert _streams(alice, project, {"bucket": source_bucket, "role_arn": SOURCE_ROLE, "prefix": "nothing/"}, status=400)["errors"][0]["field"] == "config.prefix"  # fmt: skip
    r = alice.call("POST", f"/api/v1/project/{project}/source/streams", json={"type": "s3"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "config"


def test_discovery_of_a_stored_source_uses_its_secret_and_logs_no_secret(
    alice, project, source_bucket, caplog
):
    # What the functions log at their most verbose (third-party libraries' DEBUG output is off in Lambda).
    caplog.set_level("INFO")
    caplog.set_level("DEBUG", logger="ingestplane")
    config = {"bucket": source_bucket, "prefix": "exports/jsonl/", "access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": SECRET}  # fmt: skip
    r = alice.call(
        "POST", f"/api/v1/project/{project}/sources", json={"name": "keys", "type": "s3", "config": config}
    )
    assert r.status_code == 201 and SECRET not in r.text
    sid = r.json()["data"]["id"]
    # GET with query parameters, GET with a body, and POST all discover the same streams.
    by_query = alice.call("GET", f"/api/v1/project/{project}/source/streams", params={"source_id": sid})
    by_body = alice.call("GET", f"/api/v1/project/{project}/source/streams", json={"source_id": sid})
    by_post = alice.call("POST", f"/api/v1/project/{project}/source/streams", json={"source_id": sid})
    assert by_query.status_code == by_body.status_code == by_post.status_code == 200, by_query.text
    assert by_query.json() == by_body.json() == by_post.json()
    assert by_post.json()["data"]["streams_config"]["streams"][0]["stream_name"] == "jsonl"
    q = alice.call("GET", f"/api/v1/project/{project}/source/streams", params={"type": "s3", "config": json.dumps({"bucket": source_bucket, "role_arn": SOURCE_ROLE, "prefix": "exports/avro/"})})  # fmt: skip
    assert q.status_code == 200 and q.json()["data"]["streams_config"]["streams"][0]["format"] == "avro"
    # The stored source's test: the mask plus its id keeps the stored secret.
    masked = {**config, "secret_access_key": "********"}
    t = _test(alice, project, "sources", {"id": sid, "type": "s3", "config": masked})
    assert t["connection_result"]["status"] == "SUCCEEDED", t
    logged = " ".join(json.dumps(vars(r), default=str) for r in caplog.records)
    assert "/source/streams" in logged and SECRET not in logged
