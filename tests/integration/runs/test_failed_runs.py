"""A failed run never changes a table (issue 18): a file that vanished after the plan, a corrupt file
and a file S3 refuses (archived) each fail the run, and every table's snapshot stays as it was, in
overwrite, upsert and append modes; the next clean run loads what the failed one did not."""

from __future__ import annotations

import pytest

from functions.core.services import runs
from tests.integration.files import csv_bytes
from tests.integration.runs.conftest import COLUMNS, stream, wait_run

MODES = {  # stream -> its stream config: one table per write mode
    "ow": stream("ow", dest="overwrite", columns=COLUMNS),
    "up": stream("up", dest="upsert", pk=["id"], columns=COLUMNS),
    "ap": stream("ap", sync_mode="incremental", dest="append", columns=COLUMNS),
}


def rows(first: int, n: int = 3) -> bytes:
    return csv_bytes([{"id": i, "name": f"n{i}", "amount": i / 2} for i in range(first, first + n)])


@pytest.fixture
def quick_retries(monkeypatch):
    """Vanished files are read again 3 times, 0.1 s apart at first (the default waits 1 s, 2 s, 4 s)."""
    from functions.core.settings import get_settings

    monkeypatch.setenv("VANISHED_FILE_WAIT_SECONDS", "0.1")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _snapshots(job) -> dict[str, tuple[int, list]]:
    return {s: (job.table(s).current_snapshot().snapshot_id, job.rows(s)) for s in MODES}


def _run(job) -> dict:
    started = runs.start_run(job.project_id, job.job_id, trigger="manual", started_by="ada")
    return wait_run(job, started["id"], timeout=60)


def _failed_and_unchanged(job, before: dict, *, fault: str) -> dict:
    run = _run(job)
    assert run["state"] == "failed", run
    assert "Nothing was committed" in run["error"] and fault in run["error"], run["error"]
    assert run["stats"]["inserted"] == 0 and run["stats"]["updated"] == 0
    assert _snapshots(job) == before, f"{fault}: a failed run changed a table"
    return run


def test_a_failed_run_leaves_every_table_unchanged_in_every_mode(make_job, monkeypatch, quick_retries):
    from functions.workflow import plan

    job = make_job(list(MODES.values()), {f"{s}/a.csv": rows(1) for s in MODES})
    assert _run(job)["state"] == "succeeded"
    before = _snapshots(job)

    # 1. vanished: each stream's new file is deleted right after the plan and never comes back
    for s in MODES:
        job.put(f"{s}/b.csv", rows(10))
    real_plan = plan.plan

    def plan_then_delete(event):
        out = real_plan(event)
        for s in MODES:
            job.s3.delete_object(Bucket=job.bucket, Key=f"{job.prefix}{s}/b.csv")
        return out

    monkeypatch.setattr(plan, "plan", plan_then_delete)
    vanished = _failed_and_unchanged(job, before, fault="file not found")
    assert "still gone after 4 reads" in vanished["error"]
    monkeypatch.setattr(plan, "plan", real_plan)

    # 2. corrupt: a file that is no CSV at all, in each stream
    for s in MODES:
        job.put(f"{s}/c.csv", b"\x1f\x8b\x08\x00 not really gzip")
    _failed_and_unchanged(job, before, fault="c.csv")

    # 3. unreadable: S3 refuses to serve an archived object
    for s in MODES:
        job.s3.delete_object(Bucket=job.bucket, Key=f"{job.prefix}{s}/c.csv")
        job.s3.put_object(
            Bucket=job.bucket, Key=f"{job.prefix}{s}/d.csv", Body=rows(20), StorageClass="GLACIER"
        )
    _failed_and_unchanged(job, before, fault="InvalidObjectState")

    # The failed runs advanced no incremental state: once the archived files are gone, the next run
    # appends the file the failed runs could not commit (e.csv), exactly once.
    for s in MODES:
        job.s3.delete_object(Bucket=job.bucket, Key=f"{job.prefix}{s}/d.csv")
        job.put(f"{s}/e.csv", rows(30))
    clean = _run(job)
    assert clean["state"] == "succeeded", clean
    for s in MODES:
        assert [r["id"] for r in job.rows(s)] == [1, 2, 3, 30, 31, 32], s


def test_a_commit_that_timed_out_after_it_landed_is_retried_and_counts_once(make_job, monkeypatch):
    """Lambda stops a function at its timeout (Sandbox.Timedout). Here the first Commit lands the
    table's commit and dies before it records it or saves the job's state: the state machine runs
    Commit again, which finds its token in the table, commits nothing twice and saves the state. The
    run succeeds with its counts once, and the next run reads nothing again (nothing is appended twice)."""
    from functions.workflow import commit

    job = make_job([MODES["ap"]], {"ap/a.csv": rows(1)})
    landed = commit._commit
    timed_out = type("Sandbox.Timedout", (Exception,), {})  # the errorType Lambda reports
    calls = []

    def dies_after_landing(*args, **kwargs):
        record = landed(*args, **kwargs)
        calls.append(record)
        if len(calls) == 1:
            raise timed_out("Task timed out after 900.00 seconds")
        return record

    monkeypatch.setattr(commit, "_commit", dies_after_landing)
    run = _run(job)
    assert run["state"] == "succeeded", run
    assert [c.recovered for c in calls] == [False, True]  # the retry found the landed commit
    assert (run["stats"]["read"], run["stats"]["inserted"]) == (3, 3)
    assert len(job.rows("ap")) == 3
    again = _run(job)
    assert again["state"] == "succeeded" and again["stats"]["read"] == 0
    assert len(job.rows("ap")) == 3
