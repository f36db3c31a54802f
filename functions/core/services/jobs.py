"""Jobs: a source, a destination, the selected streams and a schedule. The rules live here; the job items
are JobRepository's, the schedules ScheduleStore's (repositories/jobs.py), and each dialect's view of a
job is in functions/core/dialects. Runs themselves (start, cancel, list, logs) belong to `services.runs`;
this module authorizes the caller and then calls it.

Decisions: deleting a job whose run is queued or running is a 409 (cancel it first); a job's connectors
given by name are reused when they exist (their type and version must match) and created otherwise;
streams_config is checked against the source's discovered streams.
"""

from __future__ import annotations

import logging
import secrets as token
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..auth import Caller, Role, require_role
from ..connectors import MASK, get_type
from ..errors import Conflict, Invalid, NameTaken, NotFound, TooManyRequests
from ..models import ConnectorCreate, JobCreate, JobUpdate, StreamsRequest
from ..models.jobs import JobConnectorIn, StreamIn, StreamsConfigIn
from ..pagination import page_size
from ..repositories.base import now_iso
from ..repositories.connectors import ConnectorRecord
from ..repositories.jobs import JobRecord, JobRepository, ScheduleStore, job_key
from ..repositories.pages import RecordPage
from ..schedules import MANUAL, normalize_frequency, shortest_interval
from ..settings import get_settings
from . import connectors as connector_svc
from . import runs as runs_svc

log = logging.getLogger(__name__)
Page = tuple[list, str | None]
Connectors = dict[tuple[str, str], ConnectorRecord]
# Destination types that cannot do every destination_sync_mode (the workflow refuses the others).
DESTINATION_SYNC_MODES = {"parquet": ("append", "overwrite")}
# Where jobs and their schedules are stored; unit tests put in-memory ones in their place.
repo = JobRepository()
schedules = ScheduleStore()


@dataclass
class JobDetails:
    """A job with the connectors it names (by kind and id), as the dialects answer it."""

    record: JobRecord
    connectors: Connectors = field(default_factory=dict)


def live_job(project_id: str, job_id: str) -> JobRecord:
    """The live job; NotFound when it is missing or deleted."""
    return repo.get_live(project_id, job_id)


def _details(record: JobRecord) -> JobDetails:
    refs = {("source", record.source_id), ("destination", record.dest_id)}
    return JobDetails(record, repo.connectors(record.project_id, refs))


# ---------------------------------------------------------------- connectors by name


def _within(where: str, fn: Any, *args: Any) -> Any:
    """Call `fn`; a 400 it raises names its field under `where` (`source.config.bucket`)."""
    try:
        return fn(*args)
    except Invalid as exc:
        named = f"{where}.{exc.field}" if exc.field else where
        raise Invalid(f"{where}: {exc.message}", field=named) from None


def _check_existing(kind: str, record: ConnectorRecord, ref: JobConnectorIn) -> None:
    """A connector given by the name of a stored one: its type and version must be the stored ones."""
    if ref.type is not None and ref.type != record.type:
        raise Invalid(
            f"{kind}.type: the {kind} '{record.name}' is of type '{record.type}', not '{ref.type}'",
            field=f"{kind}.type",
        )
    if ref.version is not None:
        wanted = _within(kind, get_type, kind, record.type, ref.version).version
        if wanted != record.type_version:
            raise Invalid(
                f"{kind}.version: the {kind} '{record.name}' has version '{record.type_version}', "
                f"not '{ref.version}'",
                field=f"{kind}.version",
            )


def _resolve(
    project_id: str, kind: str, ref: JobConnectorIn
) -> tuple[ConnectorRecord | None, ConnectorCreate | None]:
    """(the stored connector of that name, or None with the create body of a new one)."""
    record = connector_svc.find_by_name(project_id, kind, ref.name)
    if record is not None:
        _check_existing(kind, record, ref)
        return record, None
    if ref.type is None or ref.config is None:
        raise Invalid(
            f"{kind}: no {kind} named '{ref.name}' exists; give type and config to create it",
            field=f"{kind}.config" if ref.type else f"{kind}.type",
        )
    connector = _within(kind, get_type, kind, ref.type, ref.version or "v1")
    if any(ref.config.get(s) == MASK for s in connector.secrets):
        raise Invalid(f"{kind}.config: send the secret itself, not the mask", field=f"{kind}.config")
    # A bad config is a 400 before anything is written.
    _within(kind, connector.parse, ref.config, connector_svc.check_context(project_id))
    return None, ConnectorCreate(name=ref.name, type=ref.type, version=ref.version or "v1", config=ref.config)


def stored_connector(project_id: str, kind: str, connector_id: str) -> ConnectorRecord:
    """A connector the job names; a 409 when it no longer exists."""
    record = repo.connector(project_id, kind, connector_id)
    if record is None:
        raise Conflict(f"The job's {kind} no longer exists; give another", field=kind)
    return record


def _create_pending(caller: Caller, project_id: str, kind: str, body: ConnectorCreate) -> ConnectorRecord:
    try:
        created = connector_svc.create(caller, project_id, kind, body)
    except Conflict:  # created meanwhile under the same name: use that one
        record = connector_svc.find_by_name(project_id, kind, body.name)
        if record is None:
            raise
        return record
    return stored_connector(project_id, kind, created.id)


# ---------------------------------------------------------------- streams


def _discover(
    caller: Caller, project_id: str, source: ConnectorRecord | None, pending: ConnectorCreate | None
) -> dict[str, Any]:
    if source is not None:
        req = StreamsRequest(source_id=source.connector_id)
    else:
        assert pending is not None
        req = StreamsRequest(type=pending.type, version=pending.version, config=pending.config)
    return _within("source", connector_svc.discover_streams, caller, project_id, req)


def _stream_item(d: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    item = {
        "stream_name": d["stream_name"],
        "namespace": d.get("namespace"),
        "columns": [{"name": c["name"], "type": c["type"]} for c in d.get("columns", [])],
        "selected": d.get("selected", True),
        "sync_mode": d.get("sync_mode", "full_refresh"),
        "destination_sync_mode": d.get("destination_sync_mode", "append"),
        "primary_key": list(d.get("primary_key") or []),
        "cursor_field": d.get("cursor_field"),
    }
    item.update(overrides)
    return item


def validate_streams(
    given: StreamsConfigIn | None, discovered: dict[str, Any], dest_type: str | None = None
) -> dict[str, Any]:
    """The job's streams_config, checked against the source's streams and what the destination can do
    (each error names its field)."""
    found = {s["stream_name"]: s for s in discovered.get("streams", [])}
    if given is None:
        return {"streams": [_stream_item(s) for s in found.values()]}
    out: list[dict[str, Any]] = []
    for i, s in enumerate(given.streams):
        at = f"streams_config.streams.{i}"
        d = _discovered_stream(s, found, at, {o["stream_name"] for o in out})
        _check_columns(s, d, at)
        _check_sync_mode(s.sync_mode, d, dest_type, at)
        _check_destination_mode(s, dest_type, at)
        out.append(
            _stream_item(
                d,
                selected=s.selected,
                sync_mode=s.sync_mode,
                destination_sync_mode=s.destination_sync_mode,
                primary_key=list(s.primary_key),
                cursor_field=s.cursor_field,
            )
        )
    if not any(s["selected"] for s in out):
        raise Invalid("streams_config.streams: select at least one stream", field="streams_config.streams")
    return {"streams": out}


def _discovered_stream(s: StreamIn, found: dict[str, Any], at: str, seen: set[str]) -> dict[str, Any]:
    """The source's stream that `s` names, once, in its namespace."""
    d = found.get(s.stream_name)
    if d is None:
        known = ", ".join(sorted(found)[:20]) or "none"
        raise Invalid(
            f"{at}.stream_name: unknown stream '{s.stream_name}'; the source has: {known}",
            field=f"{at}.stream_name",
        )
    if s.stream_name in seen:
        raise Invalid(
            f"{at}.stream_name: stream '{s.stream_name}' is listed twice", field=f"{at}.stream_name"
        )
    if s.namespace and s.namespace != d.get("namespace"):
        raise Invalid(
            f"{at}.namespace: stream '{s.stream_name}' is in namespace '{d.get('namespace')}'",
            field=f"{at}.namespace",
        )
    return d


def _check_columns(s: StreamIn, discovered: dict[str, Any], at: str) -> None:
    """The primary key and the cursor are columns of the stream; an incremental sync has a cursor."""
    columns = {c["name"] for c in discovered.get("columns", [])}
    for k, pk in enumerate(s.primary_key):
        if pk not in columns:
            raise Invalid(
                f"{at}.primary_key.{k}: '{pk}' is not a column of stream '{s.stream_name}'",
                field=f"{at}.primary_key.{k}",
            )
    if s.cursor_field is not None and s.cursor_field not in columns:
        raise Invalid(
            f"{at}.cursor_field: '{s.cursor_field}' is not a column of stream '{s.stream_name}'",
            field=f"{at}.cursor_field",
        )
    if s.sync_mode == "incremental" and not s.cursor_field:
        raise Invalid(f"{at}.cursor_field: incremental sync needs a cursor_field", field=f"{at}.cursor_field")


def _check_sync_mode(sync_mode: str, discovered: dict[str, Any], dest_type: str | None, at: str) -> None:
    """The stream's sync_mode is one its source supports; cdc applies changes by key into Iceberg."""
    supported = discovered.get("supported_sync_modes") or ["full_refresh", "incremental"]
    if sync_mode not in supported:
        raise Invalid(
            f"{at}.sync_mode: stream '{discovered['stream_name']}' supports {', '.join(supported)}",
            field=f"{at}.sync_mode",
        )
    if sync_mode == "cdc" and dest_type not in (None, "iceberg"):
        raise Invalid(
            f"{at}.sync_mode: cdc applies changes by key, which a {dest_type} destination cannot; use iceberg",
            field=f"{at}.sync_mode",
        )


def _check_destination_mode(s: StreamIn, dest_type: str | None, at: str) -> None:
    """The destination can write the stream's destination_sync_mode; upsert needs a key."""
    modes = DESTINATION_SYNC_MODES.get(dest_type or "")
    if modes is not None and s.destination_sync_mode not in modes:
        raise Invalid(
            f"{at}.destination_sync_mode: a {dest_type} destination supports {', '.join(modes)}",
            field=f"{at}.destination_sync_mode",
        )
    if s.destination_sync_mode == "upsert" and not s.primary_key:
        raise Invalid(f"{at}.primary_key: upsert needs a primary_key", field=f"{at}.primary_key")


def _reads_changes(streams: dict[str, Any] | None) -> bool:
    """Whether a streams_config selects a stream in cdc mode."""
    return any(
        s.get("selected", True) and s.get("sync_mode") == "cdc" for s in (streams or {}).get("streams", [])
    )


def _check_slot_free(
    project_id: str, source_id: str | None, streams: dict[str, Any] | None, job_id: str = ""
) -> None:
    """One cdc job per source: the source's replication slot has one reader. A second job advancing the
    slot would move it past the first job's saved position, and every next run of the first would fail
    asking for a full refresh."""
    if source_id is None or not _reads_changes(streams):
        return
    for other in repo.using_connector(project_id, source_id):
        if other.job_id != job_id and _reads_changes(other.streams_config):
            raise Conflict(
                f"streams_config: job '{other.name}' already reads this source's changes (cdc) from its"
                " replication slot; a slot has one reader: sync these streams in that job, or give this"
                " job a source with its own replication_slot",
                field="streams_config",
            )


def _schedule_expression(frequency: str) -> str:
    """The EventBridge expression of a frequency this environment allows (its minimum interval, API4)."""
    try:
        expression = normalize_frequency(frequency)
    except ValueError as exc:
        raise Invalid(f"frequency: {exc}", field="frequency") from None
    minimum = get_settings().min_schedule_interval_minutes
    shortest = shortest_interval(expression)
    if shortest is not None and shortest < timedelta(minutes=minimum):
        every = int(shortest.total_seconds() // 60)
        raise Invalid(
            f"frequency: runs every {every} minute(s); this environment's minimum interval is {minimum} "
            f"minutes (min_schedule_interval_minutes)",
            field="frequency",
        )
    return expression


# ---------------------------------------------------------------- schedules


def schedule_name(project_id: str, job_id: str) -> str:
    """The job's schedule in the environment's group (at most 64 characters)."""
    return f"job-{project_id}-{job_id}"[:64]


def sync_schedule(record: JobRecord) -> None:
    """Make the job's schedule match it: present for an active, scheduled, live job; absent otherwise."""
    name = schedule_name(record.project_id, record.job_id)
    if not record.activate or record.schedule_expression == MANUAL or record.deleted_at:
        schedules.remove(name)
        return
    payload = {
        "job": {"project_id": record.project_id, "job_id": record.job_id},
        "run": {"trigger": "schedule"},
    }
    description = f"ingestplane job {record.job_id} of project {record.project_id}"
    schedules.put(name, record.schedule_expression, payload, description)


# ---------------------------------------------------------------- CRUD


def _check_name_free(project_id: str, name: str, job_id: str | None = None) -> None:
    if repo.name_owner(project_id, name) not in (None, job_id):
        raise NameTaken(f"A job named '{name}' already exists", field="name")


def _check_job_quota(project_id: str) -> None:
    """429 when the project has its quota of live jobs."""
    limit = get_settings().max_jobs_per_project
    if repo.count(project_id) >= limit:
        raise TooManyRequests(
            f"Quota exceeded: a project has at most {limit} jobs (max_jobs_per_project); delete one first"
        )


def create_job(caller: Caller, project_id: str, body: JobCreate) -> JobDetails:
    """A new job; its connectors are found by name (or created), its streams checked, its schedule made."""
    require_role(caller, project_id, Role.editor)
    _check_name_free(project_id, body.name)
    _check_job_quota(project_id)
    expression = _schedule_expression(body.frequency)
    source, new_source = _resolve(project_id, "source", body.source)
    dest, new_dest = _resolve(project_id, "destination", body.destination)
    dest_type = dest.type if dest is not None else new_dest.type if new_dest is not None else None
    streams = validate_streams(
        body.streams_config, _discover(caller, project_id, source, new_source), dest_type
    )
    _check_slot_free(project_id, source.connector_id if source is not None else None, streams)
    if new_source is not None:
        source = _create_pending(caller, project_id, "source", new_source)
    if new_dest is not None:
        dest = _create_pending(caller, project_id, "destination", new_dest)
    assert source is not None and dest is not None
    job_id, ts = token.token_hex(8), now_iso()
    record = JobRecord(
        *job_key(project_id, job_id), project_id=project_id, job_id=job_id, name=body.name,
        source_id=source.connector_id, dest_id=dest.connector_id, streams_config=streams,
        activate=body.activate, frequency=body.frequency, schedule_expression=expression,
        created_by=caller.username, updated_by=caller.username, created_at=ts, updated_at=ts,
    )  # fmt: skip
    repo.create_with_claim(record)
    sync_schedule(record)
    return JobDetails(
        record, {("source", source.connector_id): source, ("destination", dest.connector_id): dest}
    )


def get_job(caller: Caller, project_id: str, job_id: str) -> JobDetails:
    require_role(caller, project_id, Role.viewer)
    return _details(live_job(project_id, job_id))


def list_jobs(
    caller: Caller,
    project_id: str,
    source_id: str | None,
    dest_id: str | None,
    limit: int | None,
    cursor: str | None,
) -> tuple[RecordPage, Connectors]:
    """The project's live jobs in id order, optionally those of one source and/or one destination, with
    the connectors they name."""
    require_role(caller, project_id, Role.viewer)
    page = repo.list_page(project_id, source_id=source_id, dest_id=dest_id, limit=limit, cursor=cursor)
    refs = {("source", r.source_id) for r in page.records} | {
        ("destination", r.dest_id) for r in page.records
    }
    return page, repo.connectors(project_id, refs)


@dataclass
class _Connectors:
    """A job update's connectors: stored ones, or new ones to create once the update is valid."""

    source: ConnectorRecord | None = None
    dest: ConnectorRecord | None = None
    new_source: ConnectorCreate | None = None
    new_dest: ConnectorCreate | None = None

    def changed(self, record: JobRecord) -> bool:
        moved_source = self.source is not None and self.source.connector_id != record.source_id
        moved_dest = self.dest is not None and self.dest.connector_id != record.dest_id
        return self.new_source is not None or self.new_dest is not None or moved_source or moved_dest


def _update_connectors(project_id: str, body: JobUpdate) -> _Connectors:
    out = _Connectors()
    if body.source is not None:
        out.source, out.new_source = _resolve(project_id, "source", body.source)
    if body.destination is not None:
        out.dest, out.new_dest = _resolve(project_id, "destination", body.destination)
    return out


def _updated_streams(
    caller: Caller, record: JobRecord, body: JobUpdate, c: _Connectors
) -> dict[str, Any] | None:
    """The job's streams checked again when they or its connectors change; None when they stay."""
    if body.streams_config is None and not c.changed(record):
        return None
    project_id = record.project_id
    if c.source is None and c.new_source is None:
        c.source = stored_connector(project_id, "source", record.source_id)
    if c.dest is None and c.new_dest is None:
        c.dest = stored_connector(project_id, "destination", record.dest_id)
    dest_type = c.new_dest.type if c.new_dest is not None else c.dest.type if c.dest is not None else None
    given = body.streams_config or StreamsConfigIn.model_validate(record.streams_config or {"streams": []})
    return validate_streams(given, _discover(caller, project_id, c.source, c.new_source), dest_type)


def _update_changes(caller: Caller, record: JobRecord, body: JobUpdate) -> dict[str, Any]:
    """The job's attributes an update writes (every field but activate is written, as it was read)."""
    if body.name is not None and body.name.casefold() != record.name.casefold():
        _check_name_free(record.project_id, body.name, record.job_id)
    expression = (
        record.schedule_expression if body.frequency is None else _schedule_expression(body.frequency)
    )
    c = _update_connectors(record.project_id, body)
    streams = _updated_streams(caller, record, body, c)
    if c.new_source is None:  # a source made by this update is read by no other job
        source_id = c.source.connector_id if c.source is not None else record.source_id
        after = streams if streams is not None else record.streams_config
        _check_slot_free(record.project_id, source_id, after, record.job_id)
    if c.new_source is not None:
        c.source = _create_pending(caller, record.project_id, "source", c.new_source)
    if c.new_dest is not None:
        c.dest = _create_pending(caller, record.project_id, "destination", c.new_dest)
    changes: dict[str, Any] = {
        "name": body.name if body.name is not None else record.name,
        "source_id": c.source.connector_id if c.source is not None else record.source_id,
        "dest_id": c.dest.connector_id if c.dest is not None else record.dest_id,
        "streams_config": streams if streams is not None else record.streams_config,
        "frequency": body.frequency if body.frequency is not None else record.frequency,
        "schedule_expression": expression,
        "updated_by": caller.username,
        "updated_at": now_iso(),
    }
    if body.activate is not None:
        changes["activate"] = body.activate
    return changes


def update_job(caller: Caller, project_id: str, job_id: str, body: JobUpdate) -> JobDetails:
    """Change any of name, connectors, streams, frequency, activate; the schedule follows."""
    require_role(caller, project_id, Role.editor)
    if all(value is None for _, value in body):
        raise Invalid(
            "Nothing to update: give name, source, destination, streams_config, frequency or activate",
            field="body",
        )
    record = live_job(project_id, job_id)
    repo.save_changes(record, _update_changes(caller, record, body))
    fresh = live_job(project_id, job_id)
    sync_schedule(fresh)
    return _details(fresh)


def delete_job(caller: Caller, project_id: str, job_id: str) -> str:
    """Soft delete: frees the name and the connectors, removes the schedule; 409 while a run is active.
    The deleted job's name."""
    require_role(caller, project_id, Role.editor)
    record = live_job(project_id, job_id)
    if record.current_run_id:  # a run holds the job while it is queued or running
        raise Conflict("The job is running; cancel it first")
    repo.mark_deleted(record, caller.username)
    sync_schedule(record)
    return record.name


def set_active(caller: Caller, project_id: str, job_id: str, activate: bool) -> JobDetails:
    """Activate (schedule on) or deactivate (schedule off) a job."""
    require_role(caller, project_id, Role.editor)
    activate_job(live_job(project_id, job_id), activate, caller.username)
    return _details(live_job(project_id, job_id))


def activate_job(record: JobRecord, activate: bool, by: str) -> None:
    """Turn the job's schedule on or off (409 when the job changed since `record` was read)."""
    repo.set_active(record, activate, by)
    record.activate = activate
    sync_schedule(record)


def stop_project(project_id: str, *, by: str) -> None:
    """A deleted project stops (docs/security.md): each live job is deactivated (its schedule removed)
    and its active run cancelled. A run that is already committing finishes its commit."""
    for record in repo.live_jobs(project_id):
        try:
            activate_job(record, False, by)
        except Conflict:
            record.activate = False
            sync_schedule(record)  # changed meanwhile: its schedule goes all the same
        if record.current_run_id:
            try:
                runs_svc.cancel_run(project_id, record.job_id, by=by)
            except (Conflict, NotFound) as exc:
                log.info(
                    "project %s deleted: run of job %s not cancelled: %s", project_id, record.job_id, exc
                )


# ---------------------------------------------------------------- runs, through services.runs


def check_source(record: JobRecord) -> None:
    """A 400 before a run starts when the job's source may no longer be read (docs/security.md: e.g. a
    bucket the environment stopped sharing, a source stored before the rule)."""
    try:
        _within("source", connector_svc.parsed_config, record.project_id, "source", record.source_id)
    except NotFound:
        raise Conflict("The job's source no longer exists; give another", field="source") from None


def sync_now(caller: Caller, project_id: str, job_id: str) -> dict[str, Any]:
    require_role(caller, project_id, Role.editor)
    check_source(live_job(project_id, job_id))
    return runs_svc.start_run(project_id, job_id, trigger="manual", started_by=caller.username)


def cancel(caller: Caller, project_id: str, job_id: str) -> dict[str, Any]:
    require_role(caller, project_id, Role.editor)
    live_job(project_id, job_id)
    return runs_svc.cancel_run(project_id, job_id, by=caller.username)


def list_tasks(caller: Caller, project_id: str, job_id: str, limit: int | None, cursor: str | None) -> Page:
    require_role(caller, project_id, Role.viewer)
    live_job(project_id, job_id)
    return runs_svc.list_runs(project_id, job_id, limit=page_size(limit), cursor=cursor)


def task_logs(
    caller: Caller, project_id: str, job_id: str, run_id: str, limit: int | None, cursor: str | None
) -> Page:
    require_role(caller, project_id, Role.viewer)
    live_job(project_id, job_id)
    return runs_svc.run_logs(project_id, job_id, run_id, limit=page_size(limit), cursor=cursor)


def task_files(
    caller: Caller,
    project_id: str,
    job_id: str,
    run_id: str,
    table: str | None,
    limit: int | None,
    cursor: str | None,
) -> Page:
    require_role(caller, project_id, Role.viewer)
    live_job(project_id, job_id)
    return runs_svc.run_files(project_id, job_id, run_id, table=table, limit=limit, cursor=cursor)


# ---------------------------------------------------------------- a job by name among the caller's projects


def _caller_projects(caller: Caller) -> list[str]:
    if not caller.is_user:
        return [caller.project_id] if caller.project_id else []
    return repo.member_projects(caller.username)


def find_by_name(caller: Caller, name: str, project_name: str | None) -> JobRecord:
    """The job a name means among the caller's projects (projectName narrows it; a name in two of them
    without projectName is a 400)."""
    claims = repo.named_in(_caller_projects(caller), name)
    live = repo.live_project_names(list(claims))
    if project_name:
        live = {pid: n for pid, n in live.items() if n.casefold() == project_name.casefold()}
    claims = {pid: jid for pid, jid in claims.items() if pid in live}
    if not claims:
        where = f" in project '{project_name}'" if project_name else ""
        raise NotFound(f"Application '{name}' not found{where}")
    if len(claims) > 1:
        raise Invalid(
            f"Application name '{name}' exists in {len(claims)} of your projects; give projectName",
            field="projectName",
        )
    ((pid, jid),) = claims.items()
    return live_job(pid, jid)
