"""One uploaded file too big for one ingest invocation, ingested by the sync state machine.

The ingest worker registers the object as for any file, then starts the state machine (named for the
object, so an event that arrives twice starts it once; ingestion.start_file_execution) with the input
kind "upload":
``{"job": {"kind": "upload", "project_id", "sync_id", "file": <object id>}, "run": {"run_id": <name>}}``.
The same states run as for a job: plan splits the registered version into byte-range work units (the
engine's record-boundary rule, so every record is read once), each unit stages Parquet and writes its
result to S3 once, commit moves the staged files where the sync puts its files and counts the file in
its sync in one conditional write (exactly once, as the ingest worker does), and the last step asks the
sync to finish. A failed, stopped or timed-out execution marks the file Failed (once) and deletes what
it staged; the file's in-flight count keeps its sync open until then.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from functions.core import aws
from functions.core.constants import LAKE_PREFIX, LOGS_PREFIX, REJECTS_PREFIX
from functions.core.lake import lake_dir, staging_dir
from functions.core.models.upload_syncs import SyncStatus, SyncType
from functions.core.repositories.upload_syncs import SyncFileRecord, SyncSessionRecord
from functions.core.services import ingestion
from functions.core.services.upload_syncs import request_finish
from functions.core.settings import get_settings
from functions.workflow.errors import TransientError
from functions.workflow.store import INLINE_MAX_BYTES, get_json, put_json

log = logging.getLogger("ingestplane.workflow.upload")


def is_upload(event: dict[str, Any]) -> bool:
    return isinstance(event.get("job"), dict) and event["job"].get("kind") == ingestion.UPLOAD_KIND


# ---------------------------------------------------------------- where things are


def _refs(event: dict[str, Any]) -> tuple[SyncSessionRecord, SyncFileRecord, str]:
    job = event["job"]
    project_id, sync_id = job["project_id"], int(job["sync_id"])
    session = SyncSessionRecord.get(*SyncSessionRecord.key(project_id, sync_id), consistent_read=True)
    record = SyncFileRecord.get(*SyncFileRecord.key(project_id, sync_id, job["file"]), consistent_read=True)
    return session, record, f"{LOGS_PREFIX}{project_id}/syncs/{sync_id}/{job['file']}/"


def _work(record: SyncFileRecord) -> str:
    return f"{LAKE_PREFIX}{record.project_id}/.work/s{int(record.sync_id)}-h{int(record.history_id)}"


def _source(record: SyncFileRecord) -> Any:
    from functions.engine import ObjectVersion, open_s3_version

    version = ObjectVersion(etag=record.etag, version_id=record.version_id)
    return open_s3_version(
        f"s3://{get_settings().data_bucket}/{record.object_key}", aws.client("s3"), version
    )


# ---------------------------------------------------------------- the steps


def begin(event: dict[str, Any]) -> dict[str, Any]:
    config = dict(event.get("config") or {})
    config["map_concurrency"] = max(1, int(config.get("map_concurrency") or 1))
    return {"job": event["job"], "run": event["run"], "config": config, "skip": False, "status": "running"}


def plan(event: dict[str, Any]) -> dict[str, Any]:
    """The registered version, split into byte-range units (one when it cannot be split)."""
    from functions import engine

    _, record, prefix = _refs(event)
    doc: dict[str, Any] = {"units": 0, "columns": [], "fmt": None, "error": None}
    units: list[dict[str, Any]] = []
    try:
        source = _source(record)
        doc["fmt"] = engine.detect_format(source)
        doc["columns"] = engine.infer_schema(source, fmt=doc["fmt"]).to_list()
        if not doc["columns"]:
            raise engine.UnreadableFileError("no columns found")
        pieces = engine.plan_units(source, get_settings().work_unit_bytes, fmt=doc["fmt"])
        units = [{"index": i, "unit": u.to_dict()} for i, u in enumerate(pieces)]
    except (engine.SourceNotFoundError, engine.SourceUnavailableError) as exc:
        raise TransientError(f"{record.file_name}: {exc}") from exc
    except (engine.EngineError, OSError, ValueError) as exc:
        if engine.is_transient(exc):
            raise TransientError(str(exc)) from exc
        doc["error"] = f"{record.file_name}: {exc}"
    doc["units"] = len(units)
    put_json(prefix + "plan.json", doc)
    put_json(prefix + "units.json", units)
    distributed = (
        len(units) > get_settings().workflow_inline_max_units or len(json.dumps(units)) > INLINE_MAX_BYTES
    )
    return {
        "job": event["job"],
        "run": event["run"],
        "config": event.get("config") or {},
        "plan": {
            "manifest_key": prefix + "units.json",
            "unit_count": len(units),
            "distributed": distributed,
            "units": [] if distributed else units,
        },
    }


def ingest_unit(event: dict[str, Any]) -> dict[str, Any]:
    """One byte range of the file, staged as Parquet; its stats and staged files go to S3 once."""
    from functions import engine

    _, record, prefix = _refs(event)
    index = int(event["unit"]["index"])
    result_key = f"{prefix}units/{index:06d}.json"
    if get_json(result_key) is not None or record.sync_status != SyncStatus.Syncing.value:
        return {"unit": {"index": index}}
    unit = engine.WorkUnit.from_dict(event["unit"]["unit"])
    schema = engine.StreamSchema.from_list((get_json(prefix + "plan.json") or {})["columns"])
    bucket, fs = get_settings().data_bucket, ingestion.s3_filesystem()
    writer = engine.ParquetLakeWriter(f"s3://{bucket}/{_work(record)}/u{index:06d}", schema, filesystem=fs)
    rejects_key = f"{_rejects_dir(record)}u{index:06d}.jsonl"
    rejects = engine.RejectsWriter(f"s3://{bucket}/{rejects_key}", filesystem=fs)
    try:
        stats = engine.ingest_file(_source(record), schema, writer, unit=unit, rejects=rejects)
    except (engine.SourceNotFoundError, OSError) as exc:  # gone for now, or a read that may pass
        writer.abort()
        raise TransientError(f"{record.file_name}: {exc}") from exc
    finally:
        rejects.close()
    if stats.errors:
        writer.abort()
        staged: dict[str, Any] = {"files": []}
    else:
        staged = writer.stage()
    put_json(result_key, {"index": index, "stats": stats.to_dict(), "staged": staged})
    return {"unit": {"index": index}}


def _rejects_dir(record: SyncFileRecord) -> str:
    stem = ingestion.stem(record.file_name)
    return f"{REJECTS_PREFIX}{record.project_id}/s{int(record.sync_id)}/h{int(record.history_id)}-{stem}/"


def commit(event: dict[str, Any]) -> dict[str, Any]:
    """Every unit read: the staged files go where the sync keeps its files and the file is counted in
    its sync, once; any unit that could not read its range fails the whole file (nothing lands)."""
    session, record, prefix = _refs(event)
    base = {"job": event["job"], "run": event["run"], "config": event.get("config") or {}}
    if record.sync_status != SyncStatus.Syncing.value:
        return {**base, "result": {"state": record.sync_status}}  # counted already (a retried step)
    doc = get_json(prefix + "plan.json") or {}
    results = _results(prefix, int(doc.get("units") or 0))
    outcome = _outcome(session, record, doc, results)
    if outcome.status == SyncStatus.Failed:
        _delete_staged(results)
    ingestion.record_outcome(record, outcome)
    return {**base, "result": {"state": outcome.status.value}}


def _results(prefix: str, count: int) -> list[dict[str, Any]]:
    results = [get_json(f"{prefix}units/{i:06d}.json") for i in range(count)]
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        raise TransientError(f"work units {missing[:10]} left no result")
    return [r for r in results if r is not None]


def _outcome(
    session: SyncSessionRecord, record: SyncFileRecord, doc: dict[str, Any], results: list[dict[str, Any]]
) -> ingestion.Outcome:
    """The file's outcome from its units: Finished with its files moved into place, or Failed."""
    from functions.engine import FileStats, TableStats

    if doc.get("error"):
        return ingestion.Outcome(SyncStatus.Failed, doc["error"], doc.get("fmt"), stats={"errors": 1})
    total = TableStats(table=record.file_name)
    for r in results:
        total.add(FileStats.from_dict(r["stats"]))
    counts = {k: int(getattr(total, k)) for k in ("read", "inserted", "rejected", "errors", "duration_ms")}
    counts["bytes"] = int(record.size)
    columns = doc.get("columns") or []
    if total.errors:
        first = next(r["stats"]["error"] for r in results if r["stats"]["errors"])
        counts["errors"] = 1
        return ingestion.Outcome(
            SyncStatus.Failed, f"{record.file_name}: {first}", doc.get("fmt"), columns, counts
        )
    lake_files = _move_into_place(session, record, results)
    rejects = _rejects_dir(record) if total.rejected else None
    message = f"{total.rejected} rows rejected (see {rejects})" if rejects else ""
    return ingestion.Outcome(
        SyncStatus.Finished, message, doc.get("fmt"), columns, counts, lake_files, rejects
    )


def _move_into_place(session: SyncSessionRecord, record: SyncFileRecord, results: list[dict]) -> list[str]:
    """Each unit's Parquet files to the sync's path (a full sync's to its staging until it finishes),
    named as the ingest worker names them; a file moved by an earlier try of this step is skipped."""
    project_id, sync_id = record.project_id, int(record.sync_id)
    full = session.sync_type == SyncType.FullSync.value
    target = staging_dir(project_id, sync_id, session.path) if full else lake_dir(project_id, session.path)
    home = lake_dir(project_id, session.path)
    stem, bucket = ingestion.stem(record.file_name), get_settings().data_bucket
    final = []
    for r in results:
        for i, path in enumerate(r["staged"].get("files", [])):
            name = f"s{sync_id}-h{int(record.history_id)}-{stem}-u{int(r['index']):04d}-{i}.parquet"
            ingestion.move_once(path.removeprefix("s3://").split("/", 1)[1], target + name)
            final.append(f"s3://{bucket}/{home}{name}")
    return final


def _delete_staged(results: list[dict[str, Any]]) -> None:
    s3, bucket = aws.client("s3"), get_settings().data_bucket
    for r in results:
        for path in (r.get("staged") or {}).get("files", []):
            s3.delete_object(Bucket=bucket, Key=path.removeprefix("s3://").split("/", 1)[1])


def finish(event: dict[str, Any]) -> dict[str, Any]:
    """The execution's last step: ask the sync to finish (it does once nothing else is in flight)."""
    session, record, _ = _refs(event)
    request_finish(session)
    return {"job": event["job"], "run": event["run"], "config": event.get("config") or {},
            "status": record.sync_status}  # fmt: skip


def fail(job: dict[str, Any], error: Any) -> None:
    """A failed, stopped or timed-out execution: the file is Failed (once) and what it staged goes."""
    try:
        session, record, prefix = _refs({"job": job})
    except (SyncSessionRecord.DoesNotExist, SyncFileRecord.DoesNotExist, KeyError, TypeError, ValueError):
        return
    if record.sync_status == SyncStatus.Syncing.value:
        doc = get_json(prefix + "plan.json") or {}
        results = [
            r for i in range(int(doc.get("units") or 0)) if (r := get_json(f"{prefix}units/{i:06d}.json"))
        ]
        _delete_staged(results)
        cause = error.get("Cause") or error.get("Error") if isinstance(error, dict) else error
        message = f"{record.file_name}: could not be ingested: {cause}"[:2000]
        ingestion.record_outcome(record, ingestion.Outcome(SyncStatus.Failed, message, stats={"errors": 1}))
    request_finish(session)
