"""The data-plane steps of a job whose source is files (`s3`): plan work units, ingest one unit, commit
once per table. A source read by a plugin (a database) has its own steps (functions.workflow.database);
both keep a run's documents in its folder (functions.workflow.store) and find their job, connectors and
destinations through functions.workflow.targets.

Each step is safe to retry: a unit's result is written once to `logs/<project>/<job>/<run>/units/<i>.json`
(a retry finds it and does nothing); the commit of a table is recorded in `commits/<stream>.json` before
the run moves on, and a retried commit whose staged files are already in the table is not made twice.
Staged files of units that never reach a commit are orphans, never data.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError

from functions.core.connectors import s3 as s3_source
from functions.core.repositories.base import now_iso
from functions.core.services import runs
from functions.core.settings import get_settings
from functions.workflow.errors import SyncError, TransientError
from functions.workflow.store import (
    bucket,
    delete_staged,
    get_json,
    lake_fs,
    plan_answer,
    plan_doc,
    put_json,
    transient,
    unit_results,
)
from functions.workflow.targets import (
    cache_epoch,
    catalog_at,
    find_commit,
    live_connector,
    load_job,
    project_context,
    stream_destination,
    trash_parquet,
    write_mode,
)

log = logging.getLogger("ingestplane.workflow")

# Small whole files share a unit (one Lambda invocation, one writer): per-unit orchestration costs far
# more than reading a small file. A unit holds at most this many files and bytes.
GROUP_MAX_FILES = 50
GROUP_MAX_BYTES = 64 << 20
PLAN_THREADS = 16  # files inspected at once while planning
SCHEMA_SAMPLE_FILES = 5


# ---------------------------------------------------------------- the job, its source and destination


def _source_access(project_id: str, source_id: str) -> tuple[Any, Any]:
    """(config, boto3 S3 client) with the source's credentials."""
    return _source_access_cached(project_id, source_id, cache_epoch())


@lru_cache(maxsize=32)
def _source_access_cached(project_id: str, source_id: str, _epoch: int) -> tuple[Any, Any]:
    connector, cfg = live_connector(project_id, "source", source_id)
    if connector.type != "s3":
        raise SyncError(f"source type {connector.type!r} cannot be synced by a job")
    ctx = project_context(project_id)
    session = s3_source.source_session(cfg, ctx)
    client = session.client("s3", region_name=cfg.region or ctx.region, endpoint_url=ctx.endpoint_url)
    return cfg, client


def _list_files(cfg: Any, client: Any) -> list[dict[str, Any]]:
    """Matching, non-empty files under the source's prefix with their ETags."""
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"Bucket": cfg.bucket, "Prefix": cfg.prefix}
    while True:
        try:
            page = client.list_objects_v2(**kwargs)
        except ClientError as exc:
            raise transient(exc) from exc
        for obj in page.get("Contents", []):
            if obj.get("Size", 0) > 0 and s3_source.key_matches(cfg, obj["Key"]):
                out.append({"key": obj["Key"], "size": obj["Size"], "etag": obj.get("ETag", "").strip('"')})
        limit = get_settings().max_files_per_run
        if len(out) > limit:
            raise SyncError(
                f"more than {limit} files under s3://{cfg.bucket}/{cfg.prefix} (max_files_per_run): narrow it"
            )
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return out
        kwargs["ContinuationToken"] = token


def _file_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- plan


def plan(event: dict[str, Any]) -> dict[str, Any]:
    """List the source, choose files per selected stream (incremental: new or changed ETags only), split
    them into work units; write the plan and the unit manifest to S3."""
    job_ref, run = event["job"], event["run"]
    project_id, job_id, run_id = job_ref["project_id"], job_ref["job_id"], run["run_id"]
    prefix = runs.run_prefix(project_id, job_id, run_id)
    job = load_job(job_ref)
    cfg, client = _source_access(project_id, job.source_id)
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in _list_files(cfg, client):
        groups.setdefault(s3_source.stream_of(cfg, f["key"]), []).append(f)
    state = get_json(runs.state_key(project_id, job_id)) or {"streams": {}}
    streams: list[dict[str, Any]] = []
    units: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for stream in _selected(job, groups):
        name = stream["stream_name"]
        found = sorted(groups.get(name, []), key=lambda f: f["key"])
        chosen = _chosen(stream, found, state)
        planned = _plan_stream(project_id, job, stream, chosen, cfg, client)
        if planned is None:
            events.append(runs.event("INFO", "no files to read", stream=name))
            continue
        entry, pieces = planned
        for group in _group(pieces):
            units.append({"index": len(units), "stream": len(streams), "files": group})
        streams.append(entry)
        what = "incremental" if stream.get("sync_mode") == "incremental" else "full refresh"
        message = f"{len(chosen)} of {len(found)} files to read ({what}, {entry['mode']})"
        events.append(runs.event("INFO", message, stream=name))
    put_json(prefix + "plan.json", {"streams": streams, "units": len(units), "started_at": now_iso()})
    manifest_key = prefix + "units.json"
    put_json(manifest_key, units)
    runs.log_events(project_id, job_id, run_id, "plan", events)
    return plan_answer(event, job_ref, manifest_key, units, len(streams))


def _selected(job: Any, groups: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The job's selected streams; with no selection stored, every stream found, full refresh."""
    configured = list((job.streams_config or {}).get("streams") or [])
    if not configured:
        configured = [{"stream_name": name, "selected": True} for name in sorted(groups)]
    return [s for s in configured if s.get("selected", True)]


def _chosen(
    stream: dict[str, Any], found: list[dict[str, Any]], state: dict[str, Any]
) -> list[dict[str, Any]]:
    """The files a run reads: all of them, or (incremental) those new or changed since the saved state."""
    if stream.get("sync_mode") != "incremental":
        return found
    seen = state["streams"].get(stream["stream_name"], {})
    return [f for f in found if seen.get(f["key"]) != f["etag"]]


def _plan_stream(
    project_id: str, job: Any, stream: dict[str, Any], chosen: list[dict[str, Any]], cfg: Any, client: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """(the stream's entry in plan.json, its file pieces), or None when it has no columns (no files)."""
    from functions.engine import StreamSchema

    name = stream["stream_name"]
    mode = write_mode(stream)
    pk = list(stream.get("primary_key") or [])
    dest = stream_destination(project_id, job, stream)
    if mode == "upsert" and dest["kind"] == "parquet":
        raise SyncError(f"stream {name}: the parquet destination cannot upsert; use append or overwrite")
    # a few small reads per file (size, magic bytes, footers): S3 latency, so many files at once
    with ThreadPoolExecutor(max_workers=PLAN_THREADS, thread_name_prefix="plan") as pool:
        sources = list(pool.map(lambda f: _inspect(f, cfg, client), chosen))
    columns = stream.get("columns") or _inferred_columns(name, sources, cfg)
    if not columns:
        return None
    schema = StreamSchema.from_list(columns)
    if dest["kind"] == "iceberg":
        _prepare_table(name, dest, mode, pk, schema)
    entry = {
        "stream_name": name,
        "columns": schema.to_list(),
        "mode": mode,
        "sync_mode": stream.get("sync_mode", "full_refresh"),
        "primary_key": pk,
        "destination": dest,
        "files": len(chosen),
    }
    return entry, _pieces(sources, cfg)


Inspected = tuple[dict[str, Any], Any, str, str, str | None, list[dict[str, Any]]]


def _inspect(f: dict[str, Any], cfg: Any, client: Any) -> Inspected:
    """(file, Source or None, fmt, compression, error, pieces): its format and its split. A file gone or
    replaced since the listing, or a read that may pass, is a TransientError (the plan is tried again);
    an unreadable file becomes a unit that counts its error."""
    from functions.engine import ObjectVersion, SourceNotFoundError, is_transient, open_s3_version, plan_units

    try:
        uri = f"s3://{cfg.bucket}/{f['key']}"
        src = open_s3_version(uri, client, ObjectVersion(etag=f["etag"]), size=f["size"])
        fmt, comp = s3_source.detect_file(src, cfg)
    except SourceNotFoundError as exc:  # deleted or replaced since the listing: list again
        raise TransientError(f"{f['key']}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - an unreadable file becomes a unit that counts its error
        if is_transient(exc):
            raise TransientError(str(exc)) from exc  # the plan is tried again
        return f, None, "auto", "auto", str(exc), []
    try:
        units = plan_units(
            src, get_settings().work_unit_bytes, fmt=fmt, compression=comp,
            csv_options=s3_source.csv_options_for(cfg, fmt),
        )  # fmt: skip
    except SourceNotFoundError as exc:
        raise TransientError(f"{f['key']}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - unreadable (e.g. a broken footer): counted by its unit
        if is_transient(exc):
            raise TransientError(str(exc)) from exc
        return f, src, fmt, comp, str(exc), []
    return f, src, fmt, comp, None, [u.to_dict() for u in units]


def _inferred_columns(name: str, sources: list[Inspected], cfg: Any) -> list[dict[str, Any]]:
    """Columns inferred from the first readable files (none: no readable file)."""
    from functions.engine import EngineError, infer_schema, is_transient

    readable = [(s, fmt, comp) for _, s, fmt, comp, err, _ in sources if s is not None and not err]
    sample = readable[:SCHEMA_SAMPLE_FILES]
    if not sample:
        return []
    try:
        return infer_schema(
            [s for s, _, _ in sample], sample_rows=1000, fmt=sample[0][1], compression=sample[0][2],
            csv_options=s3_source.csv_options_for(cfg, sample[0][1]),
        ).to_list()  # fmt: skip
    except (EngineError, OSError, ValueError) as exc:
        if is_transient(exc):
            raise TransientError(str(exc)) from exc
        raise SyncError(f"stream {name}: cannot infer its columns: {exc}") from None


def _prepare_table(name: str, dest: dict[str, Any], mode: str, pk: list[str], schema: Any) -> None:
    """Create or evolve the table now, so units running in parallel only stage files."""
    from functions.engine import EngineError, IcebergTableWriter

    try:
        IcebergTableWriter(
            catalog_at(dest["warehouse"]), tuple(dest["identifier"]), mode=mode, primary_key=pk, schema=schema
        ).abort()
    except EngineError as exc:
        raise SyncError(f"stream {name}: {exc}") from None


def _pieces(sources: list[Inspected], cfg: Any) -> list[dict[str, Any]]:
    """One entry per file piece (a file the plan could not inspect is one whole piece), grouped into
    units by _group."""
    entries: list[dict[str, Any]] = []
    for f, _, fmt, comp, _, pieces in sources:
        base = {"key": f["key"], "etag": f["etag"], "size": f["size"], "file_id": _file_id(f["key"])}
        if not pieces:
            whole = {
                "uri": f"s3://{cfg.bucket}/{f['key']}",
                "fmt": fmt,
                "compression": comp,
                "size": f["size"],
            }
            pieces = [{**whole, "index": 0, "count": 1, "byte_range": None, "row_groups": None}]
        for piece in pieces:
            entries.append({**base, "unit": piece, "csv": s3_source.csv_options_for(cfg, piece["fmt"])})
    return entries


def _group(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Work units from file pieces: a piece of a split file is a unit alone; whole small files share
    units of at most GROUP_MAX_FILES files and GROUP_MAX_BYTES (env WORKFLOW_GROUP_MAX_FILES)."""
    max_files = max(1, int(os.environ.get("WORKFLOW_GROUP_MAX_FILES", GROUP_MAX_FILES)))
    groups: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        piece = entry["unit"]
        piece_size = int(piece.get("size") or 0)
        if piece.get("count", 1) != 1 or piece_size >= GROUP_MAX_BYTES:
            groups.append([entry])
            continue
        if current and (len(current) >= max_files or size + piece_size > GROUP_MAX_BYTES):
            groups.append(current)
            current, size = [], 0
        current.append(entry)
        size += piece_size
    if current:
        groups.append(current)
    return groups


# ---------------------------------------------------------------- ingest one unit


def ingest_unit(event: dict[str, Any]) -> dict[str, Any]:
    """Read, validate and stage one work unit (a file piece, or several small files into one writer); its
    result (per-file stats, staged files) goes to S3 once. Each file is read at the ETag it was listed
    with; a file found gone is read again a few times (it may be back), then counted as an error, which
    fails the run at its commit."""
    from functions.engine import IcebergTableWriter, ParquetLakeWriter, RejectsWriter, StreamSchema

    job_ref, run, item = event["job"], event["run"], event["unit"]
    project_id, job_id, run_id = job_ref["project_id"], job_ref["job_id"], run["run_id"]
    prefix = runs.run_prefix(project_id, job_id, run_id)
    index = int(item["index"])
    result_key = f"{prefix}units/{index:06d}.json"
    done = {"unit": {"index": index}}
    if get_json(result_key) is not None:
        return done  # a retried step: already ingested
    if not runs.is_active(project_id, run_id):
        return {"unit": {"index": index, "skipped": True}}  # cancelled: stop early
    stream = plan_doc(prefix + "plan.json")["streams"][item["stream"]]
    schema = StreamSchema.from_list(stream["columns"])
    dest = stream["destination"]
    _, client = _source_access(project_id, load_job(job_ref).source_id)
    lake = lake_fs()
    if dest["kind"] == "iceberg":
        sink: Any = IcebergTableWriter(
            catalog_at(dest["warehouse"]), tuple(dest["identifier"]), mode=stream["mode"],
            primary_key=stream["primary_key"] or None,
        )  # fmt: skip
    else:
        sink = ParquetLakeWriter(dest["path"], schema, filesystem=lake)
    reject_uri = (
        f"s3://{bucket()}/rejects/{project_id}/{job_id}/{run_id}/{stream['stream_name']}/{index:06d}.jsonl"
    )
    rejects = RejectsWriter(reject_uri, filesystem=lake)
    files: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    try:
        for entry in item["files"]:
            stats = _ingest_listed_file(entry, client, schema, sink, rejects)
            files.append({**{k: entry[k] for k in ("key", "etag", "file_id")}, "stats": stats.to_dict()})
            events.append(_file_event(stats, stream["stream_name"], entry["key"], reject_uri))
    except TransientError:  # never a bad file: the unit is tried again, so no rows are dropped
        sink.abort()
        raise
    finally:
        rejects.close()
    if all(f["stats"]["errors"] and not f["stats"]["inserted"] for f in files):
        sink.abort()
        staged = _empty_staged(dest)
    else:
        staged = sink.stage()
    result = {
        "index": index,
        "stream": item["stream"],
        "files": files,
        "staged": staged,
        "rejects": reject_uri if any(f["stats"]["rejected"] for f in files) else None,
    }
    put_json(result_key, result)
    runs.log_events(project_id, job_id, run_id, f"unit-{index:06d}", events)
    return done


def _ingest_listed_file(entry: dict[str, Any], client: Any, schema: Any, sink: Any, rejects: Any) -> Any:
    """FileStats of one file (or piece) read at its listed ETag. Gone or changed: read again after a
    wait (VANISHED_FILE_*), then an error; a transient failure raises TransientError; a bad file counts
    one error. Whatever the file wrote to ``sink`` before failing is rolled back."""
    from functions.engine import (
        EngineError,
        ObjectVersion,
        SourceNotFoundError,
        WorkUnit,
        ingest_file,
        is_transient,
        open_s3_version,
    )
    from functions.engine.stats import FileStats

    unit = WorkUnit.from_dict(entry["unit"])
    settings = get_settings()
    tries = settings.vanished_file_retries + 1
    for attempt in range(tries):
        mark = sink.mark()
        try:
            version = ObjectVersion(etag=entry["etag"])
            source = open_s3_version(unit.uri, client, version, size=entry.get("size"))
            whole = unit.fmt == "auto"  # a file the plan could not inspect: the reader detects its format
            return ingest_file(
                source, schema, sink, fmt="auto" if whole else unit.fmt, compression=unit.compression,
                unit=None if whole else unit, csv_options=entry.get("csv"), rejects=rejects,
            )  # fmt: skip
        except SourceNotFoundError as exc:
            sink.rollback(mark)
            if attempt + 1 == tries:
                error = f"{exc} (it was listed when the run was planned; still gone after {tries} reads)"
                return FileStats(file=unit.uri, bytes=unit.size, errors=1, error=error)
            log.warning("%s is gone, reading it again: %s", unit.uri, exc)
            time.sleep(settings.vanished_file_wait_seconds * 2**attempt)
        except (EngineError, OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            if is_transient(exc):
                raise TransientError(str(exc)) from exc
            sink.rollback(mark)  # this file's rows only
            return FileStats(file=unit.uri, bytes=unit.size, errors=1, error=str(exc))
    raise AssertionError("unreachable")


def _file_event(stats: Any, stream_name: str, key: str, reject_uri: str) -> dict[str, Any]:
    if stats.errors:
        return runs.event("ERROR", f"cannot read the file: {stats.error}", stream=stream_name, file=key)
    message = f"read {stats.read} rows, {stats.inserted} valid, {stats.rejected} rejected"
    if stats.rejected:
        message += f" (rejects: {reject_uri})"
    level = "WARNING" if stats.rejected else "INFO"
    return runs.event(level, message, stream=stream_name, file=key)


def _empty_staged(dest: dict[str, Any]) -> dict[str, Any]:
    """What a unit that staged nothing hands on (its writer was rolled back or aborted)."""
    if dest["kind"] == "iceberg":
        return {"table": ".".join(dest["identifier"]), "chunks": []}
    return {"path": dest["path"], "staging": "", "files": [], "rows": 0}


# ---------------------------------------------------------------- commit once per table


def _table_stats(stream: dict[str, Any], results: list[dict[str, Any]]) -> Any:
    from functions.engine import TableStats
    from functions.engine.stats import FileStats

    stats = TableStats(table=stream["stream_name"])
    for r in results:
        for f in r["files"]:
            stats.add(FileStats.from_dict(f["stats"]))
    return stats


def _uncommitted_stream(stream: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    """A table of a run that commits nothing: its counts as read, nothing inserted or updated."""
    stats = _table_stats(stream, results).discard()
    return {"stats": stats.to_dict(), "commit": {"inserted": 0, "updated": 0, "skipped": True}}


def _commit_stream(stream: dict[str, Any], results: list[dict[str, Any]], prefix: str, s_index: int):
    """One commit of a table whose every planned file was read (commit() checks that first)."""
    from functions.engine import IcebergTableWriter, ParquetLakeWriter

    done_key = f"{prefix}commits/{s_index:04d}.json"
    previous = get_json(done_key)
    if previous is not None:
        return previous
    stats = _table_stats(stream, results)
    staged = [r["staged"] for r in results]
    dest = stream["destination"]
    committed: dict[str, Any]
    if dest["kind"] == "iceberg":
        # The token makes a retry after a lost answer find the commit (and its counts) in the table.
        token = f"{prefix}{s_index:04d}"
        catalog, identifier = catalog_at(dest["warehouse"]), tuple(dest["identifier"])
        result = find_commit(catalog, identifier, token)
        recovered = result is not None
        if result is None:
            # From here the staged files may become data: cleanup_staged leaves them alone.
            put_json(f"{prefix}commits/{s_index:04d}.pending", {"at": now_iso()})
            try:
                result = IcebergTableWriter.commit_staged(
                    catalog, identifier, staged, mode=stream["mode"],
                    primary_key=stream["primary_key"] or None, commit_token=token,
                )  # fmt: skip
            except Exception as exc:
                if "CommitFailed" in type(exc.__cause__).__name__:
                    raise TransientError(str(exc)) from exc
                raise
        committed = {"inserted": result.inserted, "updated": result.updated, "skipped": False}
        if recovered:
            committed["recovered"] = True
    else:
        fs = lake_fs()
        # From here the staged files may become data: cleanup_staged leaves them alone.
        put_json(f"{prefix}commits/{s_index:04d}.pending", {"at": now_iso()})
        if stream["mode"] == "overwrite":
            ours = {p.rsplit("/", 1)[-1] for st in staged for p in st.get("files", [])}
            trash_parquet(fs, dest["path"], prefix, keep=ours)
        result = ParquetLakeWriter.commit_staged(staged, filesystem=fs)
        committed = {"inserted": result.inserted, "updated": 0, "skipped": False}
    stats.apply_commit(committed["inserted"], committed["updated"])
    doc = {"stats": stats.to_dict(), "commit": committed}
    put_json(done_key, doc)
    return doc


def commit(event: dict[str, Any]) -> dict[str, Any]:
    """One commit per table of every unit's staged output; the run's stats and the incremental state.

    All or nothing: a run commits only when every file it planned was read. One file that could not be
    read (gone, corrupt, refused) fails the run and no table is changed; its staged files are deleted."""
    job_ref, run = event["job"], event["run"]
    project_id, job_id, run_id = job_ref["project_id"], job_ref["job_id"], run["run_id"]
    prefix = runs.run_prefix(project_id, job_id, run_id)
    base = {"job": job_ref, "run": run, "config": event.get("config") or {}}
    if not runs.mark_committing(project_id, run_id):
        return {**base, "result": {"skipped": True}}  # cancelled before the commit: nothing is committed
    planned_doc = plan_doc(prefix + "plan.json")
    results = unit_results(prefix)
    planned = planned_doc.get("units")
    if planned is not None and len(results) != planned:
        raise SyncError(f"{planned - len(results)} of {planned} work units left no result: nothing committed")
    failed = [
        f"{f['key']}: {f['stats'].get('error')}" for r in results for f in r["files"] if f["stats"]["errors"]
    ]
    ended = now_iso()
    tables, totals, events = [], runs.empty_stats(), []
    state = get_json(runs.state_key(project_id, job_id)) or {"streams": {}}
    for s_index, stream in enumerate(planned_doc["streams"]):
        mine = [r for r in results if r["stream"] == s_index]
        doc = _uncommitted_stream(stream, mine) if failed else _commit_stream(stream, mine, prefix, s_index)
        st = doc["stats"]
        for k in runs.STAT_KEYS:
            totals[k] += int(st.get(k) or 0)
        tables.append(
            _table_entry(stream, st, mine, planned_doc.get("started_at"), ended, failed=bool(failed))
        )
        if not failed:  # saved as each table commits: if a later one fails, the next run skips these
            _save_state(state, stream, mine)
            put_json(runs.state_key(project_id, job_id), state)
        events.append(_table_event(stream, st, tables[-1]["table_name"], committed=not failed))
    if failed:
        delete_staged(prefix, results)
    outcome = {
        "state": "failed" if failed else "succeeded",
        "error": (
            f"{len(failed)} file(s) could not be read: " + "; ".join(failed)
            + ". Nothing was committed: a run changes its tables only when every planned file was read."
        )[:2000] if failed else None,
        "stats": totals,
        "tables": tables,
    }  # fmt: skip
    put_json(prefix + "summary.json", outcome)
    runs.log_events(project_id, job_id, run_id, "commit", events)
    return {**base, "result": {"state": outcome["state"]}}


def _table_entry(
    stream: dict[str, Any], st: dict[str, Any], mine: list[dict[str, Any]], started: Any, ended: str, *,
    failed: bool,
) -> dict[str, Any]:  # fmt: skip
    """One table of the run's summary, with its files' stats."""
    by_key = {f["key"]: f for r in mine for f in r["files"]}
    files = []
    for f in st["files"]:
        key = f["file"].split("/", 3)[-1] if f["file"].startswith("s3://") else f["file"]
        files.append(
            {
                "file_id": by_key.get(key, {}).get("file_id") or _file_id(key),
                "name": key,
                **{k: f[k] for k in ("read", "inserted", "rejected", "errors", "bytes")},
                "error": f.get("error"),
            }
        )
    return {
        "table_name": stream["destination"].get("identifier", [None, stream["stream_name"]])[1],
        "stream": stream["stream_name"],
        "state": "failed" if failed else "succeeded",
        **{k: st.get(k, 0) for k in runs.STAT_KEYS},
        "started_at": started,
        "ended_at": ended,
        "files": files,
    }


def _save_state(state: dict[str, Any], stream: dict[str, Any], mine: list[dict[str, Any]]) -> None:
    """Incremental state: the files this committed run read, by key and ETag."""
    read = {f["key"]: f["etag"] for r in mine for f in r["files"]}
    if stream["sync_mode"] == "incremental":
        state["streams"].setdefault(stream["stream_name"], {}).update(read)
    else:
        state["streams"][stream["stream_name"]] = read


def _table_event(stream: dict[str, Any], st: dict[str, Any], name: str, *, committed: bool) -> dict:
    counts = (
        f"{st['inserted']} inserted, {st['updated']} updated, {st['rejected']} rejected, "
        f"{st['errors']} file errors ({stream['mode']})"
    )
    if not committed:
        return runs.event(
            "ERROR", f"table {name}: not changed, the run failed; {counts}", stream=stream["stream_name"]
        )
    return runs.event("INFO", f"table {name}: {counts}", stream=stream["stream_name"])
