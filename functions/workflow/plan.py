"""Plan, a job run's first data step, for every source type alike: the source's plugin
(functions.engine.plugins; targets.source_plugin) plans the selected streams from their saved state into
work units, each stream's table is created or evolved now (so units running in parallel only stage
files), and the plan (plan.json) and its Map items (units.json) go to the run's folder.

A job with no stream selection stored reads every stream the source discovers, full refresh.
"""

from __future__ import annotations

from typing import Any

from functions.core.repositories.base import now_iso
from functions.core.services import runs
from functions.workflow import store, targets
from functions.workflow.errors import SyncError, TransientError
from functions.workflow.payloads import Destination, PlanDoc, StepInput, StreamEntry, UnitItem, WriteMode
from functions.workflow.store import get_json, put_json


def _configured(job: Any, plugin: Any) -> list[dict[str, Any]]:
    """The job's selected streams; with no selection stored, every stream the source has, full refresh."""
    configured = list((job.streams_config or {}).get("streams") or [])
    if not configured:  # an empty source has nothing to read: the run succeeds and changes nothing
        return [{"stream_name": s.name, "namespace": s.namespace} for s in plugin.discover()]
    selected = [s for s in configured if s.get("selected", True)]
    if not selected:
        raise SyncError("the job selects no stream")
    return selected


def _request(stream: dict[str, Any]) -> Any:
    from functions.engine.plugins import StreamRequest

    return StreamRequest(
        namespace=stream.get("namespace") or "", name=stream["stream_name"],
        sync_mode=stream.get("sync_mode") or "full_refresh", cursor_field=stream.get("cursor_field"),
        primary_key=list(stream.get("primary_key") or []),
        columns=[{"name": c["name"], "type": c["type"]} for c in stream.get("columns") or []],
    )  # fmt: skip


def _write_mode(stream: dict[str, Any], plan: Any) -> WriteMode:
    if plan.sync_mode == "cdc":
        return "overwrite" if plan.snapshot else "changes"
    return targets.write_mode(stream)  # type: ignore[return-value]


def _entry(project_id: str, job: Any, stream: dict[str, Any], plan: Any) -> StreamEntry:
    mode = _write_mode(stream, plan)
    dest = Destination(**targets.stream_destination(project_id, job, stream))
    if dest.kind == "parquet" and mode in ("upsert", "changes"):
        raise SyncError(
            f"stream {plan.stream}: the parquet destination cannot apply changes by key (upsert, cdc); use iceberg"
        )
    # the job's key (a view has none of its own), else the table's; cdc applies by the table's
    key = list(plan.primary_key) if mode == "changes" else list(stream.get("primary_key") or plan.primary_key)
    required = [c["name"] for c in stream.get("columns") or [] if c.get("nullable", True) is False]
    entry = StreamEntry(
        stream_name=stream["stream_name"], mode=mode, destination=dest, primary_key=key, required=required,
        plan=plan, lag_bytes=plan.lag_bytes,
    )  # fmt: skip
    if dest.kind == "iceberg":
        _prepare_table(entry)
    return entry


def _prepare_table(entry: StreamEntry) -> None:
    """Create or evolve the table now, so units running in parallel only stage files."""
    from functions.engine import EngineError, IcebergTableWriter

    dest = entry.destination
    try:
        IcebergTableWriter(
            targets.catalog_at(str(dest.warehouse)), dest.table_id,
            mode="upsert" if entry.mode in ("upsert", "changes") else "append", primary_key=entry.primary_key,
            schema=entry.stream_schema(),
        ).abort()  # fmt: skip
    except EngineError as exc:
        raise SyncError(f"stream {entry.plan.stream}: {exc}") from None


def plan(event: dict[str, Any]) -> dict[str, Any]:
    """The plugin's plan of the selected streams from their saved state; plan.json and units.json."""
    step = StepInput.model_validate(event)
    project_id, job_id, run_id = step.ids
    prefix = runs.run_prefix(project_id, job_id, run_id)
    job = targets.load_job(step.job.model_dump())
    connector, _ = targets.live_connector(project_id, "source", job.source_id)
    plugin = targets.source_plugin(project_id, job.source_id)
    state = get_json(runs.state_key(project_id, job_id)) or {"streams": {}}
    try:
        selected = _configured(job, plugin)
        plans = plugin.plan([_request(s) for s in selected], state.get("streams") or {})
    except (SyncError, TransientError):
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin's error fails the run, or is retried
        raise store.step_error(exc, "plan") from exc
    events, entries = [], []
    for stream, stream_plan in zip(selected, plans, strict=True):
        if not stream_plan.columns:  # nothing to read (files: none) and no columns to make a table with
            events.append(runs.event("INFO", "nothing to read", stream=stream["stream_name"]))
            continue
        entries.append(_entry(project_id, job, stream, stream_plan))
        events.append(_plan_event(entries[-1]))
    pairs = [(s_index, unit) for s_index, entry in enumerate(entries) for unit in entry.plan.units]
    units = [UnitItem(index=i, stream=s, work=w).model_dump(mode="json") for i, (s, w) in enumerate(pairs)]
    # plan.json, which every unit reads, holds no units: they are in units.json, one Map item each
    streams = [e.model_copy(update={"plan": e.plan.model_copy(update={"units": []})}) for e in entries]
    doc = PlanDoc(source_type=connector.type, streams=streams, units=len(units), started_at=now_iso())
    put_json(prefix + "plan.json", doc.model_dump(mode="json"))
    put_json(prefix + "units.json", units)
    runs.log_events(project_id, job_id, run_id, "plan", events)
    return store.plan_answer(event, step.job.model_dump(), prefix + "units.json", units, len(entries))


def _plan_event(entry: StreamEntry) -> dict[str, Any]:
    what = "snapshot" if entry.plan.snapshot else entry.plan.sync_mode.replace("_", " ")
    notes = "; ".join(entry.plan.notes)
    message = f"{len(entry.plan.units)} work units ({what}, {entry.mode})" + (f"; {notes}" if notes else "")
    return runs.event("INFO", message, stream=entry.plan.stream)
