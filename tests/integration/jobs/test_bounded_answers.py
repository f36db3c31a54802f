"""Every answer about a run is bounded whatever the run's size: a run over 6,000 files (keys of ~900
characters, as deep Hive-partitioned exports have) answers its task list, its ingest job and each page of
its files far below Lambda's 6 MiB response limit, and paging through its files (also when pages end
early at the byte budget) gives every file exactly once.

The run is written as the workflow ends one (RunRecord, then runs.finish_run with its tables and files):
6,000 real files would take minutes; every request goes over HTTP. Cost: about 25 s (writing the
6,000 file items and moto's queries over them).
"""

from __future__ import annotations

import secrets

import pytest

from infra.local.gateway import LAMBDA_PAYLOAD_BYTES

TABLES = {"orders": 4000, "customers": 1500, "events": 500}
LIMIT = LAMBDA_PAYLOAD_BYTES


def _key(table: str, n: int) -> str:
    deep = "/".join(f"part_{k}=value-{k:03d}-{'p' * 40}" for k in range(16))
    return f"exports/{table}/{deep}/file-{n:05d}.csv"


def _tables() -> list[dict]:
    out = []
    for table, count in TABLES.items():
        files = [
            {
                "file_id": secrets.token_hex(8),
                "name": _key(table, n),
                "read": 10,
                "inserted": 9,
                "rejected": 1,
                "errors": 0,
                "bytes": 1000,
                "error": None,
            }
            for n in range(count)
        ]
        totals = {k: sum(f[k] for f in files) for k in ("read", "inserted", "rejected", "errors", "bytes")}
        out.append(
            {
                "table_name": table,
                "stream": table,
                "state": "succeeded",
                **totals,
                "updated": 0,
                "duration_ms": 5,
                "started_at": "2024-06-01T04:02:54.433Z",
                "ended_at": "2024-06-01T04:05:54.433Z",
                "files": files,
            }
        )
    return out


@pytest.fixture(scope="module")
def big_run(shared_project: str, shared_job: dict) -> dict:
    from functions.core.repositories.base import now_iso
    from functions.core.repositories.runs import RunRecord, job_runs_key, run_key
    from functions.core.services import runs

    project, job_id = shared_project, shared_job["id"]
    run_id = runs.new_run_id()
    ts = now_iso()
    RunRecord(
        *run_key(project, run_id),
        gsi1pk=job_runs_key(project, job_id),
        gsi1sk=f"{ts}#{run_id}",
        run_id=run_id,
        project_id=project,
        job_id=job_id,
        job_name=shared_job["name"],
        state="running",
        created_at=ts,
        start_time=ts,
    ).save()
    tables = _tables()
    assert runs.finish_run(project, job_id, run_id, "succeeded", stats={"read": 60_000}, tables=tables)
    return {"id": run_id, "tables": tables}


def _get(user, path: str, **params):
    r = user.call("GET", path, params=params)
    assert r.status_code == 200, r.text[:500]
    assert len(r.content) < LIMIT
    return r.json()


def test_task_lists_carry_table_summaries(owner, shared_project, shared_job, big_run):
    base = f"/api/v1/project/{shared_project}/jobs/{shared_job['id']}"
    for limit in (1, 50, 100):
        page = _get(owner, f"{base}/tasks", limit=limit)
        [task] = [t for t in page["data"] if t["id"] == big_run["id"]]
        assert {t["table_name"]: t["file_count"] for t in task["tables"]} == TABLES
        assert all("files" not in t for t in task["tables"])
    assert _get(owner, base)["data"]["id"] == shared_job["id"]


def test_the_ingest_job_lists_each_tables_first_files(owner, shared_project, big_run):
    headers = {"amperity-tenant": shared_project, "api-version": "2024-04-01"}
    r = owner.call("GET", f"/api/ingest/jobs/{big_run['id']}", headers=headers)
    assert r.status_code == 200 and len(r.content) < LIMIT, r.text[:300]
    tables = r.json()["tables"]
    assert {t["table_name"]: t["file_count"] for t in tables} == TABLES
    for table, stored in zip(tables, big_run["tables"], strict=True):
        assert [f["name"] for f in table["files"]] == [f["name"] for f in stored["files"][:100]]


def _walk(user, path: str, **params) -> list[dict]:
    files, cursor = [], None
    while True:
        page = _get(user, path, **params, **({"cursor": cursor} if cursor else {}))
        files += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return files


def test_the_files_of_a_run_page_through_every_file_once(owner, shared_project, shared_job, big_run):
    path = f"/api/v1/project/{shared_project}/jobs/{shared_job['id']}/task/{big_run['id']}/files"
    first = _get(owner, path, limit=100)
    assert [f["name"] for f in first["data"]] == [f["name"] for f in big_run["tables"][0]["files"][:100]]
    assert first["next_cursor"] and first["data"][0]["table_name"] == "orders"
    assert set(first["data"][0]) >= {
        "file_id",
        "name",
        "table_name",
        "read",
        "inserted",
        "updated",
        "rejected",
    }
    events = _get(owner, path, table="events", limit=100)["data"]
    assert [f["name"] for f in events] == [f["name"] for f in big_run["tables"][2]["files"][:100]]
    r = owner.call("GET", path, params={"table": "no-such-table"})
    assert r.status_code == 400 and "events" in r.json()["message"]


def test_pages_end_early_at_the_byte_budget_and_lose_nothing(
    owner, shared_project, shared_job, big_run, monkeypatch
):
    from functions.core.repositories import pages

    monkeypatch.setattr(pages, "MAX_PAGE_BYTES", 60_000)  # about 50 of these files
    path = f"/api/v1/project/{shared_project}/jobs/{shared_job['id']}/task/{big_run['id']}/files"
    first = _get(owner, path, table="events", limit=100)
    assert 10 < len(first["data"]) < 100 and first["next_cursor"]
    files = _walk(owner, path, table="events", limit=100)
    assert [f["name"] for f in files] == [f["name"] for f in big_run["tables"][2]["files"]]
