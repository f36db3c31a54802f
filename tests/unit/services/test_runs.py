"""The runs service's rules against in-memory repositories: one run per job, the project's quota, state
transitions that happen once, counts kept per table, scheduled starts, and paged logs."""

from __future__ import annotations

import pytest

from functions.core.errors import Conflict, TooManyRequests
from functions.core.repositories.jobs import JobRecord, job_key
from functions.core.services import runs

from .memory_jobs import MemoryExecutions, MemoryLogs, MemoryRuns, Store, settings

PROJECT = "p1"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:sync"


@pytest.fixture
def executions() -> MemoryExecutions:
    return MemoryExecutions()


@pytest.fixture
def store(monkeypatch, executions) -> Store:
    """A live project with jobs j0..j5 (j5 inactive), runs in memory."""
    store = Store(projects={PROJECT: "Sales"})
    for n in range(6):
        store.jobs[(PROJECT, f"j{n}")] = JobRecord(
            *job_key(PROJECT, f"j{n}"), project_id=PROJECT, job_id=f"j{n}", name=f"job {n}", source_id="s",
            dest_id="d", streams_config={"streams": []}, activate=n < 5,
        )  # fmt: skip
    unit = settings(STATE_MACHINE_ARN=MACHINE)
    monkeypatch.setattr(runs, "get_settings", lambda: unit)
    monkeypatch.setattr(runs, "repo", MemoryRuns(store))
    monkeypatch.setattr(runs, "executions", executions)
    monkeypatch.setattr(runs, "logs", MemoryLogs())
    return store


def test_a_job_runs_once_at_a_time_and_its_execution_is_named_by_the_run(store, executions):
    run = runs.start_run(PROJECT, "j0", trigger="manual", started_by="ada")
    assert (run["state"], run["job_name"], run["stats"]["read"]) == ("queued", "job 0", 0)
    assert store.jobs[(PROJECT, "j0")].current_run_id == run["id"]
    assert executions.started[run["id"]] == {
        "job": {"project_id": PROJECT, "job_id": "j0"},
        "run": {"run_id": run["id"], "trigger": "manual", "started_by": "ada"},
    }
    with pytest.raises(Conflict, match="already running"):
        runs.start_run(PROJECT, "j0", trigger="manual", started_by="ada")


def test_a_project_runs_at_most_its_quota_of_jobs(store):
    for n in range(5):
        runs.start_run(PROJECT, f"j{n}", trigger="manual", started_by="ada")
    store.jobs[(PROJECT, "j5")].activate = True
    with pytest.raises(TooManyRequests):
        runs.start_run(PROJECT, "j5", trigger="manual", started_by="ada")


def test_a_run_whose_execution_cannot_start_fails_and_frees_the_job(store, executions):
    executions.fail = RuntimeError("no capacity")
    run = runs.start_run(PROJECT, "j0", trigger="manual", started_by="ada")
    assert run["state"] == "failed" and "could not start: no capacity" in run["error"]
    job = store.jobs[(PROJECT, "j0")]
    assert (job.current_run_id, job.last_run_state, job.last_run_id) == (None, "failed", run["id"])


def test_a_run_ends_once_with_its_counts_per_table(store):
    run_id = runs.start_run(PROJECT, "j0", trigger="manual", started_by="ada")["id"]
    files = [
        {"file_id": "a.csv", "read": 3, "errors": 1, "error": "bad row"},
        {"file_id": "b.csv", "read": 2},
    ]
    tables = [{"table_name": "orders", "read": 5, "errors": 1, "files": files}]
    assert runs.finish_run(PROJECT, "j0", run_id, "succeeded", stats={"read": 5}, tables=tables)
    assert not runs.finish_run(PROJECT, "j0", run_id, "failed", error="late")
    run = runs.get_run(PROJECT, run_id)
    assert (run["state"], run["error"], run["stats"]["read"], run["stats"]["inserted"]) == (
        "succeeded",
        None,
        5,
        0,
    )
    assert run["tables"] == [{"table_name": "orders", "read": 5, "errors": 1, "file_count": 2}]
    first = runs.first_files(PROJECT, run_id, 0, 1)
    assert [(f["file_id"], f["read"], f["errors"], f["message"]) for f in first] == [
        ("a.csv", 3, 1, "bad row")
    ]
    assert store.jobs[(PROJECT, "j0")].last_run_state == "succeeded"
    with pytest.raises(ValueError):
        runs.finish_run(PROJECT, "j0", run_id, "running")


def test_a_cancel_stops_the_execution_unless_the_run_is_committing(store, executions):
    run_id = runs.start_run(PROJECT, "j0", trigger="manual", started_by="ada")["id"]
    cancelled = runs.cancel_run(PROJECT, "j0", by="ada")
    assert (cancelled["state"], cancelled["error"]) == ("cancelled", "cancelled by ada")
    assert executions.stopped == [f"{MACHINE.replace(':stateMachine:', ':execution:')}:{run_id}"]
    with pytest.raises(Conflict, match="not running"):
        runs.cancel_run(PROJECT, "j0", by="ada")
    other = runs.start_run(PROJECT, "j1", trigger="manual", started_by="ada")["id"]
    assert (
        runs.begin_run({"project_id": PROJECT, "job_id": "j1"}, {"run_id": other}, None)["state"] == "running"
    )
    assert runs.mark_committing(PROJECT, other)
    with pytest.raises(Conflict, match="committing"):
        runs.cancel_run(PROJECT, "j1", by="ada")


def test_a_scheduled_start_creates_its_run_once_and_skips_an_inactive_job(store):
    arn = f"{MACHINE.replace(':stateMachine:', ':execution:')}:scheduled-1"
    job = {"project_id": PROJECT, "job_id": "j0"}
    first = runs.begin_run(job, {"trigger": "schedule"}, arn)
    assert first is not None and first["id"] == runs.scheduled_run_id(arn) and first["state"] == "running"
    assert runs.begin_run(job, {"trigger": "schedule"}, arn)["id"] == first["id"]  # a retried step
    assert runs.begin_run({"project_id": PROJECT, "job_id": "j5"}, {}, arn + "-2") is None
    assert runs.begin_run(job, {}, arn + "-3") is None  # j0 is running


def test_a_run_of_a_deleted_project_ends_cancelled_when_it_begins(store):
    run_id = runs.start_run(PROJECT, "j0", trigger="manual", started_by="ada")["id"]
    del store.projects[PROJECT]
    assert runs.begin_run({"project_id": PROJECT, "job_id": "j0"}, {"run_id": run_id}, None) is None
    assert runs.get_run(PROJECT, run_id)["error"] == "the project was deleted"


def test_logs_are_paged_in_order_with_a_cursor(store):
    run_id = runs.start_run(PROJECT, "j0", trigger="manual", started_by="ada")["id"]
    runs.log_events(PROJECT, "j0", run_id, "plan", [runs.event("INFO", f"m{n}") for n in range(3)])
    runs.log_events(PROJECT, "j0", run_id, "unit", [runs.event("SHOUT", "m3")])
    page, cursor = runs.run_logs(PROJECT, "j0", run_id, limit=2, cursor=None)
    assert [e["message"] for e in page] == ["m0", "m1"] and cursor
    rest, end = runs.run_logs(PROJECT, "j0", run_id, limit=2, cursor=cursor)
    assert [(e["message"], e["level"]) for e in rest] == [("m2", "INFO"), ("m3", "INFO")] and end is None
