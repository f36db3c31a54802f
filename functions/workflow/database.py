"""The data-plane steps of a job whose source is a plugin (a database, docs/postgres.md): the same state
machine as file jobs, the same run folder, the same all-or-nothing commit.

- plan: the plugin plans the selected streams from their saved state (functions.engine.plugins.base);
  each stream's table is created or evolved now, so units running in parallel only stage files.
- ingest_unit: ``plugin.read(unit)`` into the destination's writer, staged; its result is written to
  ``units/<i>.json`` once (a retry that finds it does nothing; reading a unit again yields the same rows,
  so a retried unit never double counts).
- commit: one commit per table with a commit token (a retry finds it), the stream's next state saved
  with it, and only after every table and state: ``plugin.acknowledge`` (the CDC slot advance). A crash
  before the advance leaves the slot behind the saved state: the next run reads those changes again and
  the plugin skips them (at or before the saved position), so the replay changes nothing.

A CDC stream's first run loads a snapshot (overwrite); later runs stage change rows (``_op``, ``_lsn``)
as Parquet under the run's folder, and the commit applies them by key (functions.engine.changes).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from functions.core.repositories.base import now_iso
from functions.core.services import runs
from functions.workflow import store, targets
from functions.workflow.errors import SyncError, TransientError
from functions.workflow.payloads import (
    Destination,
    PlanDoc,
    StreamEntry,
    UnitItem,
    UnitResult,
    UnitStats,
    WriteMode,
)
from functions.workflow.store import get_json, put_json

log = logging.getLogger("ingestplane.workflow")
KIND = "database"  # job.kind of an execution whose steps are this module's


def plugin_type(job_ref: dict[str, Any]) -> bool:
    """Whether the job's source is read by a source plugin (its connector type names one)."""
    job = targets.load_job(job_ref)
    connector, _ = targets.live_connector(job_ref["project_id"], "source", job.source_id)
    return connector.plugin is not None


def _plugin(project_id: str, source_id: str) -> Any:
    connector, cfg = targets.live_connector(project_id, "source", source_id)
    if connector.plugin is None:
        raise SyncError(f"source type {connector.type!r} is not read by a plugin")
    return connector.plugin(cfg, targets.project_context(project_id))


def _translated(exc: Exception, what: str) -> Exception:
    """A plugin's or the engine's error as the step's: transient ones are retried by the ASL."""
    from functions.engine import is_transient

    if is_transient(exc):
        return TransientError(f"{what}: {exc}")
    return SyncError(f"{what}: {exc}")


# ---------------------------------------------------------------- plan


def _requests(job: Any) -> list[Any]:
    from functions.engine.plugins import StreamRequest

    out = []
    for s in (job.streams_config or {}).get("streams") or []:
        if not s.get("selected", True):
            continue
        if not s.get("namespace"):
            raise SyncError(
                f"stream {s.get('stream_name')}: no namespace (the schema): update the job's streams"
            )
        out.append(
            StreamRequest(
                namespace=s["namespace"],
                name=s["stream_name"],
                sync_mode=s.get("sync_mode") or "full_refresh",
                cursor_field=s.get("cursor_field"),
                primary_key=list(s.get("primary_key") or []),
            )  # fmt: skip
        )
    if not out:
        raise SyncError("the job selects no stream")
    return out


def _write_mode(stream: dict[str, Any], plan: Any) -> WriteMode:
    if plan.sync_mode == "cdc":
        return "overwrite" if plan.snapshot else "changes"
    return targets.write_mode(stream)  # type: ignore[return-value]


def _entry(project_id: str, job: Any, stream: dict[str, Any], plan: Any) -> StreamEntry:
    from functions.engine import EngineError, IcebergTableWriter, StreamSchema

    mode = _write_mode(stream, plan)
    dest = Destination(**targets.stream_destination(project_id, job, stream))
    if dest.kind == "parquet" and mode in ("upsert", "changes"):
        raise SyncError(
            f"stream {plan.stream}: the parquet destination cannot apply changes by key; use iceberg"
        )
    # the job's key (a view has none of its own), else the table's; cdc applies by the table's
    key = list(plan.primary_key) if mode == "changes" else list(stream.get("primary_key") or plan.primary_key)
    if dest.kind == "iceberg":
        schema = StreamSchema.from_list([{"name": c.name, "type": c.type} for c in plan.columns])
        try:  # create or evolve the table now, so units running in parallel only stage files
            IcebergTableWriter(
                targets.catalog_at(str(dest.warehouse)), dest.table_id,
                mode="upsert" if mode in ("upsert", "changes") else "append", primary_key=key, schema=schema,
            ).abort()  # fmt: skip
        except EngineError as exc:
            raise SyncError(f"stream {plan.stream}: {exc}") from None
    return StreamEntry(
        stream_name=stream["stream_name"], mode=mode, destination=dest, primary_key=key, plan=plan,
        lag_bytes=plan.lag_bytes,
    )  # fmt: skip


def plan(event: dict[str, Any]) -> dict[str, Any]:
    """The plugin's plan of the selected streams from their saved state; plan.json and units.json."""
    job_ref, run = event["job"], event["run"]
    project_id, job_id, run_id = job_ref["project_id"], job_ref["job_id"], run["run_id"]
    prefix = runs.run_prefix(project_id, job_id, run_id)
    job = targets.load_job(job_ref)
    connector, _ = targets.live_connector(project_id, "source", job.source_id)
    requests = _requests(job)
    state = get_json(runs.state_key(project_id, job_id)) or {"streams": {}}
    try:
        plans = _plugin(project_id, job.source_id).plan(requests, state.get("streams") or {})
    except Exception as exc:  # noqa: BLE001 - a plugin's error fails the run, or is retried
        raise _translated(exc, "plan") from exc
    selected = [s for s in job.streams_config["streams"] if s.get("selected", True)]
    entries = [_entry(project_id, job, s, p) for s, p in zip(selected, plans, strict=True)]
    items = [
        UnitItem(index=0, stream=s_index, work=unit)
        for s_index, entry in enumerate(entries)
        for unit in entry.plan.units
    ]
    items = [item.model_copy(update={"index": i}) for i, item in enumerate(items)]
    doc = PlanDoc(source_type=connector.type, streams=entries, units=len(items), started_at=now_iso())
    put_json(prefix + "plan.json", doc.model_dump(mode="json"))
    units = [item.model_dump(mode="json") for item in items]
    put_json(prefix + "units.json", units)
    runs.log_events(project_id, job_id, run_id, "plan", [_plan_event(e) for e in entries])
    return store.plan_answer(event, {**job_ref, "kind": KIND}, prefix + "units.json", units, len(entries))


def _plan_event(entry: StreamEntry) -> dict[str, Any]:
    what = "snapshot" if entry.plan.snapshot else entry.plan.sync_mode.replace("_", " ")
    notes = "; ".join(entry.plan.notes)
    message = f"{len(entry.plan.units)} work units ({what}, {entry.mode})" + (f"; {notes}" if notes else "")
    return runs.event("INFO", message, stream=entry.plan.stream)


# ---------------------------------------------------------------- ingest one unit


def _plan_doc(prefix: str) -> PlanDoc:
    return PlanDoc.model_validate(store.plan_doc(prefix + "plan.json"))


def _sink(entry: StreamEntry, prefix: str, index: int) -> Any:
    """The writer a unit stages into: the table's, or (change rows) Parquet under the run's folder."""
    import pyarrow as pa

    from functions.engine import IcebergTableWriter, ParquetLakeWriter, StreamSchema

    schema = StreamSchema.from_list([{"name": c.name, "type": c.type} for c in entry.plan.columns])
    if entry.mode == "changes":
        fields = [f.with_nullable(True) for f in schema.to_arrow()]
        changes = pa.schema([*fields, pa.field("_op", pa.string()), pa.field("_lsn", pa.int64())])
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


def ingest_unit(event: dict[str, Any]) -> dict[str, Any]:
    """Read one work unit with the plugin into its writer and stage it; the result goes to S3 once."""
    job_ref, run = event["job"], event["run"]
    item = UnitItem.model_validate(event["unit"])
    project_id, job_id, run_id = job_ref["project_id"], job_ref["job_id"], run["run_id"]
    prefix = runs.run_prefix(project_id, job_id, run_id)
    result_key = f"{prefix}units/{item.index:06d}.json"
    if get_json(result_key) is not None:
        return {"unit": {"index": item.index}}  # a retried step: already read
    if not runs.is_active(project_id, run_id):
        return {"unit": {"index": item.index, "skipped": True}}  # cancelled: stop early
    entry = _plan_doc(prefix).streams[item.stream]
    plugin = _plugin(project_id, targets.load_job(job_ref).source_id)
    reject_uri = f"s3://{store.bucket()}/rejects/{project_id}/{job_id}/{run_id}/{entry.stream_name}/{item.index:06d}.jsonl"
    result = _read_unit(plugin, item, entry, prefix, reject_uri)
    put_json(result_key, result.model_dump(mode="json"))
    runs.log_events(project_id, job_id, run_id, f"unit-{item.index:06d}", [_unit_event(entry, result)])
    return {"unit": {"index": item.index}}


def _read_unit(plugin: Any, item: UnitItem, entry: StreamEntry, prefix: str, reject_uri: str) -> UnitResult:
    from functions.engine import RejectsWriter

    started = time.monotonic()
    sink = _sink(entry, prefix, item.index)
    rejects = RejectsWriter(reject_uri, filesystem=store.lake_fs())
    stats = UnitStats()
    name = _unit_name(item)
    try:
        for batch in plugin.read(item.work, _reject_sink(rejects, name)):
            sink.write(batch)
            stats.written += batch.num_rows
    except Exception as exc:  # noqa: BLE001 - whatever stopped the read: nothing of this try is kept
        sink.abort()
        raise _translated(exc, name) from exc
    finally:
        rejects.close()
    stats.rejected = rejects.count
    stats.read = stats.written + stats.rejected
    stats.duration_ms = int((time.monotonic() - started) * 1000)
    return UnitResult(
        index=item.index, stream=item.stream, name=name, stats=stats, staged=sink.stage(),
        rejects=reject_uri if stats.rejected else None,
    )  # fmt: skip


def _reject_sink(rejects: Any, name: str) -> Any:
    """The plugin's on_reject: each row that did not fit goes to the run's rejects file, with its reason."""
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


def _unit_event(entry: StreamEntry, result: UnitResult) -> dict[str, Any]:
    s = result.stats
    message = f"{result.name}: read {s.read} rows, {s.written} valid, {s.rejected} rejected"
    if s.rejected:
        message += f" (rejects: {result.rejects})"
    return runs.event("WARNING" if s.rejected else "INFO", message, stream=entry.plan.stream)


# ---------------------------------------------------------------- commit once per table


def commit(event: dict[str, Any]) -> dict[str, Any]:
    """One commit per table of every unit's staged output, each stream's next state saved with it; then
    the plugin's acknowledge. A run whose units did not all leave a result commits nothing."""
    job_ref, run = event["job"], event["run"]
    project_id, job_id, run_id = job_ref["project_id"], job_ref["job_id"], run["run_id"]
    prefix = runs.run_prefix(project_id, job_id, run_id)
    base = {"job": job_ref, "run": run, "config": event.get("config") or {}}
    if not runs.mark_committing(project_id, run_id):
        return {**base, "result": {"skipped": True}}  # cancelled before the commit: nothing is committed
    doc = _plan_doc(prefix)
    results = [UnitResult.model_validate(r) for r in store.unit_results(prefix)]
    if len(results) != doc.units:
        raise SyncError(
            f"{doc.units - len(results)} of {doc.units} work units left no result: nothing committed"
        )
    state = get_json(runs.state_key(project_id, job_id)) or {"streams": {}}
    ended, tables, events = now_iso(), [], []
    for s_index, entry in enumerate(doc.streams):
        mine = [r for r in results if r.stream == s_index]
        counts = _commit_stream(entry, mine, prefix, s_index)
        if entry.plan.next_state is not None:  # saved as each table commits: a later failure keeps it
            state.setdefault("streams", {})[entry.plan.stream] = entry.plan.next_state
            put_json(runs.state_key(project_id, job_id), state)
        tables.append(_table_entry(entry, mine, counts, doc.started_at, ended))
        events.append(_table_event(entry, tables[-1]))
    events += _acknowledge(project_id, job_ref, doc)
    totals = runs.empty_stats()
    for t in tables:
        for k in runs.STAT_KEYS:
            totals[k] += int(t.get(k) or 0)
    put_json(
        prefix + "summary.json", {"state": "succeeded", "error": None, "stats": totals, "tables": tables}
    )
    runs.log_events(project_id, job_id, run_id, "commit", events)
    return {**base, "result": {"state": "succeeded"}}


def _acknowledge(project_id: str, job_ref: dict[str, Any], doc: PlanDoc) -> list[dict[str, Any]]:
    """The plugin's acknowledge, after every commit and state: a failure only delays it to the next
    run (which reads those changes again and skips them), so it is logged, never fatal."""
    try:
        _plugin(project_id, targets.load_job(job_ref).source_id).acknowledge([e.plan for e in doc.streams])
    except Exception as exc:  # noqa: BLE001 - the data and the state are committed: the run stands
        log.warning("acknowledge failed: %s", exc)
        return [runs.event("WARNING", f"the source was not told of the commit ({exc}); the next run does it")]
    return []


def _commit_stream(entry: StreamEntry, mine: list[UnitResult], prefix: str, s_index: int) -> dict[str, int]:
    """The table's commit (inserted, updated, deleted), made once: a retry finds its record, or its
    token in the table's history."""
    done_key = f"{prefix}commits/{s_index:04d}.json"
    previous = get_json(done_key)
    if previous is not None:
        return dict(previous["commit"])
    put_json(f"{prefix}commits/{s_index:04d}.pending", {"at": now_iso()})  # the staged files may be data now
    staged = [r.staged for r in mine]
    try:
        result = _commit(entry, staged, prefix, s_index)
    except Exception as exc:
        if "CommitFailed" in type(exc.__cause__).__name__:
            raise TransientError(str(exc)) from exc
        raise
    counts = {"inserted": result.inserted, "updated": result.updated, "deleted": result.deleted}
    put_json(done_key, {"commit": counts})
    return counts


def _commit(entry: StreamEntry, staged: list[dict[str, Any]], prefix: str, s_index: int) -> Any:
    from functions.engine import IcebergTableWriter, ParquetLakeWriter
    from functions.engine.changes import IcebergChangeWriter, read_changes

    dest, token = entry.destination, f"{prefix}{s_index:04d}"  # the token: a retry finds its commit
    if dest.kind == "parquet":
        fs = store.lake_fs()
        if entry.mode == "overwrite":
            ours = {p.rsplit("/", 1)[-1] for st in staged for p in st.get("files", [])}
            targets.trash_parquet(fs, str(dest.path), prefix, keep=ours)
        return ParquetLakeWriter.commit_staged(staged, filesystem=fs)
    catalog, identifier = targets.catalog_at(str(dest.warehouse)), dest.table_id
    key = entry.primary_key
    if entry.mode == "changes":
        changes = read_changes([p for st in staged for p in st.get("files", [])], store.lake_fs())
        return IcebergChangeWriter(catalog, identifier, key, commit_token=token).apply(changes)
    found = targets.find_commit(catalog, identifier, token)
    if found is not None:
        return found
    return IcebergTableWriter.commit_staged(
        catalog, identifier, staged, mode=entry.mode, primary_key=key if entry.mode == "upsert" else None,
        commit_token=token,
    )  # fmt: skip


def _table_entry(
    entry: StreamEntry, mine: list[UnitResult], counts: dict[str, int], started: str, ended: str
) -> dict[str, Any]:
    """One table of the run's summary; its "files" are the units that read it."""
    files = [
        {
            "file_id": f"{entry.plan.stream}#{r.index}",
            "name": r.name,
            "read": r.stats.read,
            "inserted": r.stats.written,
            "rejected": r.stats.rejected,
            "errors": 0,
            "bytes": 0,
            "error": None,
        }  # fmt: skip
        for r in mine
    ]
    table = {
        "table_name": entry.destination.table_name,
        "stream": entry.plan.stream,
        "state": "succeeded",
        "read": sum(r.stats.read for r in mine),
        "rejected": sum(r.stats.rejected for r in mine),
        "errors": 0,
        "bytes": 0,
        "duration_ms": sum(r.stats.duration_ms for r in mine),
        **counts,
        "started_at": started,
        "ended_at": ended,
        "files": files,
    }
    if entry.lag_bytes is not None:
        table["lag_bytes"] = entry.lag_bytes
    return table


def _table_event(entry: StreamEntry, table: dict[str, Any]) -> dict[str, Any]:
    counts = ", ".join(f"{table[k]} {k}" for k in ("read", "inserted", "updated", "deleted", "rejected"))
    lag = f"; the slot was {entry.lag_bytes} bytes behind" if entry.lag_bytes is not None else ""
    return runs.event(
        "INFO", f"table {table['table_name']}: {counts} ({entry.mode}){lag}", stream=entry.plan.stream
    )
