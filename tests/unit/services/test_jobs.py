"""The jobs service's rules against in-memory repositories: names, quotas, frequencies, streams, schedules,
optimistic locking, deletes and project stops, and finding a job by name among the caller's projects."""

from __future__ import annotations

import json

import pytest

from functions.core.auth import Caller, Role
from functions.core.errors import Conflict, Forbidden, Invalid, NameTaken, NotFound, TooManyRequests
from functions.core.models import JobCreate, JobUpdate
from functions.core.repositories.connectors import ConnectorRecord, connector_key
from functions.core.repositories.jobs import JobRecord, job_key
from functions.core.services import connectors as connector_svc
from functions.core.services import jobs as svc
from functions.core.services import runs as runs_svc

from .memory_jobs import (
    MemoryExecutions,
    MemoryJobs,
    MemoryLogs,
    MemoryRuns,
    MemorySchedules,
    Store,
    settings,
)

PROJECT = "p1"
ADA = Caller(kind="user", username="ada", via="bearer")
DISCOVERED = {
    "streams": [
        {"stream_name": "orders", "namespace": "shop", "columns": [{"name": "id", "type": "int64"}]},
        {"stream_name": "customers", "namespace": "shop", "columns": [{"name": "id", "type": "int64"}]},
    ]
}


@pytest.fixture
def schedules() -> MemorySchedules:
    return MemorySchedules()


@pytest.fixture
def store(monkeypatch, schedules) -> Store:
    """Jobs and runs in memory; ada is an editor of PROJECT, whose connectors are `in` (s3) and `lake`."""
    store = Store(projects={PROJECT: "Sales"}, members={"ada": [PROJECT]})
    for kind, cid, ctype in (("source", "src1", "s3"), ("destination", "dst1", "iceberg"),
                             ("destination", "dst2", "parquet")):  # fmt: skip
        store.connectors[(PROJECT, kind, cid)] = ConnectorRecord(
            *connector_key(PROJECT, kind, cid), connector_id=cid, project_id=PROJECT, kind=kind,
            name={"src1": "in", "dst1": "lake", "dst2": "files"}[cid], type=ctype, type_version="v1",
            config=json.dumps({}),
        )  # fmt: skip
    unit = settings(STATE_MACHINE_ARN="arn:aws:states:us-east-1:123456789012:stateMachine:sync")
    monkeypatch.setattr(svc, "get_settings", lambda: unit)
    monkeypatch.setattr(runs_svc, "get_settings", lambda: unit)
    monkeypatch.setattr(svc, "repo", MemoryJobs(store))
    monkeypatch.setattr(svc, "schedules", schedules)
    monkeypatch.setattr(runs_svc, "repo", MemoryRuns(store))
    monkeypatch.setattr(runs_svc, "executions", MemoryExecutions())
    monkeypatch.setattr(runs_svc, "logs", MemoryLogs())
    roles = {("ada", PROJECT): Role.editor, ("vic", PROJECT): Role.viewer}

    def require_role(caller: Caller, project_id: str, minimum: Role) -> Role:
        role = roles.get((caller.username, project_id))
        if role is None:
            raise NotFound()
        if role.rank < minimum.rank:
            raise Forbidden()
        return role

    def find_by_name(project_id: str, kind: str, name: str):
        found = [
            c for (pid, k, _), c in store.connectors.items() if (pid, k, c.name) == (project_id, kind, name)
        ]
        return found[0] if found else None

    monkeypatch.setattr(svc, "require_role", require_role)
    monkeypatch.setattr(connector_svc, "find_by_name", find_by_name)
    monkeypatch.setattr(connector_svc, "discover_streams", lambda caller, project_id, req: DISCOVERED)
    monkeypatch.setattr(connector_svc, "parsed_config", lambda project_id, kind, cid: (None, None, None))
    return store


def _create(name: str = "nightly", **fields) -> svc.JobDetails:
    body = {"name": name, "source": {"name": "in"}, "destination": {"name": "lake"}, **fields}
    return svc.create_job(ADA, PROJECT, JobCreate.model_validate(body))


def test_a_new_job_takes_every_discovered_stream_and_its_schedule(store, schedules):
    job = _create(frequency="2-hours")
    record = job.record
    assert [s["stream_name"] for s in record.streams_config["streams"]] == ["orders", "customers"]
    assert (record.frequency, record.schedule_expression) == ("2-hours", "rate(2 hours)")
    assert set(job.connectors) == {("source", "src1"), ("destination", "dst1")}
    expression, payload = schedules.schedules[svc.schedule_name(PROJECT, record.job_id)]
    assert expression == "rate(2 hours)"
    assert payload == {
        "job": {"project_id": PROJECT, "job_id": record.job_id},
        "run": {"trigger": "schedule"},
    }


def test_a_manual_or_inactive_job_has_no_schedule(store, schedules):
    _create("manual")
    _create("off", frequency="1-days", activate=False)
    assert schedules.schedules == {}


def test_job_names_are_unique_per_project_whatever_their_case(store):
    _create("Nightly")
    with pytest.raises(NameTaken) as exc:
        _create("nightly")
    assert exc.value.field == "name" and exc.value.status == 409


def test_a_frequency_below_the_minimum_interval_is_refused(store):
    with pytest.raises(Invalid) as exc:
        _create(frequency="*/1 * * * *")
    assert exc.value.field == "frequency" and "minimum interval is 5 minutes" in exc.value.message


def test_a_project_has_at_most_its_quota_of_jobs(store):
    store.claims.update({(PROJECT, f"job-{n}"): f"j{n}" for n in range(100)})
    with pytest.raises(TooManyRequests):
        _create()


def test_a_destination_that_cannot_upsert_refuses_the_streams(store):
    streams = {
        "streams": [{"stream_name": "orders", "destination_sync_mode": "upsert", "primary_key": ["id"]}]
    }
    with pytest.raises(Invalid) as exc:
        _create(destination={"name": "files"}, streams_config=streams)
    assert exc.value.field == "streams_config.streams.0.destination_sync_mode"


def test_an_update_renames_reschedules_and_rechecks_streams_on_a_new_destination(store, schedules):
    job_id = _create().record.job_id
    updated = svc.update_job(ADA, PROJECT, job_id, JobUpdate(name="hourly", frequency="1-hours"))
    assert (updated.record.name, updated.record.schedule_expression) == ("hourly", "rate(1 hour)")
    assert (
        svc.repo.name_owner(PROJECT, "nightly") is None and svc.repo.name_owner(PROJECT, "HOURLY") == job_id
    )
    assert schedules.schedules[svc.schedule_name(PROJECT, job_id)][0] == "rate(1 hour)"
    moved = svc.update_job(ADA, PROJECT, job_id, JobUpdate.model_validate({"destination": {"name": "files"}}))
    assert moved.record.dest_id == "dst2"
    with pytest.raises(Invalid):
        svc.update_job(ADA, PROJECT, job_id, JobUpdate())


def test_a_source_has_one_cdc_job_its_replication_slot_has_one_reader(store, monkeypatch):
    cdc_discovered = {
        "streams": [
            {**s, "supported_sync_modes": ["full_refresh", "incremental", "cdc"]}
            for s in DISCOVERED["streams"]
        ]
    }
    monkeypatch.setattr(connector_svc, "discover_streams", lambda caller, project_id, req: cdc_discovered)
    cdc = {"streams": [{"stream_name": "orders", "sync_mode": "cdc", "primary_key": ["id"]}]}
    first = _create("changes", streams_config=cdc).record
    with pytest.raises(Conflict) as exc:
        _create("more-changes", streams_config=cdc)
    assert exc.value.field == "streams_config" and "'changes' already reads" in exc.value.message
    # the same source without cdc is fine, and so is the first job updating its own streams
    other = _create("snapshots", streams_config={"streams": [{"stream_name": "customers"}]}).record
    svc.update_job(ADA, PROJECT, first.job_id, JobUpdate.model_validate({"streams_config": cdc}))
    with pytest.raises(Conflict):  # ... but not turning the second job to cdc
        svc.update_job(ADA, PROJECT, other.job_id, JobUpdate.model_validate({"streams_config": cdc}))
    assert svc.live_job(PROJECT, other.job_id).streams_config["streams"][0]["sync_mode"] == "full_refresh"
    svc.delete_job(ADA, PROJECT, first.job_id)  # once the first is gone, the slot is free
    svc.update_job(ADA, PROJECT, other.job_id, JobUpdate.model_validate({"streams_config": cdc}))


def test_an_update_to_a_taken_name_is_refused(store):
    # (A stale read is the repository's condition: tests/integration/jobs/test_jobs_api.py.)
    first, second = _create("a").record, _create("b").record
    with pytest.raises(NameTaken):
        svc.update_job(ADA, PROJECT, second.job_id, JobUpdate(name="A"))
    assert svc.repo.name_owner(PROJECT, "a") == first.job_id


def test_deactivating_removes_the_schedule_and_a_viewer_cannot(store, schedules):
    job_id = _create(frequency="1-days").record.job_id
    assert svc.set_active(ADA, PROJECT, job_id, False).record.activate is False
    assert schedules.schedules == {}
    vic = Caller(kind="user", username="vic", via="bearer")
    with pytest.raises(Forbidden):
        svc.set_active(vic, PROJECT, job_id, True)
    assert svc.get_job(vic, PROJECT, job_id).record.activate is False


def test_a_running_job_cannot_be_deleted_and_a_deleted_one_frees_its_name(store, schedules):
    job_id = _create(frequency="1-days").record.job_id
    svc.sync_now(ADA, PROJECT, job_id)
    with pytest.raises(Conflict, match="cancel it first"):
        svc.delete_job(ADA, PROJECT, job_id)
    svc.cancel(ADA, PROJECT, job_id)
    assert svc.delete_job(ADA, PROJECT, job_id) == "nightly"
    assert schedules.schedules == {}
    with pytest.raises(NotFound):
        svc.get_job(ADA, PROJECT, job_id)
    assert _create().record.job_id != job_id


def test_a_stopped_project_deactivates_its_jobs_and_cancels_their_runs(store, schedules):
    busy = _create("busy", frequency="1-days").record.job_id
    _create("idle", frequency="1-days")
    run = svc.sync_now(ADA, PROJECT, busy)
    svc.stop_project(PROJECT, by="ada")
    assert schedules.schedules == {}
    assert all(not j.activate for j in store.jobs.values())
    assert runs_svc.get_run(PROJECT, run["id"])["state"] == "cancelled"


def test_a_job_by_name_among_the_callers_projects(store):
    _create("shared")
    store.projects["p2"] = "Marketing"
    store.members["ada"].append("p2")
    store.claims[("p2", "shared")] = "j2"
    store.jobs[("p2", "j2")] = JobRecord(
        *job_key("p2", "j2"), project_id="p2", job_id="j2", name="shared", source_id="s", dest_id="d",
        streams_config={"streams": []},
    )  # fmt: skip
    with pytest.raises(Invalid) as exc:
        svc.find_by_name(ADA, "shared", None)
    assert exc.value.field == "projectName"
    assert svc.find_by_name(ADA, "shared", "marketing").job_id == "j2"
    with pytest.raises(NotFound, match="in project 'Nope'"):
        svc.find_by_name(ADA, "shared", "Nope")
    key = Caller(kind="api_key", username="key", via="x-api-key", project_id="p2", role=Role.viewer)
    assert svc.find_by_name(key, "shared", None).job_id == "j2"
