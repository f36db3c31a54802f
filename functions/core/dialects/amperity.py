"""The ingest-job dialect (Amperity): a run of a job, or an upload sync (`sync-<id>`), as an ingest job:
its id, workflow_id and per-table counts with each table's first files. Answers are raw objects; errors
are {"message"} (functions/core/dialects)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..auth import Caller, Role, require_role
from ..constants import INGEST_FILES_PER_TABLE, MAX_PAGE_BYTES
from ..errors import Forbidden, Invalid, NotFound
from ..services import runs as runs_svc
from . import json_size

API_VERSIONS = ("2024-04-01",)
SYNC_STATES = {"Syncing": "running", "Failed": "failed", "Finished": "succeeded"}
COUNTS = ("read", "inserted", "updated", "deleted", "rejected", "errors")


def check_request(version: str | None, tenant: str | None) -> str:
    """The tenant (project id) of a request that names a supported api-version; a 400 otherwise."""
    if not version:
        raise Invalid(
            "api-version is required (header api-version or query api_version)", field="api-version"
        )
    if version not in API_VERSIONS:
        supported = ", ".join(API_VERSIONS)
        raise Invalid(f"Unsupported api-version '{version}'; supported: {supported}", field="api-version")
    if not tenant:
        raise Invalid("amperity-tenant is required", field="amperity-tenant")
    return tenant


def _file(f: dict[str, Any]) -> dict[str, Any]:
    return {
        "file_id": f.get("file_id") or "",
        "name": f.get("name"),
        "read": f["read"],
        "errors": f["errors"],
    }


def fit_files(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tables with as many of their listed files as keep the answer under MAX_PAGE_BYTES (every
    table keeps its counts and file_count; a table's files are cut from the end)."""
    used = json_size([{**t, "files": []} for t in tables])
    out = []
    for t in tables:
        kept = []
        for f in t["files"]:
            used += json_size(f) + 1
            if used > MAX_PAGE_BYTES:
                break
            kept.append(f)
        out.append({**t, "files": kept})
    return out


def ingest_job(caller: Caller, tenant: str, run_id: str) -> dict[str, Any]:
    """A run in the ingest-job shape: id, workflow_id and per-table counts with their first files."""
    try:
        require_role(caller, tenant, Role.viewer)
    except NotFound:
        raise Forbidden("Not authorized for this tenant") from None
    if run_id.startswith("sync-"):
        return _upload_sync(tenant, run_id)
    run = runs_svc.get_run(tenant, run_id)
    job_id = run.get("job_id") or ""
    tables = [_run_table(tenant, run, index, t, job_id) for index, t in enumerate(run.get("tables") or [])]
    return {"id": run["id"], "workflow_id": run.get("workflow_id") or job_id, "tables": fit_files(tables)}


def _run_table(
    tenant: str, run: dict[str, Any], index: int, t: dict[str, Any], job_id: str
) -> dict[str, Any]:
    """One table of a run as an ingest job's table, with its first files."""
    name = t.get("table_name") or ""
    files = runs_svc.first_files(tenant, run["id"], index, INGEST_FILES_PER_TABLE)
    return {
        "table_name": name,
        "feed_id": t.get("feed_id") or f"{job_id}:{name}",
        "job_id": run["id"],
        "state": t.get("state") or run.get("state") or "",
        **{k: int(t.get(k) or 0) for k in COUNTS},
        "started_at": t.get("started_at"),
        "ended_at": t.get("ended_at"),
        "files": [_file(f) for f in files],
        "file_count": int(t.get("file_count") or 0),
    }


def _iso_ms(ms: Any) -> str | None:
    """Epoch milliseconds as ISO 8601 UTC; None for 0 (not yet)."""
    if not ms:
        return None
    return (
        datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _upload_sync(project_id: str, ingest_id: str) -> dict[str, Any]:
    """An upload sync (`sync-<id>`) as an ingest job: one table (the sync's lake path) and its files. The
    upload-syncs service is imported here, not at the top: the jobs function's cold start loads the jobs
    family's models only (tests/unit/core/test_cold_imports.py)."""
    from ..services import upload_syncs as syncs_svc

    found = syncs_svc.ingest_job_records(project_id, ingest_id)
    if found is None:
        raise NotFound()
    session, files = found
    table = {
        "table_name": session.table_identifier or session.path,
        "feed_id": f"{ingest_id}:{session.path}",
        "job_id": ingest_id,
        "state": SYNC_STATES.get(session.sync_status, session.sync_status.lower()),
        "read": int(session.read or 0),
        "inserted": int(session.inserted or 0),
        "updated": 0,
        "deleted": 0,
        "rejected": int(session.rejected or 0),
        "errors": int(session.errors or 0),
        "started_at": _iso_ms(session.start_time),
        "ended_at": _iso_ms(session.finished_time or session.end_time),
        "files": [
            {
                "file_id": f.object_key,
                "name": f.file_name,
                "read": int(f.read or 0),
                "errors": int(f.errors or 0),
            }
            for f in files
        ],
        "file_count": int(session.total_files or 0),
    }
    return {"id": ingest_id, "workflow_id": ingest_id, "tables": fit_files([table])}
