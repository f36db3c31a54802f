"""Commit, a job run's last data step, for every source type alike: one commit per table of every unit's
staged output, all or nothing.

- A run whose units did not all leave a result commits nothing; one file that could not be read (gone,
  corrupt, refused) fails the run, no table is changed, and its staged files are deleted.
- Each table's commit carries a token (a retry whose answer was lost finds it in the table's history) and
  is recorded in ``commits/<stream>.json`` (a retried Commit finds it and does not commit again); from the
  ``.pending`` marker on, its staged files may be data and the cleanup leaves them alone.
- Each stream's next state is saved with its table's commit, never before; only after every table and
  state, ``plugin.acknowledge`` (the CDC slot advance). A crash before it leaves the source behind the
  saved state: the next run reads those changes again and the plugin skips them.
"""

from __future__ import annotations

import logging
from typing import Any

from functions.core.repositories.base import now_iso
from functions.core.services import runs
from functions.workflow import store, targets
from functions.workflow.errors import SyncError, TransientError
from functions.workflow.payloads import CommitRecord, PlanDoc, StepInput, StreamEntry, UnitResult, read_back
from functions.workflow.store import get_json, put_json
from functions.workflow.units import plan_doc

log = logging.getLogger("ingestplane.workflow")
MAX_ERROR = 2000  # characters of a failed run's error


def commit(event: dict[str, Any]) -> dict[str, Any]:
    """Commit every table (or, when a file could not be read, none); the run's summary and state."""
    step = StepInput.model_validate(event)
    project_id, job_id, run_id = step.ids
    prefix = runs.run_prefix(project_id, job_id, run_id)
    base = {"job": event["job"], "run": event["run"], "config": step.config}
    if not runs.mark_committing(project_id, run_id):
        return {**base, "result": {"skipped": True}}  # cancelled before the commit: nothing is committed
    doc = plan_doc(prefix)
    results = [read_back(UnitResult, r, "unit result") for r in store.unit_results(prefix)]
    if len(results) != doc.units:
        raise SyncError(
            f"{doc.units - len(results)} of {doc.units} work units left no result: nothing committed"
        )
    failed = [f"{f.key}: {f.stats.get('error')}" for r in results for f in r.files if f.stats["errors"]]
    tables, events = _commit_tables(step, doc, results, prefix, failed=bool(failed))
    if failed:
        store.delete_staged(prefix, [r.model_dump() for r in results])
    else:
        events += _acknowledge(project_id, event["job"], doc)
    totals = runs.empty_stats()
    for t in tables:
        for k in runs.STAT_KEYS:
            totals[k] += int(t.get(k) or 0)
    error = None
    if failed:
        error = (
            f"{len(failed)} file(s) could not be read: " + "; ".join(failed)
            + ". Nothing was committed: a run changes its tables only when every planned file was read."
        )[:MAX_ERROR]  # fmt: skip
    outcome = {
        "state": "failed" if failed else "succeeded",
        "error": error,
        "stats": totals,
        "tables": tables,
    }
    put_json(prefix + "summary.json", outcome)
    runs.log_events(project_id, job_id, run_id, "commit", events)
    return {**base, "result": {"state": outcome["state"]}}


def _commit_tables(
    step: StepInput, doc: PlanDoc, results: list[UnitResult], prefix: str, *, failed: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the summary's tables, their log lines): each table committed and its state saved, in plan order."""
    project_id, job_id, _ = step.ids
    state = get_json(runs.state_key(project_id, job_id)) or {"streams": {}}
    ended, tables, events = now_iso(), [], []
    for s_index, entry in enumerate(doc.streams):
        mine = [r for r in results if r.stream == s_index]
        stats = _table_stats(entry, mine)
        if failed:
            stats.discard()
        else:
            record = _commit_stream(entry, mine, prefix, s_index)
            stats.apply_commit(record.inserted, record.updated, record.deleted)
            if entry.plan.next_state is not None:  # saved as each table commits: a later failure keeps it
                state.setdefault("streams", {})[entry.plan.stream] = entry.plan.next_state
                put_json(runs.state_key(project_id, job_id), state)
        tables.append(_table_entry(entry, stats, mine, doc.started_at, ended, failed=failed))
        events.append(_table_event(entry, tables[-1], committed=not failed))
    return tables, events


def _acknowledge(project_id: str, job_ref: dict[str, Any], doc: PlanDoc) -> list[dict[str, Any]]:
    """The plugin's acknowledge, after every commit and state: a failure only delays it to the next
    run (which reads those changes again and skips them), so it is logged, never fatal."""
    try:
        plugin = targets.source_plugin(project_id, targets.load_job(job_ref).source_id)
        plugin.acknowledge([e.plan for e in doc.streams])
    except Exception as exc:  # noqa: BLE001 - the data and the state are committed: the run stands
        log.warning("acknowledge failed: %s", exc)
        return [runs.event("WARNING", f"the source was not told of the commit ({exc}); the next run does it")]
    return []


def _commit_stream(entry: StreamEntry, mine: list[UnitResult], prefix: str, s_index: int) -> CommitRecord:
    """The table's commit, made once: a retry finds its record, or its token in the table's history."""
    done_key = f"{prefix}commits/{s_index:04d}.json"
    previous = get_json(done_key)
    if previous is not None:
        return read_back(CommitRecord, previous.get("commit"), f"commits/{s_index:04d}.json")
    staged = [r.staged for r in mine]
    try:
        record = _commit(entry, staged, prefix, s_index)
    except Exception as exc:
        if "CommitFailed" in type(exc.__cause__).__name__:
            raise TransientError(str(exc)) from exc
        raise
    put_json(done_key, {"commit": record.model_dump()})
    return record


def _commit(entry: StreamEntry, staged: list[dict[str, Any]], prefix: str, s_index: int) -> CommitRecord:
    """Commit the staged files with the table's token; the ``.pending`` marker goes first (from there
    the staged files may become data, so cleanup_staged leaves them alone)."""
    from functions.engine import IcebergTableWriter, ParquetLakeWriter
    from functions.engine.changes import IcebergChangeWriter, read_changes

    dest, token = entry.destination, f"{prefix}{s_index:04d}"
    catalog = targets.catalog_at(str(dest.warehouse)) if dest.kind == "iceberg" else None
    if catalog is not None and entry.mode != "changes":
        found = targets.find_commit(catalog, dest.table_id, token)  # a retry whose answer was lost
        if found is not None:
            return CommitRecord(
                inserted=found.inserted, updated=found.updated, deleted=found.deleted, recovered=True
            )
    put_json(f"{prefix}commits/{s_index:04d}.pending", {"at": now_iso()})
    if catalog is None:
        fs = store.lake_fs()
        if entry.mode == "overwrite":
            ours = {p.rsplit("/", 1)[-1] for st in staged for p in st.get("files", [])}
            targets.trash_parquet(fs, str(dest.path), prefix, keep=ours)
        result = ParquetLakeWriter.commit_staged(staged, filesystem=fs)
    elif entry.mode == "changes":  # the change writer finds its own token
        changes = read_changes([p for st in staged for p in st.get("files", [])], store.lake_fs())
        result = IcebergChangeWriter(catalog, dest.table_id, entry.primary_key, commit_token=token).apply(
            changes
        )
    else:
        result = IcebergTableWriter.commit_staged(
            catalog, dest.table_id, staged, mode=entry.mode,
            primary_key=entry.primary_key if entry.mode == "upsert" else None, commit_token=token,
        )  # fmt: skip
    return CommitRecord(inserted=result.inserted, updated=result.updated, deleted=result.deleted)


def _table_stats(entry: StreamEntry, mine: list[UnitResult]) -> Any:
    """The table's counts from its units: per file (files sources), else per unit."""
    from functions.engine import TableStats
    from functions.engine.stats import FileStats

    stats = TableStats(table=entry.stream_name)
    for r in mine:
        if r.files:
            for f in r.files:
                stats.add(FileStats.from_dict(f.stats))
        else:
            s = r.stats
            stats.add(
                FileStats(
                    file=r.name,
                    read=s.read,
                    inserted=s.written,
                    rejected=s.rejected,
                    duration_ms=s.duration_ms,
                )
            )
    return stats


def _table_entry(
    entry: StreamEntry, stats: Any, mine: list[UnitResult], started: str, ended: str, *, failed: bool
) -> dict[str, Any]:
    """One table of the run's summary, with its files (a database's: its units)."""
    from functions.engine.plugins.files import file_id

    ids = {f.key: f.file_id for r in mine for f in r.files}
    ids.update({r.name: f"{entry.plan.stream}#{r.index}" for r in mine if not r.files})
    st = stats.to_dict()
    files = []
    for f in st["files"]:
        key = f["file"].split("/", 3)[-1] if f["file"].startswith("s3://") else f["file"]
        files.append(
            {
                "file_id": ids.get(key) or file_id(key),
                "name": key,
                **{k: f[k] for k in ("read", "inserted", "rejected", "errors", "bytes")},
                "error": f.get("error"),
            }  # fmt: skip
        )
    table = {
        "table_name": entry.table_name,
        "stream": entry.plan.stream,  # the source's stream id (a database's: schema.table)
        "state": "failed" if failed else "succeeded",
        **{k: st.get(k, 0) for k in runs.STAT_KEYS},
        "started_at": started,
        "ended_at": ended,
        "files": files,
    }
    if entry.lag_bytes is not None:
        table["lag_bytes"] = entry.lag_bytes
    return table


def _table_event(entry: StreamEntry, table: dict[str, Any], *, committed: bool) -> dict[str, Any]:
    counts = ", ".join(
        f"{table[k]} {k}" for k in ("read", "inserted", "updated", "deleted", "rejected", "errors")
    )
    if not committed:
        message = f"table {table['table_name']}: not changed, the run failed; {counts} ({entry.mode})"
        return runs.event("ERROR", message, stream=entry.plan.stream)
    lag = f"; the slot was {entry.lag_bytes} bytes behind" if entry.lag_bytes is not None else ""
    return runs.event(
        "INFO", f"table {table['table_name']}: {counts} ({entry.mode}){lag}", stream=entry.plan.stream
    )
