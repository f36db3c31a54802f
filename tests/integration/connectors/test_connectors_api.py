"""Sources and destinations over HTTP against the local cloud: specs, CRUD, secrets, jobs that pin them."""

from __future__ import annotations

import json

import pytest

from tests.integration.sources import s3_source

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
MASK = "********"


def s3_config(bucket: str, **extra) -> dict:
    return s3_source(bucket, prefix="exports/csv/", format="csv", **extra)


def with_keys(bucket: str) -> dict:
    """Read with the keys instead of the role."""
    config = s3_config(bucket, access_key_id="AKIAIOSFODNN7EXAMPLE", secret_access_key=SECRET)
    del config["role_arn"]
    return config


def create(user, pid, kind, name, type_, config, status=201):
    r = user.call(
        "POST", f"/api/v1/project/{pid}/{kind}", json={"name": name, "type": type_, "config": config}
    )
    assert r.status_code == status, r.text
    return r.json()


# ---------------------------------------------------------------- specs


def test_specs_list_types_and_describe_configs(alice, project):
    base = f"/api/v1/project/{project}"
    r = alice.call("GET", f"{base}/sources/spec")
    assert r.status_code == 200 and r.json()["data"]["types"] == [
        {"type": "postgres", "title": "PostgreSQL", "versions": ["v1"]},
        {"type": "s3", "title": "Amazon S3 files", "versions": ["v1"]},
    ]
    dest = alice.call("GET", f"{base}/destinations/spec").json()["data"]["types"]
    assert {t["type"] for t in dest} == {"iceberg", "parquet"}

    s3 = alice.call("GET", f"{base}/sources/spec", params={"type": "s3"}).json()["data"]
    assert s3["version"] == "v1" and set(s3["secret_fields"]) == {"access_key_id", "secret_access_key"}
    props = s3["spec"]["properties"]
    assert props["secret_access_key"]["secret"] is True and "secret" not in props["bucket"]
    assert "bucket" in s3["spec"]["required"] and "endpoint" not in props

    # A GET with a body (olake's habit) and a POST say the same; a destination spec takes `catalog`.
    got = alice.call("GET", f"{base}/destinations/spec", json={"type": "iceberg", "catalog": "glue"}).json()
    posted = alice.call(
        "POST", f"{base}/destinations/spec", json={"type": "iceberg", "catalog": "glue"}
    ).json()
    assert got == posted and got["data"]["catalog"] == "glue"
    assert "database" in got["data"]["spec"]["properties"]

    for path, params, field in [
        ("sources/spec", {"type": "ftp"}, "type"),
        ("sources/spec", {"type": "s3", "version": "v9"}, "version"),
        ("destinations/spec", {"type": "iceberg", "catalog": "hive"}, "catalog"),
        ("sources/spec", {"catalog": "glue"}, "catalog"),
    ]:
        r = alice.call("GET", f"{base}/{path}", params=params)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == field, r.text


# ---------------------------------------------------------------- CRUD and secrets


def test_source_lifecycle_keeps_secrets_out_of_answers_and_table(
    alice, project, source_bucket, secrets_client, dynamodb, local_cloud
):
    base = f"/api/v1/project/{project}/sources"
    made = create(alice, project, "sources", "exports", "s3", with_keys(source_bucket))["data"]
    sid = made["id"]
    assert made["config"]["secret_access_key"] == MASK and made["version"] == "v1"
    assert made["created_by"] == made["updated_by"] == alice.username and made["jobs"] == []

    # The secret lives in Secrets Manager, named under the environment's prefix; never in DynamoDB.
    name = f"ingestplane/{local_cloud.env_name}/connectors/{project}/{sid}"
    assert json.loads(secrets_client.get_secret_value(SecretId=name)["SecretString"]) == {
        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "secret_access_key": SECRET,
    }
    items = dynamodb.scan(TableName=local_cloud.env["CONNECTORS_TABLE"])["Items"]
    assert SECRET not in json.dumps(items) and any(sid in json.dumps(i) for i in items)

    for r in (alice.call("GET", base), alice.call("GET", f"{base}/{sid}")):
        assert r.status_code == 200 and SECRET not in r.text and MASK in r.text

    # Sending the mask back keeps the stored secret; a new value replaces it.
    config = alice.call("GET", f"{base}/{sid}").json()["data"]["config"]
    r = alice.call(
        "PUT", f"{base}/{sid}", json={"name": "exports-2", "config": {**config, "prefix": "exports/"}}
    )
    assert r.status_code == 200 and r.json()["data"]["name"] == "exports-2", r.text
    assert r.json()["data"]["config"]["prefix"] == "exports/" and SECRET not in r.text
    assert (
        json.loads(secrets_client.get_secret_value(SecretId=name)["SecretString"])["secret_access_key"]
        == SECRET
    )
    r = alice.call(
        "PUT", f"{base}/{sid}", json={"config": {**config, "secret_access_key": "another-secret-value"}}
    )
    assert r.status_code == 200 and "another-secret-value" not in r.text
    assert "another-secret-value" in secrets_client.get_secret_value(SecretId=name)["SecretString"]

    # Names are unique per project and kind, case-insensitively; the old name is free after a rename.
    create(alice, project, "sources", "EXPORTS-2", "s3", s3_config(source_bucket), status=409)
    # A refused create leaves no secret behind.
    prefix = f"ingestplane/{local_cloud.env_name}/connectors/{project}/"
    listed = secrets_client.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}])["SecretList"]
    create(alice, project, "sources", "exports-2", "s3", with_keys(source_bucket), status=409)
    assert len(
        secrets_client.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}])["SecretList"]
    ) == len(listed)
    other = create(alice, project, "sources", "exports", "s3", s3_config(source_bucket))["data"]
    r = alice.call("PUT", f"{base}/{other['id']}", json={"name": "Exports-2"})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "name"
    # A destination may share a source's name.
    create(alice, project, "destinations", "exports", "parquet", {"path": "exports"})

    # Soft delete: gone from every route, secret scheduled for deletion, the name free again.
    deleted = alice.call("DELETE", f"{base}/{sid}")
    assert deleted.status_code == 200 and deleted.json()["data"] == {"name": "exports-2"}, deleted.text
    assert alice.call("GET", f"{base}/{sid}").status_code == 404
    assert alice.call("DELETE", f"{base}/{sid}").status_code == 404
    assert alice.call("PUT", f"{base}/{sid}", json={"name": "x"}).status_code == 404
    assert sid not in [s["id"] for s in alice.call("GET", base).json()["data"]]
    assert "DeletedDate" in secrets_client.describe_secret(SecretId=name)
    create(alice, project, "sources", "exports-2", "s3", s3_config(source_bucket))


def test_bad_configs_are_400_naming_the_field_and_change_nothing(alice, project, source_bucket, local_cloud):
    data_bucket = local_cloud.env["DATA_BUCKET"]
    cases = [
        ({"name": "a", "type": "s3", "config": {"prefix": "x/"}}, "config.bucket"),
        ({"name": "a", "type": "s3", "config": {"bucket": "Bad_Bucket"}}, "config.bucket"),
        ({"name": "a", "type": "s3", "config": {**s3_config(source_bucket), "endpoint": "http://10.0.0.1"}},
         "config.endpoint"),
        ({"name": "a", "type": "s3", "config": {**s3_config(source_bucket), "format": "xml"}}, "config.format"),
        ({"name": "a", "type": "s3", "config": {"bucket": data_bucket, "prefix": "uploads/someone-else/"}},
         "config.prefix"),
        ({"name": "a", "type": "s3", "config": s3_config(source_bucket, secret_access_key=MASK,
                                                          access_key_id="AKIAIOSFODNN7EXAMPLE")},
         "config.secret_access_key"),
        ({"name": "a", "type": "ftp", "config": {}}, "type"),
        ({"name": "a", "type": "s3", "version": "v2", "config": s3_config(source_bucket)}, "version"),
        ({"name": "", "type": "s3", "config": s3_config(source_bucket)}, "name"),
        ({"name": "a", "type": "s3", "config": s3_config(source_bucket), "created_by": "mallory"},
         "created_by"),
    ]  # fmt: skip
    for body, field in cases:
        r = alice.call("POST", f"/api/v1/project/{project}/sources", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["success"] is False and r.json()["errors"][0]["field"] == field, (body, r.text)
    dest_cases = [
        ({"name": "d", "type": "parquet", "config": {"path": "../other"}}, "config.path"),
        ({"name": "d", "type": "parquet", "config": {"path": "a//b"}}, "config.path"),
        ({"name": "d", "type": "iceberg", "config": {"database": "Orders!"}}, "config.database"),
        ({"name": "d", "type": "iceberg", "config": {"database": "o", "warehouse": "s3://elsewhere/x"}},
         "config.warehouse"),
        ({"name": "d", "type": "iceberg", "config": {"database": "o", "catalog": "hive"}}, "config.catalog"),
    ]  # fmt: skip
    for body, field in dest_cases:
        r = alice.call("POST", f"/api/v1/project/{project}/destinations", json=body)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == field, (body, r.text)
    for kind in ("sources", "destinations"):
        assert alice.call("GET", f"/api/v1/project/{project}/{kind}").json()["data"] == []
    for params in ({"limit": "0"}, {"limit": "101"}, {"cursor": "%%%"}):
        assert alice.call("GET", f"/api/v1/project/{project}/sources", params=params).status_code == 400


def test_pagination_walks_every_connector_once(alice, project):
    made = {
        create(alice, project, "destinations", f"d{i}", "parquet", {"path": f"p{i}"})["data"]["id"]
        for i in range(5)
    }
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = alice.call("GET", f"/api/v1/project/{project}/destinations", params=params).json()
        assert len(page["data"]) <= 2
        seen += [d["id"] for d in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(made)


def test_strangers_and_viewers(alice, bob, project, source_bucket):
    sid = create(alice, project, "sources", "s", "s3", s3_config(source_bucket))["data"]["id"]
    base = f"/api/v1/project/{project}"
    calls = [
        ("GET", f"{base}/sources", None),
        ("GET", f"{base}/sources/{sid}", None),
        ("GET", f"{base}/sources/spec", None),
        ("POST", f"{base}/sources", {"name": "x", "type": "s3", "config": s3_config(source_bucket)}),
        ("PUT", f"{base}/sources/{sid}", {"name": "y"}),
        ("DELETE", f"{base}/sources/{sid}", None),
        ("POST", f"{base}/sources/test", {"type": "s3", "config": s3_config(source_bucket)}),
        ("POST", f"{base}/destinations/test", {"type": "parquet", "config": {"path": "x"}}),
        ("POST", f"{base}/source/streams", {"source_id": sid}),
        ("GET", f"{base}/destinations", None),
    ]
    for method, path, body in calls:
        r = bob.call(method, path, json=body)
        assert r.status_code == 404 and r.json()["success"] is False, (method, path, r.text)
    # Bob's own project cannot reach Alice's source by id either.
    bob_project = bob.new_project()
    assert bob.call("GET", f"/api/v1/project/{bob_project}/sources/{sid}").status_code == 404
    assert (
        bob.call("POST", f"/api/v1/project/{bob_project}/source/streams", json={"source_id": sid}).status_code
        == 404
    )
    # A viewer reads but does not write.
    assert (
        alice.call("POST", f"{base}/members", json={"username": bob.username, "role": "viewer"}).status_code
        == 201
    )
    assert bob.call("GET", f"{base}/sources").status_code == 200
    assert bob.call("PUT", f"{base}/sources/{sid}", json={"name": "y"}).status_code == 403
    assert bob.call("DELETE", f"{base}/sources/{sid}").status_code == 403
    assert bob.call("POST", f"{base}/sources", json=calls[3][2]).status_code == 403
    assert alice.call("GET", "/api/v1/project/nope/sources").status_code == 404
    assert alice.call("GET", f"{base}/sources/unknownid").status_code == 404


# ---------------------------------------------------------------- jobs that use a connector


def _put_job(dynamodb, table, project, job_id, name, source_id, dest_id, deleted=False):
    item = {
        "pk": {"S": f"PROJECT#{project}"},
        "sk": {"S": f"JOB#{job_id}"},
        "job_id": {"S": job_id},
        "name": {"S": name},
        "source_id": {"S": source_id},
        "dest_id": {"S": dest_id},
        "activate": {"BOOL": True},
        "last_run_time": {"S": "2024-05-01T10:00:00.000Z"},
        "last_run_state": {"S": "succeeded"},
    }
    if deleted:
        item["deleted_at"] = {"S": "2024-05-02T00:00:00.000Z"}
    dynamodb.put_item(TableName=table, Item=item)
    for cid, role in ((source_id, "source"), (dest_id, "destination")):
        dynamodb.put_item(
            TableName=table,
            Item={
                "pk": {"S": f"PROJECT#{project}"},
                "sk": {"S": f"CONNECTOR#{cid}#JOB#{job_id}"},
                "job_id": {"S": job_id},
                "connector_id": {"S": cid},
                "role": {"S": role},
            },
        )


def test_a_connector_a_job_uses_cannot_be_deleted(alice, project, source_bucket, dynamodb, local_cloud):
    sid = create(alice, project, "sources", "src", "s3", s3_config(source_bucket))["data"]["id"]
    did = create(alice, project, "destinations", "dst", "parquet", {"path": "orders"})["data"]["id"]
    table = local_cloud.env["JOBS_TABLE"]
    _put_job(dynamodb, table, project, "job1", "nightly orders", sid, did)

    sources = alice.call("GET", f"/api/v1/project/{project}/sources").json()["data"]
    assert sources[0]["jobs"] == [
        {"id": "job1", "name": "nightly orders", "activate": True, "last_run_time": "2024-05-01T10:00:00.000Z",
         "last_run_state": "succeeded", "source_name": None, "dest_name": "dst"}
    ]  # fmt: skip
    dests = alice.call("GET", f"/api/v1/project/{project}/destinations").json()["data"]
    assert dests[0]["jobs"][0]["source_name"] == "src"

    for kind, cid in (("sources", sid), ("destinations", did)):
        r = alice.call("DELETE", f"/api/v1/project/{project}/{kind}/{cid}")
        assert r.status_code == 409 and "nightly orders" in r.json()["message"], r.text
    _put_job(dynamodb, table, project, "job1", "nightly orders", sid, did, deleted=True)
    assert alice.call("DELETE", f"/api/v1/project/{project}/sources/{sid}").status_code == 200


@pytest.mark.parametrize("limit", [1])
def test_list_is_scoped_to_the_project(alice, project, limit, source_bucket):
    other = alice.new_project()
    create(alice, other, "sources", "elsewhere", "s3", s3_config(source_bucket))
    r = alice.call("GET", f"/api/v1/project/{project}/sources", params={"limit": limit})
    assert r.json()["data"] == [] and r.json()["next_cursor"] is None
