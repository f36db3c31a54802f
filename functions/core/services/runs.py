"""Runs of jobs (ingest jobs): start, cancel, list, read, logs; and the run's life cycle that the sync
state machine's steps drive (functions/workflow).

One run per job at a time: a run claims its job with one conditional UpdateItem (`current_run_id` not set)
and releases it when it ends. States: queued (started, execution not yet running) -> running -> succeeded
| failed | cancelled. Every ending is conditional on the run not having ended yet, so the state machine's
MarkFailed, the execution-ended rule and a cancel can all race and the first one wins.

A project has at most `max_concurrent_runs_per_project` runs at a time (cdk.json `limits`); a deleted
project runs nothing more: its runs are cancelled when it is deleted (services/projects.py), and the
workflow checks the project again when a run begins and before it commits.

Files of a run in the data bucket: `logs/<project>/<job>/<run>/` holds the work-unit manifest and plan,
each unit's result, and the run's log events (`events/*.jsonl`, JSON lines: level, time, message, stream,
file). Authorization is the API layer's (it calls require_role first).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from datetime import datetime
from typing import Any

from ..constants import LOGS_PREFIX, MAX_PAGE_BYTES
from ..dialects import json_size
from ..errors import Conflict, Invalid, NotFound, TooManyRequests
from ..pagination import decode_cursor, encode_cursor, page_size
from ..repositories.base import now_iso
from ..repositories.jobs import JobRecord
from ..repositories.runs import (
    ACTIVE,
    ACTIVE_RUNS,
    Executions,
    RunFileRecord,
    RunLogs,
    RunRecord,
    RunRepository,
    job_runs_key,
    run_key,
)
from ..settings import get_settings

log = logging.getLogger("ingestplane.runs")
# Where runs, their executions and their logs are stored; unit tests put in-memory ones in their place.
repo = RunRepository()
executions = Executions()
logs = RunLogs()

STATES = ("queued", "running", "succeeded", "failed", "cancelled")
STAT_KEYS = ("read", "inserted", "updated", "deleted", "rejected", "errors", "bytes", "duration_ms")
FILE_COUNTS = ("read", "inserted", "updated", "rejected", "errors", "bytes")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MAX_FILE_MESSAGE = 2000  # characters of a file's error kept


def new_run_id() -> str:
    return f"isj-{secrets.token_hex(10)}"


def scheduled_run_id(execution_arn: str) -> str:
    """The run id of a scheduled execution: derived from its ARN, so a retried first step finds the same run."""
    return "isj-" + hashlib.sha256(execution_arn.encode()).hexdigest()[:20]


def run_prefix(project_id: str, job_id: str, run_id: str) -> str:
    """The run's folder in the data bucket (manifest, unit results, log events)."""
    return f"{LOGS_PREFIX}{project_id}/{job_id}/{run_id}/"


def state_key(project_id: str, job_id: str) -> str:
    """Where a job's incremental state lives (files already read, by key and ETag, per stream)."""
    return f"{LOGS_PREFIX}{project_id}/{job_id}/state.json"


def empty_stats() -> dict[str, int]:
    return {k: 0 for k in STAT_KEYS}


def _ms_between(start: str | None, end: str) -> int:
    if not start:
        return 0
    a = datetime.fromisoformat(start.replace("Z", "+00:00"))
    b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    return max(0, int((b - a).total_seconds() * 1000))


# ---------------------------------------------------------------- reading


def _runtime(record: RunRecord) -> int:
    """Milliseconds from start to end, or to now while the run has not ended."""
    if record.runtime_ms is not None:
        return int(record.runtime_ms)
    return _ms_between(record.start_time or record.created_at, now_iso())


def to_dict(record: RunRecord) -> dict[str, Any]:
    """The run as every dialect builds on it: the seed's task fields (id, start_time, runtime, status),
    our own, and per-table summaries (its files are read page by page with `run_files`)."""
    return {
        "id": record.run_id,
        "start_time": record.start_time or record.created_at,
        "runtime": _runtime(record),
        "status": record.state,
        "job_id": record.job_id,
        "job_name": record.job_name,
        "state": record.state,
        "trigger": record.trigger,
        "started_by": record.started_by,
        "end_time": record.end_time,
        "runtime_ms": record.runtime_ms,
        "error": record.error,
        "stats": {**empty_stats(), **(record.stats or {})},
        "tables": list(record.tables or []),
    }


def get_run(project_id: str, run_id: str) -> dict[str, Any]:
    """One run of the project; NotFound when it is not the project's."""
    return to_dict(repo.get(project_id, run_id))


def list_runs(
    project_id: str, job_id: str, *, limit: int | None, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The job's runs, newest first, one page."""
    repo.get_job(project_id, job_id)
    page = repo.list_page(project_id, job_id, limit=limit, cursor=cursor)
    return page.fit([to_dict(r) for r in page.records])


def _table_index(record: RunRecord, table: str | None) -> int | None:
    """The index of `table` among the run's tables (None: all of them); a name it lacks is a 400."""
    if table is None:
        return None
    names = [t.get("table_name") for t in record.tables or []]
    if table not in names:
        known = ", ".join(sorted(str(n) for n in names)[:20]) or "none"
        raise Invalid(f"table '{table}' is not a table of this run; its tables: {known}", field="table")
    return names.index(table)


def file_out(f: RunFileRecord) -> dict[str, Any]:
    counts = {k: int(getattr(f, k) or 0) for k in FILE_COUNTS}
    return {
        "file_id": f.file_id,
        "name": f.name,
        "table_name": f.table_name,
        **counts,
        "message": f.message or "",
    }


def run_files(
    project_id: str, job_id: str, run_id: str, *, table: str | None, limit: int | None, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The files a run read (of one table, or all), in table order then reading order; one page."""
    record = repo.get(project_id, run_id)
    if record.job_id != job_id:
        raise NotFound()
    page = repo.files_page(project_id, run_id, _table_index(record, table), limit=limit, cursor=cursor)
    return page.fit([file_out(f) for f in page.records])


def first_files(project_id: str, run_id: str, table_index: int, count: int) -> list[dict[str, Any]]:
    """The first `count` files a run read for one of its tables."""
    return [file_out(f) for f in repo.first_files(project_id, run_id, table_index, count)]


# ---------------------------------------------------------------- starting and cancelling


def project_gone(project_id: str) -> bool:
    """Whether the project was deleted (or never was): nothing of it may run or be written any more."""
    return repo.project_gone(project_id)


def active_runs(project_id: str) -> int:
    """How many of the project's jobs hold a run (queued or running)."""
    return repo.active_count(project_id)


def _check_run_quota(project_id: str) -> None:
    limit = get_settings().max_concurrent_runs_per_project
    if active_runs(project_id) >= limit:
        raise TooManyRequests(
            f"Quota exceeded: a project runs at most {limit} jobs at a time "
            "(max_concurrent_runs_per_project); wait for a run to end"
        )


def _new_record(
    project_id: str, job: JobRecord, run_id: str, *, trigger: str, started_by: str, state: str
) -> RunRecord:
    ts = now_iso()
    return RunRecord(
        *run_key(project_id, run_id),
        gsi1pk=job_runs_key(project_id, job.job_id),
        gsi1sk=f"{ts}#{run_id}",
        gsi2pk=ACTIVE_RUNS,  # until it ends: the sweeper finds it there
        gsi2sk=f"{ts}#{run_id}",
        run_id=run_id,
        project_id=project_id,
        job_id=job.job_id,
        job_name=job.name or "",
        state=state,
        trigger=trigger,
        started_by=started_by,
        created_at=ts,
        start_time=ts,
        stats=empty_stats(),
        tables=[],
    )


def _input(project_id: str, job_id: str, run: RunRecord) -> dict[str, Any]:
    return {
        "job": {"project_id": project_id, "job_id": job_id},
        "run": {"run_id": run.run_id, "trigger": run.trigger, "started_by": run.started_by},
    }


def start_run(project_id: str, job_id: str, *, trigger: str, started_by: str) -> dict[str, Any]:
    """Queue a run of the job and start its execution; Conflict when the job is already running, 429 when the
    project runs its quota of jobs."""
    job = repo.get_job(project_id, job_id)
    if job.current_run_id:
        raise Conflict("job is already running")
    _check_run_quota(project_id)
    run_id = new_run_id()
    repo.claim(project_id, job_id, run_id)
    record = _new_record(project_id, job, run_id, trigger=trigger, started_by=started_by, state="queued")
    try:
        if not repo.insert(record):
            raise Conflict("job is already running")
    except Exception:
        repo.release(project_id, job_id, run_id, None, None)
        raise
    try:
        arn = executions.start(run_id, _input(project_id, job_id, record))
    except Exception as exc:  # noqa: BLE001 - any failure to start: the run fails, the job is free again
        log.warning("run %s could not start: %s", run_id, exc)
        finish_run(project_id, job_id, run_id, "failed", error=f"the run could not start: {exc}")
        return get_run(project_id, run_id)
    repo.set_execution(record, arn)
    return get_run(project_id, run_id)


def cancel_run(project_id: str, job_id: str, *, by: str) -> dict[str, Any]:
    """Stop the job's active run: it ends `cancelled` and commits nothing. Conflict when it is not running
    or already committing (its commit is one step that cannot be undone half way)."""
    job = repo.get_job(project_id, job_id)
    run_id = job.current_run_id
    if not run_id:
        raise Conflict("job is not running")
    try:
        record = repo.get(project_id, run_id)
    except NotFound:
        repo.release(project_id, job_id, run_id, None, None)  # a claim without its run (a crashed start)
        raise Conflict("job is not running") from None
    ended = now_iso()
    repo.mark_cancelled(record, by, ended, _ms_between(record.start_time or record.created_at, ended))
    arn = record.execution_arn or _execution_arn(run_id)
    if arn:
        executions.stop(arn, f"cancelled by {by}")
    repo.release(project_id, job_id, run_id, "cancelled", ended)
    # The run's log gets its "cancelled" event from the workflow function (execution_ended): the API
    # functions only read logs/.
    return get_run(project_id, run_id)


def _execution_arn(run_id: str) -> str | None:
    """The ARN of the execution named `run_id` (a manual run's execution is named by its run id)."""
    arn = get_settings().state_machine_arn
    if not arn:
        return None
    return arn.replace(":stateMachine:", ":execution:") + f":{run_id}"


# ---------------------------------------------------------------- the life cycle the state machine drives


def begin_run(job: dict[str, Any], run: dict[str, Any], execution_arn: str | None) -> dict[str, Any] | None:
    """The run an execution works on, now `running`; None when there is nothing to run (skip).

    A manual run (run_id given) moves queued -> running unless it was cancelled meanwhile. A scheduled
    start (no run_id) claims the job and creates its run, or skips a running, inactive or deleted job, or
    a project at its quota of runs. A run of a deleted project ends cancelled here, before anything is
    written (checked after the claim: a delete that cancelled runs before this claim is seen now).
    """
    project_id, job_id = job["project_id"], job["job_id"]
    if run.get("run_id"):
        record = repo.mark_running(project_id, run["run_id"], execution_arn)
        started = to_dict(record) if record is not None else None
    else:
        started = _begin_scheduled(project_id, job_id, run, execution_arn)
    if started is not None and project_gone(project_id):
        finish_run(project_id, job_id, started["id"], "cancelled", error="the project was deleted")
        return None
    return started


def _begin_scheduled(
    project_id: str, job_id: str, run: dict[str, Any], execution_arn: str | None
) -> dict[str, Any] | None:
    if not execution_arn:
        raise Invalid("a scheduled start needs its execution ARN")
    run_id = scheduled_run_id(execution_arn)
    try:
        job_item = repo.get_job(project_id, job_id)
        if job_item.current_run_id != run_id:  # a retried step holds its claim already
            _check_run_quota(project_id)
        repo.claim(project_id, job_id, run_id, scheduled=True)
    except (NotFound, Conflict, TooManyRequests) as exc:
        log.info("scheduled start of %s/%s skipped: %s", project_id, job_id, exc)
        return None
    record = _new_record(
        project_id,
        job_item,
        run_id,
        trigger=run.get("trigger") or "schedule",
        started_by=run.get("started_by") or "scheduler",
        state="running",
    )
    record.execution_arn = execution_arn
    if not repo.insert(record):
        record = repo.get(project_id, run_id)  # a retried step: the run exists
        if record.state not in ACTIVE:
            return None
    log.info("scheduled run %s created", run_id)
    return to_dict(record)


def is_active(project_id: str, run_id: str) -> bool:
    """Whether the run is still queued or running (units stop early once it is cancelled)."""
    try:
        return repo.get(project_id, run_id).state in ACTIVE
    except NotFound:
        return False


def run_state(project_id: str, run_id: str) -> str | None:
    """The run's state, None when there is no such run."""
    try:
        return repo.get(project_id, run_id).state
    except NotFound:
        return None


def mark_committing(project_id: str, run_id: str) -> bool:
    """Flag the run as committing (a cancel is refused from now on); False when it is no longer running,
    or when its project was deleted (the run then ends cancelled: nothing is written)."""
    if project_gone(project_id):
        try:
            record = repo.get(project_id, run_id)
        except NotFound:
            return False
        finish_run(project_id, record.job_id, run_id, "cancelled", error="the project was deleted")
        return False
    return repo.mark_committing(project_id, run_id)


def _ending(
    record: RunRecord, state: str, ended: str, error: str | None, stats: dict[str, Any] | None
) -> dict[str, Any]:
    """The run's fields as it ends (tables are added by finish_run, after their files are written)."""
    changes: dict[str, Any] = {
        "state": state,
        "end_time": ended,
        "runtime_ms": _ms_between(record.start_time or record.created_at, ended),
    }
    if error:
        changes["error"] = error[:2000]
    if stats is not None:
        changes["stats"] = {**empty_stats(), **stats}
    return changes


def finish_run(
    project_id: str,
    job_id: str,
    run_id: str,
    state: str,
    *,
    error: str | None = None,
    stats: dict[str, Any] | None = None,
    tables: list[dict[str, Any]] | None = None,
) -> bool:
    """End the run in `state` unless it has ended already; release the job. True when this call ended it."""
    if state not in STATES or state in ACTIVE:
        raise ValueError(f"not an end state: {state}")
    try:
        record = repo.get(project_id, run_id)
    except NotFound:
        repo.release(project_id, job_id, run_id, None, None)
        return False
    if record.state not in ACTIVE:
        repo.release(project_id, job_id, run_id, record.state, record.end_time)
        return False
    ended = now_iso()
    changes = _ending(record, state, ended, error, stats)
    if tables is not None:
        # before the run ends: a reader of an ended run sees them all
        repo.save_files(_file_records(project_id, run_id, tables))
        changes["tables"] = [_summary(t) for t in tables]
    if not repo.mark_finished(record, changes):
        repo.release(project_id, job_id, run_id, record.state, record.end_time)
        return False
    repo.release(project_id, job_id, run_id, state, ended)
    return True


def runs_active_since_before(cutoff: str) -> list[dict[str, Any]]:
    """Runs queued or running that started before `cutoff` (ISO time), oldest first: the sweeper's
    candidates, with the ARN their execution has (a manual run's is named by its run id). All of them:
    a cap would let long runs that still execute hide the stuck ones behind them."""
    return [
        {
            "project_id": r.project_id,
            "job_id": r.job_id,
            "run_id": r.run_id,
            "state": r.state,
            "execution_arn": r.execution_arn or _execution_arn(r.run_id),
        }
        for r in repo.active_before(cutoff)
    ]


def describe_execution(execution_arn: str | None) -> dict[str, Any] | None:
    """The execution (status, input, error, cause), None when it does not exist (it never started)."""
    if not execution_arn:
        return None
    return executions.describe(execution_arn)


def _summary(table: dict[str, Any]) -> dict[str, Any]:
    """A table of a run as the run item keeps it: its counts and how many files, not the files."""
    out = {k: v for k, v in table.items() if k != "files"}
    out["file_count"] = len(table.get("files") or [])
    return out


def _file_records(project_id: str, run_id: str, tables: list[dict[str, Any]]) -> list[RunFileRecord]:
    """One item per file the run read. Keys depend only on the table's and the file's place, so a retried
    end writes the same items again."""
    items = []
    for t_index, table in enumerate(tables):
        for n, f in enumerate(table.get("files") or []):
            item = RunFileRecord(
                *RunFileRecord.key(project_id, run_id, t_index, n),
                run_id=run_id,
                table_name=str(table.get("table_name") or ""),
                file_id=str(f.get("file_id") or ""),
                name=f.get("name"),
                message=str(f.get("error") or f.get("message") or "")[:MAX_FILE_MESSAGE] or None,
            )
            for count in FILE_COUNTS:
                setattr(item, count, int(f.get(count) or 0))
            items.append(item)
    return items


def error_message(error: Any) -> str:
    """A readable message from a Step Functions error ({"Error", "Cause"}; Lambda's cause is JSON)."""
    if not isinstance(error, dict):
        return str(error) if error else "the run failed"
    name, cause = error.get("Error") or "Error", error.get("Cause")
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("errorMessage"):
            return f"{parsed.get('errorType') or name}: {parsed['errorMessage']}"
        return f"{name}: {cause}" if cause else name
    return name


# ---------------------------------------------------------------- logs


def event(level: str, message: str, *, stream: str | None = None, file: str | None = None) -> dict:
    """One log event of a run."""
    return {"level": level, "time": now_iso(), "message": message, "stream": stream, "file": file}


def log_events(project_id: str, job_id: str, run_id: str, name: str, events: list[dict]) -> None:
    """Write events as one JSON-lines object; objects sort by time of writing, events within by order."""
    if not events:
        return
    key = f"{run_prefix(project_id, job_id, run_id)}events/{int(time.time() * 1000):013d}-{name}.jsonl"
    logs.write(key, "".join(json.dumps(e, default=str, ensure_ascii=False) + "\n" for e in events))


def _log_position(cursor: str | None, prefix: str) -> tuple[str | None, int]:
    """(the object, the line in it) a logs cursor resumes at; one this service did not issue is a 400."""
    position = decode_cursor(cursor) or {}
    key, line = position.get("k"), position.get("n", 0)
    if (key is not None and not isinstance(key, str)) or not isinstance(line, int) or line < 0:
        raise Invalid("cursor is not valid", field="cursor")
    if key is not None and not key.startswith(prefix):
        raise Invalid("cursor is not valid", field="cursor")
    return key, line


def run_logs(
    project_id: str, job_id: str, run_id: str, *, limit: int | None, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The run's log events in order, one page (at most `limit` events and MAX_PAGE_BYTES of them); the
    cursor names the object and line to resume at."""
    size = page_size(limit)
    record = repo.get(project_id, run_id)
    if record.job_id != job_id:
        raise NotFound()
    prefix = f"{run_prefix(project_id, job_id, run_id)}events/"
    key, line = _log_position(cursor, prefix)
    out: list[dict[str, Any]] = []
    used = 0
    for k in ([key] if key else []) + logs.keys(prefix, key):
        body = logs.read(k)
        if body is None:
            continue
        lines = [ln for ln in body.splitlines() if ln.strip()]
        for i in range(line if k == key else 0, len(lines)):
            item = _log_line(lines[i])
            if item is None:
                continue
            used += json_size(item)
            if len(out) == size or (out and used > MAX_PAGE_BYTES):
                return out, encode_cursor({"k": k, "n": i})
            out.append(item)
    return out, None


def _log_line(text: str) -> dict[str, Any] | None:
    """One log event as answers show it (None for a line that is not an event object)."""
    try:
        item = json.loads(text)
    except ValueError:
        return None
    if not isinstance(item, dict):
        return None
    if item.get("level") not in LOG_LEVELS:
        item["level"] = "INFO"
    for name in ("time", "message"):
        item[name] = str(item.get(name) or "")
    return item
