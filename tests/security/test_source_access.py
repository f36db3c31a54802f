"""Source access (issue 13, faults 1-3; docs/security.md): a tenant reads only what its own credentials
reach. Another bucket is read with the project's role (assumed with the project's external id, which the
service generates) or keys, never with the service's role; object keys never leave their bucket.

moto checks no IAM and no trust policy, so these tests prove what the service itself refuses and what it
sends to STS; tests/infra proves the policies of the synthesized template.
"""

from __future__ import annotations

import io
import json
import re

import pyarrow.parquet as pq
import pytest

from tests.integration.files import csv_bytes
from tests.integration.sources import s3_source
from tests.security.conftest import PEOPLE, SSNS, job_body, ok, people_bucket, unique, wait_run

# ---------------------------------------------------------------- fault 1: no shared reads


def test_another_tenants_bucket_is_refused_without_the_projects_own_credentials(owner, stranger):
    """B aims a source at A's bucket with the service's role: refused at create, test, discovery and job
    creation, naming role_arn; none of A's columns or rows come back; nothing is stored."""
    config = {"bucket": owner.bucket, "prefix": "exports/"}
    base = f"/api/v1/project/{stranger.project}"
    attempts = [
        ("POST", f"{base}/sources", {"name": unique("steal"), "type": "s3", "config": config}, "config.role_arn"),
        ("POST", f"{base}/sources/test", {"type": "s3", "config": config}, "config.role_arn"),
        ("POST", f"{base}/source/streams", {"type": "s3", "config": config}, "config.role_arn"),
        ("POST", f"{base}/jobs", {**job_body(owner.bucket, unique("steal")), "source": {
            "name": unique("steal"), "type": "s3", "config": config}}, "source.config.role_arn"),
    ]  # fmt: skip
    for method, path, body, field in attempts:
        r = stranger.user.call(method, path, json=body)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert r.json()["errors"][0]["field"] == field, r.text
        assert "ssn" not in r.text and SSNS[0] not in r.text
    r = stranger.user.call(
        "GET", f"{base}/source/streams", params={"type": "s3", "config": json.dumps(config)}
    )
    assert r.status_code == 400 and "role_arn" in r.text and "ssn" not in r.text
    # the viewer key of B cannot even try (discovery of a config needs an editor: fault 8)
    viewer = stranger.user.call("POST", f"{base}/source/streams", json={"type": "s3", "config": config},
                                headers={"Authorization": f"Bearer {stranger.key('viewer')}"})  # fmt: skip
    assert viewer.status_code == 403 and "ssn" not in viewer.text
    assert ok(stranger.user.call("GET", f"{base}/sources"))["data"] == []
    assert ok(stranger.user.call("GET", f"{base}/jobs"))["data"] == []


def test_the_data_bucket_is_read_only_under_the_projects_own_prefixes(owner, stranger, local_cloud):
    config = {"bucket": local_cloud.bucket, "prefix": f"lake/{owner.project}/"}
    r = stranger.user.call(
        "POST", f"/api/v1/project/{stranger.project}/sources/test", json={"type": "s3", "config": config}
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "config.prefix"


def test_a_single_tenant_environment_shares_only_the_buckets_it_names(
    stranger, s3, settings_env, local_cloud
):
    """The quickstart's setting: a named bucket is read with the service's role; when the environment stops
    naming it, the stored source is refused at run time (a 400 before any run starts)."""
    assert (
        local_cloud.env["SINGLE_TENANT_SOURCE_BUCKETS"] == "raw-exports"
    )  # cdk.json `local`: the quickstart's
    bucket = people_bucket(s3, "shared")
    settings_env(SINGLE_TENANT_SOURCE_BUCKETS=f"raw-exports,{bucket}")
    base = f"/api/v1/project/{stranger.project}"
    body = job_body(bucket, unique("shared"))
    body["source"]["config"] = {"bucket": bucket, "prefix": "exports/"}
    job = ok(stranger.user.call("POST", f"{base}/jobs", json=body), 201)["data"]
    settings_env(SINGLE_TENANT_SOURCE_BUCKETS="raw-exports")
    r = stranger.user.call("POST", f"{base}/jobs/{job['id']}/sync")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "source.config.role_arn", r.text
    r = stranger.user.call("POST", f"{base}/source/streams", json={"source_id": job["source"]["id"]})
    assert r.status_code == 400 and "role_arn" in r.text
    runs = ok(stranger.user.call("GET", f"{base}/jobs/{job['id']}/tasks"))["data"]
    assert runs == []


# ---------------------------------------------------------------- fault 2: the confused deputy


def _assumed(role_arn: str) -> list:
    """Every AssumeRole moto saw for `role_arn` (the moto server runs in this process)."""
    from moto.sts.models import sts_backends

    return [
        role
        for account in sts_backends.values()
        for backend in account.values()
        for role in backend.assumed_roles
        if role.role_arn == role_arn
    ]


def test_the_external_id_is_generated_per_project_and_shown_in_the_project(owner, stranger, base_url):
    mine = ok(owner.user.call("GET", f"/api/v1/project/{owner.project}"))["data"]
    theirs = ok(stranger.user.call("GET", f"/api/v1/project/{stranger.project}"))["data"]
    assert re.fullmatch(r"[0-9a-f]{32}", mine["external_id"]) and mine["external_id"] != theirs["external_id"]
    assert mine["source_principal"] == "arn:aws:iam::123456789012:root"
    assert (
        ok(owner.user.call("GET", f"/api/v1/project/{owner.project}"))["data"]["external_id"]
        == mine["external_id"]
    )
    as_key = owner.user.call(
        "GET", f"/api/v1/project/{owner.project}", headers={"x-api-key": owner.key("viewer")}
    )
    assert ok(as_key)["data"]["external_id"] == mine["external_id"]
    # never chosen by a user: not in a project, not in a source
    r = owner.user.call("PUT", f"/api/v1/project/{owner.project}", json={"external_id": "mine"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "external_id"
    r = owner.user.call("POST", "/api/v1/project", json={"name": unique("p"), "external_id": "mine"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "external_id"


def test_a_role_is_assumed_with_the_callers_project_never_a_user_chosen_external_id(owner, stranger):
    """B names A's role and A's external id: the external id is refused; with the role alone, the service
    assumes it with B's external id and B's project in the session name, so A's trust policy (which names
    A's external id) refuses it in AWS."""
    role = f"arn:aws:iam::123456789012:role/ingestplane-source-{unique('owner')}"
    base = f"/api/v1/project/{stranger.project}"
    config = {"bucket": owner.bucket, "prefix": "exports/", "role_arn": role}
    r = stranger.user.call("POST", f"{base}/sources", json={
        "name": unique("deputy"), "type": "s3", "config": {**config, "external_id": owner.external_id}})  # fmt: skip
    assert r.status_code == 400 and "external_id" in r.json()["message"], r.text
    assert owner.external_id not in r.text
    ok(stranger.user.call("POST", f"{base}/sources/test", json={"type": "s3", "config": config}))
    theirs = ok(stranger.user.call("GET", f"/api/v1/project/{stranger.project}"))["data"]["external_id"]
    seen = _assumed(role)
    assert seen, "the connection test assumed no role"
    assert {(s.external_id, s.session_name) for s in seen} == {(theirs, f"ingestplane-{stranger.project}")}


# ---------------------------------------------------------------- fault 3: keys that leave their bucket


@pytest.mark.parametrize(
    "key",
    ["../data/lake/p/x.csv", "a/../../data/x.csv", "exports/a=1/../../../data/lake/p/x.csv", "./x.csv",
     "a//b.csv", "/abs.csv", "a/./b.csv", "a/..", ""],
)  # fmt: skip
def test_keys_with_dot_or_empty_segments_are_never_read(key):
    from functions.engine import UnsafeKeyError, check_object_key

    with pytest.raises(UnsafeKeyError):
        check_object_key(key)


def test_a_listed_key_cannot_reach_another_bucket(owner, stranger, s3, local_cloud):
    """B's own bucket lists a key that climbs into the data bucket's lake/<A>/: a job run (which then fails
    whole), a connection test and discovery refuse it by name, and none of A's rows reach B's lake."""
    a_key = f"lake/{owner.project}/people/people.csv"
    s3.put_object(Bucket=local_cloud.bucket, Key=a_key, Body=csv_bytes(PEOPLE))  # A's rows, in A's lake
    bucket = unique("b-exports")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket, Key="exports/day1.csv", Body=csv_bytes([{"id": 7, "name": "b-row", "ssn": "-"}])
    )
    base = f"/api/v1/project/{stranger.project}"
    job = ok(stranger.user.call("POST", f"{base}/jobs", json=job_body(bucket, unique("climb"))), 201)["data"]
    climbing = f"exports/a=1/../../../{local_cloud.bucket}/{a_key}"
    s3.put_object(Bucket=bucket, Key=climbing, Body=b"id,name,ssn\n9,decoy,-\n")
    run_id = ok(stranger.user.call("POST", f"{base}/jobs/{job['id']}/sync"))["data"]["id"]
    run = wait_run(stranger.project, run_id)
    # a file the run refuses to read fails the run (README, "Which errors fail a run"): nothing is committed
    assert run["state"] == "failed" and "refused object key" in str(run.get("error")), run
    listed = ok(stranger.user.call("GET", f"{base}/jobs/{job['id']}/task/{run_id}/files"))["data"]
    files = {f["name"]: f for f in listed}
    assert files[climbing]["errors"] == 1 and files[climbing]["read"] == 0, files
    assert "refused object key" in files[climbing]["message"]
    assert files["exports/day1.csv"]["read"] == 1
    lake = s3.list_objects_v2(Bucket=local_cloud.bucket, Prefix=f"lake/{stranger.project}/").get(
        "Contents", []
    )
    names = []
    for obj in lake:
        if obj["Key"].endswith(".parquet"):
            body = s3.get_object(Bucket=local_cloud.bucket, Key=obj["Key"])["Body"].read()
            names += pq.read_table(io.BytesIO(body)).column("name").to_pylist()
    assert not {p["name"] for p in PEOPLE} & set(names) and "decoy" not in names, names
    # the connection test and discovery of that folder name the refused key
    config = s3_source(bucket, prefix="exports/a=1/")
    test = ok(stranger.user.call("POST", f"{base}/sources/test", json={"type": "s3", "config": config}))[
        "data"
    ]
    assert test["connection_result"]["status"] == "FAILED" and "refused object key" in str(test["checks"])
    r = stranger.user.call("POST", f"{base}/source/streams", json={"type": "s3", "config": config})
    assert r.status_code == 400 and "refused object key" in r.text and SSNS[0] not in r.text
