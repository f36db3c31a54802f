"""IngestUnit, one Map item of a job run, for every source type alike: the unit is read with the source's
plugin into the destination's writer and staged; its result goes to ``units/<i>.json`` once (a retry that
finds it does nothing; reading a unit again yields the same rows, so a retried unit never double counts).
Staged files of a unit whose run never commits are orphans, never data (store.cleanup_staged).

A plugin with an ``ingest`` fast path (files) writes straight into the writer and reports each file; any
other's ``read(unit)`` batches are written as they come, rows that do not fit going to the run's rejects.
CDC change rows (``_op``, ``_lsn``) are staged as Parquet under the run's folder; Commit applies them.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from functions.core.services import runs
from functions.workflow import store, targets
from functions.workflow.errors import SyncError, TransientError
from functions.workflow.payloads import (
    FileResult,
    PlanDoc,
    StreamEntry,
    UnitInput,
    UnitItem,
    UnitResult,
    UnitStats,
    read_back,
)
from functions.workflow.store import get_json, put_json


@lru_cache(maxsize=8)
def plan_doc(prefix: str) -> PlanDoc:
    """The run's plan.json, read and checked once per container (every unit of a run reads it)."""
    return read_back(PlanDoc, store.plan_doc(prefix + "plan.json"), "plan.json")


def ingest_unit(event: dict[str, Any]) -> dict[str, Any]:
    """Read one work unit into its writer and stage it; the result goes to S3 once."""
    step = UnitInput.model_validate(event)
    item = step.unit
    project_id, job_id, run_id = step.ids
    prefix = runs.run_prefix(project_id, job_id, run_id)
    result_key = f"{prefix}units/{item.index:06d}.json"
    if get_json(result_key) is not None:
        return {"unit": {"index": item.index}}  # a retried step: already read
    if not runs.is_active(project_id, run_id):
        return {"unit": {"index": item.index, "skipped": True}}  # cancelled: stop early
    entry = plan_doc(prefix).streams[item.stream]
    plugin = targets.source_plugin(project_id, targets.load_job(step.job.model_dump()).source_id)
    reject_uri = f"s3://{store.bucket()}/rejects/{project_id}/{job_id}/{run_id}/{entry.stream_name}/{item.index:06d}.jsonl"
    result = _read_unit(plugin, item, entry, prefix, reject_uri)
    put_json(result_key, result.model_dump(mode="json"))
    runs.log_events(project_id, job_id, run_id, f"unit-{item.index:06d}", _unit_events(entry, result))
    return {"unit": {"index": item.index}}


def _sink(entry: StreamEntry, prefix: str, index: int) -> Any:
    """The writer a unit stages into: the table's, or (change rows) Parquet under the run's folder."""
    import pyarrow as pa

    from functions.engine import IcebergTableWriter, ParquetLakeWriter
    from functions.engine.plugins import LSN_COLUMN, OP_COLUMN

    schema = entry.stream_schema()
    if entry.mode == "changes":
        fields = [f.with_nullable(True) for f in schema.to_arrow()]
        changes = pa.schema([*fields, pa.field(OP_COLUMN, pa.string()), pa.field(LSN_COLUMN, pa.int64())])
        path = f"s3://{store.bucket()}/{prefix}changes/{index:06d}"
        return ParquetLakeWriter(path, changes, filesystem=store.lake_fs())
    dest = entry.destination
    if dest.kind == "iceberg":
        return IcebergTableWriter(
            targets.catalog_at(str(dest.warehouse)), dest.table_id, mode=entry.mode,
            primary_key=entry.primary_key if entry.mode == "upsert" else None,
        )  # fmt: skip
    return ParquetLakeWriter(str(dest.path), schema, filesystem=store.lake_fs())


def _unit_name(item: UnitItem) -> str:
    return f"{item.work.stream} unit {item.work.index + 1}/{item.work.count}"


def _read_unit(plugin: Any, item: UnitItem, entry: StreamEntry, prefix: str, reject_uri: str) -> UnitResult:
    """Stage the unit (nothing when every file of it failed); a failure of the read stages nothing."""
    from functions.engine import RejectsWriter

    started = time.monotonic()
    sink = _sink(entry, prefix, item.index)
    rejects = RejectsWriter(reject_uri, filesystem=store.lake_fs())
    files: list[FileResult] = []
    stats = UnitStats()
    try:
        if hasattr(plugin, "ingest"):  # the plugin's fast path: straight into the writer, per file
            files = [FileResult(**f) for f in plugin.ingest(item.work, entry.stream_schema(), sink, rejects)]
            stats.written = sum(int(f.stats["inserted"]) for f in files)
        else:
            for batch in plugin.read(item.work, _reject_sink(rejects, _unit_name(item))):
                sink.write(batch)
                stats.written += batch.num_rows
    except (SyncError, TransientError):
        sink.abort()
        raise
    except Exception as exc:  # noqa: BLE001 - whatever stopped the read: nothing of this try is kept
        sink.abort()
        raise store.step_error(exc, _unit_name(item)) from exc
    finally:
        rejects.close()
    stats.rejected = rejects.count
    stats.read = sum(int(f.stats["read"]) for f in files) if files else stats.written + stats.rejected
    stats.duration_ms = int((time.monotonic() - started) * 1000)
    return UnitResult(
        index=item.index, stream=item.stream, name=_unit_name(item), stats=stats, staged=_staged(sink, entry, files),
        rejects=reject_uri if stats.rejected else None, files=files,
    )  # fmt: skip


def _staged(sink: Any, entry: StreamEntry, files: list[FileResult]) -> dict[str, Any]:
    """What the unit hands to Commit: the writer's staged files, or nothing when every file of it failed
    (the writer is aborted)."""
    if not files or not all(f.stats["errors"] and not f.stats["inserted"] for f in files):
        return dict(sink.stage())
    sink.abort()
    dest = entry.destination
    if dest.kind == "iceberg":
        return {"table": ".".join(dest.identifier), "chunks": []}
    return {"path": dest.path, "staging": "", "files": [], "rows": 0}


def _reject_sink(rejects: Any, name: str) -> Any:
    """A plugin's on_reject: each row that did not fit goes to the run's rejects file, with its reason."""
    import pyarrow as pa

    def on_reject(reject: Any) -> None:
        rejects.write(
            pa.table(
                {
                    "file": [name],
                    "byte_offset": pa.array([None], pa.int64()),
                    "row": pa.array([None], pa.int64()),
                    "reason": [f"{reject.position}: {reject.reason}"],
                    "record": [reject.record],
                }
            )  # fmt: skip
        )

    return on_reject


def _unit_events(entry: StreamEntry, result: UnitResult) -> list[dict[str, Any]]:
    """One line per file a files unit read, else one for the unit."""
    if not result.files:
        s = result.stats
        message = f"{result.name}: read {s.read} rows, {s.written} valid, {s.rejected} rejected"
        if s.rejected:
            message += f" (rejects: {result.rejects})"
        return [runs.event("WARNING" if s.rejected else "INFO", message, stream=entry.plan.stream)]
    return [_file_event(f, entry.stream_name, result.rejects) for f in result.files]


def _file_event(f: FileResult, stream_name: str, reject_uri: str | None) -> dict[str, Any]:
    st = f.stats
    if st["errors"]:
        return runs.event("ERROR", f"cannot read the file: {st['error']}", stream=stream_name, file=f.key)
    message = f"read {st['read']} rows, {st['inserted']} valid, {st['rejected']} rejected"
    if st["rejected"]:
        message += f" (rejects: {reject_uri})"
    return runs.event("WARNING" if st["rejected"] else "INFO", message, stream=stream_name, file=f.key)
