"""The native jobs API over HTTP: create (connectors by name), list, get, update, delete, activate."""

from __future__ import annotations

import json
import os

import boto3
import requests

from .conftest import job_body


def _jobs(project: str) -> str:
    return f"/api/v1/project/{project}/jobs"


def _error(r, status: int, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is False and body["message"]
    if field is not None:
        assert field in {e["field"] for e in body.get("errors", [])}, body
    return body


def test_create_job_creates_connectors_by_name_and_validates_streams(alice, project, source_bucket):
    r = alice.call("POST", _jobs(project), json=job_body(source_bucket))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["success"] is True and body["message"] == "job created"
    job = body["data"]
    assert job["name"] == "orders-sync"
    assert job["source"]["name"] == "exports" and job["source"]["type"] == "s3"
    assert job["destination"]["name"] == "lake" and job["destination"]["version"] == "v1"
    assert job["frequency"] == "manual" and job["schedule_expression"] == "manual"
    assert job["activate"] is True and job["last_run_state"] is None
    [stream] = job["streams_config"]["streams"]
    assert stream["stream_name"] == "orders" and stream["primary_key"] == ["id"]
    assert stream["destination_sync_mode"] == "append" and stream["namespace"] == source_bucket
    assert {c["name"] for c in stream["columns"]} >= {"id", "name", "amount"}
    # The connectors exist and show the job that uses them.
    sources = alice.call("GET", f"/api/v1/project/{project}/sources").json()["data"]
    assert [s["name"] for s in sources] == ["exports"]
    assert [j["name"] for j in sources[0]["jobs"]] == ["orders-sync"]


def test_create_job_reuses_connectors_by_name(alice, project, job):
    body = {
        "name": "second",
        "source": {"name": "exports"},
        "destination": {"name": "LAKE", "version": "v1"},
        "streams_config": json.dumps({"streams": [{"stream_name": "customers"}]}),  # olake sends JSON text
    }
    r = alice.call("POST", _jobs(project), json=body)
    assert r.status_code == 201, r.text
    second = r.json()["data"]
    assert second["source"]["id"] == job["source"]["id"]
    assert second["destination"]["id"] == job["destination"]["id"]
    assert [s["stream_name"] for s in second["streams_config"]["streams"]] == ["customers"]
    assert len(alice.call("GET", f"/api/v1/project/{project}/destinations").json()["data"]) == 1


def test_create_job_without_streams_config_takes_every_stream(alice, project, source_bucket):
    body = job_body(source_bucket, name="all")
    del body["streams_config"]
    r = alice.call("POST", _jobs(project), json=body)
    assert r.status_code == 201, r.text
    names = [s["stream_name"] for s in r.json()["data"]["streams_config"]["streams"]]
    assert names == ["customers", "orders"]


BAD_INPUT = [
    ({"source": {"name": "exports", "version": "v9"}}, "source.version"),
    ({"source": {"name": "exports", "type": "other"}}, "source.type"),
    ({"destination": {"name": "nowhere"}}, "destination.type"),
    ({"destination": {"name": "new", "type": "parquet"}}, "destination.config"),
    (
        {"destination": {"name": "new", "type": "parquet", "config": {"path": "../x"}}},
        "destination.config.path",
    ),
    ({"streams_config": {"streams": [{"stream_name": "nope"}]}}, "streams_config.streams.0.stream_name"),
    (
        {"streams_config": {"streams": [{"stream_name": "orders", "primary_key": ["id", "nope"]}]}},
        "streams_config.streams.0.primary_key.1",
    ),
    (
        {"streams_config": {"streams": [{"stream_name": "orders", "sync_mode": "incremental"}]}},
        "streams_config.streams.0.cursor_field",
    ),
    (
        {"streams_config": {"streams": [{"stream_name": "orders", "selected": False}]}},
        "streams_config.streams",
    ),
    (
        {"streams_config": {"streams": [{"stream_name": "orders", "destination_sync_mode": "upsert"}]}},
        "streams_config.streams.0.destination_sync_mode",  # parquet appends or overwrites
    ),
    ({"streams_config": "{not json"}, "streams_config"),
    ({"frequency": "every now and then"}, "frequency"),
    ({"frequency": "61 * * * *"}, "frequency"),
    ({"name": ""}, "name"),
    ({"unexpected": 1}, "unexpected"),
]


def test_create_job_refuses_bad_input_naming_the_field(alice, project, job, source_bucket):
    for change, field in BAD_INPUT:
        body = {
            **job_body(source_bucket, name="bad"),
            "source": {"name": "exports"},
            "destination": {"name": "lake"},
        }
        body.update(change)
        _error(alice.call("POST", _jobs(project), json=body), 400, field)
    names = [j["name"] for j in alice.call("GET", _jobs(project)).json()["data"]]
    assert names == ["orders-sync"]  # nothing was written


def test_duplicate_job_name_is_a_conflict(alice, project, job, source_bucket):
    body = job_body(source_bucket, name="ORDERS-SYNC")
    _error(alice.call("POST", _jobs(project), json=body), 409, "name")


FREQUENCIES = [
    ("manual", "manual"),
    ("*/15 * * * *", "cron(*/15 * * * ? *)"),
    ("0 6 * * 1-5", "cron(0 6 ? * 2-6 *)"),
    ("30-minutes", "rate(30 minutes)"),
    ("1-hours", "rate(1 hour)"),
    ("2-days", "rate(2 days)"),
    ("1-weeks", "rate(7 days)"),
    ("3-months", "cron(0 0 1 1/3 ? *)"),
    ("rate(5 minutes)", "rate(5 minutes)"),
    ("cron(0 12 * * ? *)", "cron(0 12 * * ? *)"),
]


def test_frequency_forms_are_normalized(alice, project, job):
    for frequency, expression in FREQUENCIES:
        r = alice.call(
            "PUT", f"{_jobs(project)}/{job['id']}", json={"frequency": frequency, "activate": False}
        )
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert (data["frequency"], data["schedule_expression"]) == (frequency, expression)


def test_list_filters_and_pages(alice, project, job, source_bucket):
    other = job_body(source_bucket, name="to-other-lake")
    other["destination"] = {"name": "lake-2", "type": "parquet", "config": {"path": "tables/two"}}
    second = alice.call("POST", _jobs(project), json=other).json()["data"]
    everything = alice.call("GET", _jobs(project)).json()
    assert {j["id"] for j in everything["data"]} == {job["id"], second["id"]}
    assert everything["next_cursor"] is None
    by_dest = alice.call("GET", _jobs(project), params={"dest_id": second["destination"]["id"]}).json()[
        "data"
    ]
    assert [j["id"] for j in by_dest] == [second["id"]]
    by_source = alice.call("GET", _jobs(project), params={"source_id": job["source"]["id"]}).json()["data"]
    assert len(by_source) == 2
    assert alice.call("GET", _jobs(project), params={"source_id": "nothing"}).json()["data"] == []
    first_page = alice.call("GET", _jobs(project), params={"limit": 1}).json()
    assert len(first_page["data"]) == 1 and first_page["next_cursor"]
    rest = alice.call("GET", _jobs(project), params={"limit": 1, "cursor": first_page["next_cursor"]}).json()
    assert {first_page["data"][0]["id"], rest["data"][0]["id"]} == {job["id"], second["id"]}
    _error(alice.call("GET", _jobs(project), params={"cursor": "garbage!"}), 400, "cursor")
    _error(alice.call("GET", _jobs(project), params={"limit": 0}), 400, "limit")


def test_update_job(alice, project, job, source_bucket):
    url = f"{_jobs(project)}/{job['id']}"
    r = alice.call(
        "PUT",
        url,
        json={
            "name": "orders-hourly",
            "streams_config": {"streams": [{"stream_name": "customers", "cursor_field": "updated_at"}]},
        },
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["name"] == "orders-hourly" and data["updated_by"] == alice.username
    assert data["streams_config"]["streams"][0]["cursor_field"] == "updated_at"
    # The old name is free again, the new one taken.
    assert alice.call("POST", _jobs(project), json=job_body(source_bucket)).status_code == 201
    _error(alice.call("PUT", url, json={"name": "orders-sync"}), 409, "name")
    _error(alice.call("PUT", url, json={}), 400, "body")
    _error(
        alice.call("PUT", url, json={"source": {"name": "exports", "version": "v2"}}), 400, "source.version"
    )
    # A new destination by name is created and the job moves to it.
    moved = alice.call(
        "PUT", url, json={"destination": {"name": "lake-b", "type": "parquet", "config": {"path": "b"}}}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["data"]["destination"]["name"] == "lake-b"
    old = job["destination"]["id"]
    assert (
        alice.call("DELETE", f"/api/v1/project/{project}/destinations/{old}").status_code == 409
    )  # still used
    assert alice.call("GET", f"{_jobs(project)}/nothing-here").status_code == 404


def test_delete_job_frees_name_and_connectors(alice, project, job, source_bucket):
    url = f"{_jobs(project)}/{job['id']}"
    sid = job["source"]["id"]
    _error(alice.call("DELETE", f"/api/v1/project/{project}/sources/{sid}"), 409)
    r = alice.call("DELETE", url)
    assert r.status_code == 200 and r.json()["message"] == "job deleted"
    assert alice.call("GET", url).status_code == 404
    assert alice.call("DELETE", url).status_code == 404
    assert alice.call("GET", _jobs(project)).json()["data"] == []
    # The name can be used again; the connectors are free once no job uses them.
    again = alice.call("POST", _jobs(project), json=job_body(source_bucket)).json()["data"]
    alice.call("DELETE", f"{_jobs(project)}/{again['id']}")
    assert alice.call("DELETE", f"/api/v1/project/{project}/sources/{sid}").status_code == 200


def test_delete_of_a_running_job_is_a_conflict(alice, project, job, local_cloud):
    dynamodb = boto3.client("dynamodb", endpoint_url=local_cloud.aws_endpoint, region_name="us-east-1")
    table = os.environ["JOBS_TABLE"]  # the local cloud exports its environment
    key = {"pk": {"S": f"PROJECT#{project}"}, "sk": {"S": f"JOB#{job['id']}"}}
    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET current_run_id = :r",
        ExpressionAttributeValues={":r": {"S": "isj-test"}},
    )
    body = _error(alice.call("DELETE", f"{_jobs(project)}/{job['id']}"), 409)
    assert "cancel" in body["message"]
    dynamodb.update_item(TableName=table, Key=key, UpdateExpression="REMOVE current_run_id")
    assert alice.call("DELETE", f"{_jobs(project)}/{job['id']}").status_code == 200


def test_activate_and_deactivate(alice, project, job):
    url = f"{_jobs(project)}/{job['id']}/activate"
    r = alice.call("POST", url, json={"activate": False})
    assert r.status_code == 200 and r.json()["data"]["activate"] is False
    assert r.json()["message"] == "job deactivated"
    r = alice.call("POST", url)  # no body: activate
    assert r.status_code == 200 and r.json()["data"]["activate"] is True
    _error(alice.call("POST", url, json={"activate": "maybe"}), 400, "activate")


def test_strangers_and_viewers(alice, bob, project, job, source_bucket):
    base = _jobs(project)
    url = f"{base}/{job['id']}"
    calls = [
        ("GET", base, None),
        ("POST", base, job_body(source_bucket, name="x")),
        ("GET", url, None),
        ("PUT", url, {"name": "y"}),
        ("DELETE", url, None),
        ("POST", f"{url}/activate", {"activate": False}),
        ("POST", f"{url}/sync", None),
        ("POST", f"{url}/cancel", None),
        ("GET", f"{url}/tasks", None),
        ("GET", f"{url}/task/isj-x/logs", None),
    ]
    for method, path, body in calls:
        assert bob.call(method, path, json=body).status_code == 404, (method, path)
    # A job id of another project is not found from one's own project.
    bob_project = bob.new_project()
    assert bob.call("GET", f"{_jobs(bob_project)}/{job['id']}").status_code == 404
    # A viewer reads but does not change.
    r = alice.call(
        "POST", f"/api/v1/project/{project}/members", json={"username": bob.username, "role": "viewer"}
    )
    assert r.status_code == 201, r.text
    assert bob.call("GET", url).status_code == 200
    for method, path, body in calls[1:2] + calls[3:8]:
        assert bob.call(method, path, json=body).status_code == 403, (method, path)
    # No credential at all.
    assert requests.get(alice.base + url, timeout=30).status_code == 401


def test_a_stale_update_is_a_conflict(alice, project, job, monkeypatch):
    """Two writers read the same job; the second one to write gets a 409 (optimistic locking)."""
    from functions.core.auth import Caller
    from functions.core.errors import Conflict
    from functions.core.models import JobUpdate
    from functions.core.repositories.jobs import JobRecord, job_key
    from functions.core.services import jobs as svc

    stale = JobRecord.get(*job_key(project, job["id"]), consistent_read=True)
    assert (
        alice.call("PUT", f"{_jobs(project)}/{job['id']}", json={"name": "first-writer"}).status_code == 200
    )
    monkeypatch.setattr(svc, "live_job", lambda *_: stale)
    caller = Caller(kind="user", username=alice.username, via="bearer")
    try:
        svc.update_job(caller, project, job["id"], JobUpdate(frequency="2-hours"))
    except Conflict as exc:
        assert "changed by someone else" in exc.message
    else:
        raise AssertionError("a stale update was accepted")
    monkeypatch.undo()
    got = alice.call("GET", f"{_jobs(project)}/{job['id']}").json()["data"]
    assert got["name"] == "first-writer" and got["frequency"] == "manual"
