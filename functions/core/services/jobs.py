"""Jobs: a source, a destination, the selected streams and a schedule; their EventBridge Scheduler
schedules; and the two dialects that see a job as an application (Gathr) or its runs as ingest jobs
(Amperity). Runs themselves (start, cancel, list, logs) belong to `services.runs`; this module
authorizes the caller and then calls it.

Decisions: deleting a job whose run is queued or running is a 409 (cancel it first); a job's connectors
given by name are reused when they exist (their type and version must match) and created otherwise;
streams_config is checked against the source's discovered streams.
"""

from __future__ import annotations

import json
import logging
import secrets as token
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from .. import aws
from ..auth import Caller, Role, require_role
from ..connectors import MASK, get_type
from ..constants import INGEST_FILES_PER_TABLE, MAX_PAGE_BYTES
from ..dialects import json_size
from ..errors import Conflict, Forbidden, Invalid, NotFound, TooManyRequests
from ..models import ConnectorCreate, ConnectorUpdate, JobCreate, JobOut, JobUpdate, StreamsRequest
from ..models.jobs import JobConnectorIn, JobConnectorOut, JobStreamsOut, StreamsConfigIn
from ..pagination import fit_page, page_size, query_page
from ..repositories.base import condition_failed, connection, now_iso
from ..repositories.connectors import ConnectorRecord, connector_key
from ..repositories.jobs import (
    ENTITY,
    JOB_PREFIX,
    JobNameClaim,
    JobRecord,
    job_key,
    job_reference_items,
)
from ..repositories.projects import MemberRecord, ProjectRecord, project_pk
from ..schedules import MANUAL, normalize_frequency, shortest_interval
from ..settings import get_settings
from . import connectors as connector_svc
from . import runs as runs_svc

log = logging.getLogger(__name__)
Page = tuple[list, str | None]
# Destination types that cannot do every destination_sync_mode (the workflow refuses the others).
DESTINATION_SYNC_MODES = {"parquet": ("append", "overwrite")}
KIND_FIELD = {"source": "source", "destination": "destination"}


def _runs() -> Any:
    """The runs service (start, cancel, list, logs); one seam, so tests can stand in for it."""
    return runs_svc


# ---------------------------------------------------------------- reading


def _live_job(project_id: str, job_id: str) -> JobRecord:
    if not job_id or len(job_id) > 64:
        raise NotFound()
    try:
        record = JobRecord.get(*job_key(project_id, job_id), consistent_read=True)
    except DoesNotExist:
        raise NotFound() from None
    if record.deleted_at or record.entity != ENTITY:
        raise NotFound()
    return record


def _connector_refs(project_id: str, records: list[JobRecord]) -> dict[tuple[str, str], ConnectorRecord]:
    keys = {("source", r.source_id) for r in records} | {("destination", r.dest_id) for r in records}
    if not keys:
        return {}
    found = ConnectorRecord.batch_get([connector_key(project_id, kind, cid) for kind, cid in keys])
    return {(c.kind, c.connector_id): c for c in found}


def _connector_out(kind: str, cid: str, found: dict[tuple[str, str], ConnectorRecord]) -> JobConnectorOut:
    c = found.get((kind, cid))
    if c is None:
        return JobConnectorOut(id=cid, name="")
    return JobConnectorOut(
        id=cid, name=c.name, type=c.type, version=c.type_version, config=connector_svc.masked_config(c)
    )


def _out(record: JobRecord, found: dict[tuple[str, str], ConnectorRecord] | None = None) -> JobOut:
    if found is None:
        found = _connector_refs(record.project_id, [record])
    return JobOut(
        id=record.job_id,
        name=record.name,
        source=_connector_out("source", record.source_id, found),
        destination=_connector_out("destination", record.dest_id, found),
        streams_config=JobStreamsOut.model_validate(record.streams_config or {"streams": []}),
        frequency=record.frequency,
        schedule_expression=record.schedule_expression,
        activate=bool(record.activate),
        current_run_id=record.current_run_id,
        last_run_id=record.last_run_id,
        last_run_time=record.last_run_time,
        last_run_state=record.last_run_state,
        created_by=record.created_by,
        updated_by=record.updated_by,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _is_running(record: JobRecord) -> bool:
    """A run holds the job (the runs family sets current_run_id while a run is queued or running)."""
    return bool(record.current_run_id)


# ---------------------------------------------------------------- connectors by name


def _within(where: str, fn: Any, *args: Any) -> Any:
    """Call `fn`; a 400 it raises names its field under `where` (`source.config.bucket`)."""
    try:
        return fn(*args)
    except Invalid as exc:
        field = f"{where}.{exc.field}" if exc.field else where
        raise Invalid(f"{where}: {exc.message}", field=field) from None


def _resolve(
    project_id: str, kind: str, ref: JobConnectorIn
) -> tuple[ConnectorRecord | None, ConnectorCreate | None]:
    """(the stored connector of that name, or None with the create body of a new one)."""
    where = KIND_FIELD[kind]
    record = connector_svc.find_by_name(project_id, kind, ref.name)
    if record is not None:
        if ref.type is not None and ref.type != record.type:
            raise Invalid(
                f"{where}.type: the {kind} '{record.name}' is of type '{record.type}', not '{ref.type}'",
                field=f"{where}.type",
            )
        if ref.version is not None:
            wanted = _within(where, get_type, kind, record.type, ref.version).version
            if wanted != record.type_version:
                raise Invalid(
                    f"{where}.version: the {kind} '{record.name}' has version '{record.type_version}', "
                    f"not '{ref.version}'",
                    field=f"{where}.version",
                )
        return record, None
    if ref.type is None or ref.config is None:
        raise Invalid(
            f"{where}: no {kind} named '{ref.name}' exists; give type and config to create it",
            field=f"{where}.config" if ref.type else f"{where}.type",
        )
    connector = _within(where, get_type, kind, ref.type, ref.version or "v1")
    if any(ref.config.get(s) == MASK for s in connector.secrets):
        raise Invalid(f"{where}.config: send the secret itself, not the mask", field=f"{where}.config")
    # A bad config is a 400 before anything is written.
    _within(where, connector.parse, ref.config, connector_svc.check_context(project_id))
    return None, ConnectorCreate(name=ref.name, type=ref.type, version=ref.version or "v1", config=ref.config)


def _stored_connector(project_id: str, kind: str, connector_id: str) -> ConnectorRecord:
    try:
        return ConnectorRecord.get(*connector_key(project_id, kind, connector_id))
    except DoesNotExist:
        raise Conflict(f"The job's {kind} no longer exists; give another", field=kind) from None


def _create_pending(caller: Caller, project_id: str, kind: str, body: ConnectorCreate) -> ConnectorRecord:
    try:
        created = connector_svc.create(caller, project_id, kind, body)
    except Conflict:  # created meanwhile under the same name: use that one
        record = connector_svc.find_by_name(project_id, kind, body.name)
        if record is None:
            raise
        return record
    return ConnectorRecord.get(*connector_key(project_id, kind, created.id))


# ---------------------------------------------------------------- streams


def _discover(
    caller: Caller, project_id: str, source: ConnectorRecord | None, pending: ConnectorCreate | None
) -> dict[str, Any]:
    if source is not None:
        req = StreamsRequest(source_id=source.connector_id)
    else:
        assert pending is not None
        req = StreamsRequest(type=pending.type, version=pending.version, config=pending.config)
    try:
        return connector_svc.discover_streams(caller, project_id, req)
    except Invalid as exc:
        field = f"source.{exc.field}" if exc.field else "source"
        raise Invalid(f"source: {exc.message}", field=field) from None


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
    modes = DESTINATION_SYNC_MODES.get(dest_type or "")
    out, seen = [], set()
    for i, s in enumerate(given.streams):
        at = f"streams_config.streams.{i}"
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
        seen.add(s.stream_name)
        if s.namespace and s.namespace != d.get("namespace"):
            raise Invalid(
                f"{at}.namespace: stream '{s.stream_name}' is in namespace '{d.get('namespace')}'",
                field=f"{at}.namespace",
            )
        columns = {c["name"] for c in d.get("columns", [])}
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
            raise Invalid(
                f"{at}.cursor_field: incremental sync needs a cursor_field", field=f"{at}.cursor_field"
            )
        _check_sync_mode(s.sync_mode, d, dest_type, at)
        if modes is not None and s.destination_sync_mode not in modes:
            raise Invalid(
                f"{at}.destination_sync_mode: a {dest_type} destination supports {', '.join(modes)}",
                field=f"{at}.destination_sync_mode",
            )
        if s.destination_sync_mode == "upsert" and not s.primary_key:
            raise Invalid(f"{at}.primary_key: upsert needs a primary_key", field=f"{at}.primary_key")
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


def _recheck_stored(stored: dict[str, Any]) -> StreamsConfigIn:
    return StreamsConfigIn.model_validate(stored or {"streams": []})


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


def _scheduler() -> Any:
    return aws.client("scheduler")


def sync_schedule(record: JobRecord) -> None:
    """Make the job's schedule match it: present for an active, scheduled, live job; absent otherwise."""
    settings = get_settings()
    name = schedule_name(record.project_id, record.job_id)
    wanted = bool(record.activate) and record.schedule_expression != MANUAL and not record.deleted_at
    if not settings.scheduler_group:
        log.warning("no SCHEDULER_GROUP: schedule %s not managed", name)
        return
    if not wanted:
        try:
            _scheduler().delete_schedule(Name=name, GroupName=settings.scheduler_group)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        return
    payload = {
        "job": {"project_id": record.project_id, "job_id": record.job_id},
        "run": {"trigger": "schedule"},
    }
    params = {
        "Name": name,
        "GroupName": settings.scheduler_group,
        "ScheduleExpression": record.schedule_expression,
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Description": f"ingestplane job {record.job_id} of project {record.project_id}",
        "Target": {
            "Arn": settings.state_machine_arn,
            "RoleArn": settings.scheduler_role_arn,
            "Input": json.dumps(payload, separators=(",", ":")),
        },
    }
    try:
        _scheduler().update_schedule(**params)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        _scheduler().create_schedule(**params)


# ---------------------------------------------------------------- CRUD


def _live_condition(kind: str, cid: str, project_id: str, tx: TransactWrite) -> None:
    tx.condition_check(
        ConnectorRecord,
        *connector_key(project_id, kind, cid),
        condition=ConnectorRecord.pk.exists() & ConnectorRecord.deleted_at.does_not_exist(),
    )


def _name_taken(project_id: str, name: str, job_id: str | None = None) -> bool:
    try:
        claim = JobNameClaim.get(*JobNameClaim.key(project_id, name))
    except DoesNotExist:
        return False
    return claim.job_id != job_id


def _connectors_gone(project_id: str, source_id: str, dest_id: str) -> str | None:
    for kind, cid in (("source", source_id), ("destination", dest_id)):
        try:
            record = ConnectorRecord.get(*connector_key(project_id, kind, cid))
        except DoesNotExist:
            return kind
        if record.deleted_at:
            return kind
    return None


def _check_job_quota(project_id: str) -> None:
    """429 when the project has its quota of live jobs (each live job holds one name claim)."""
    limit = get_settings().max_jobs_per_project
    if JobNameClaim.count(project_pk(project_id), JobNameClaim.sk.startswith("JOBNAME#")) >= limit:
        raise TooManyRequests(
            f"Quota exceeded: a project has at most {limit} jobs (max_jobs_per_project); delete one first"
        )


def create_job(caller: Caller, project_id: str, body: JobCreate) -> JobOut:
    """A new job; its connectors are found by name (or created), its streams checked, its schedule made."""
    require_role(caller, project_id, Role.editor)
    if _name_taken(project_id, body.name):
        raise Conflict(f"A job named '{body.name}' already exists", field="name")
    _check_job_quota(project_id)
    expression = _schedule_expression(body.frequency)
    source, new_source = _resolve(project_id, "source", body.source)
    dest, new_dest = _resolve(project_id, "destination", body.destination)
    dest_type = dest.type if dest is not None else new_dest.type if new_dest is not None else None
    streams = validate_streams(
        body.streams_config, _discover(caller, project_id, source, new_source), dest_type
    )
    if new_source is not None:
        source = _create_pending(caller, project_id, "source", new_source)
    if new_dest is not None:
        dest = _create_pending(caller, project_id, "destination", new_dest)
    assert source is not None and dest is not None
    job_id = token.token_hex(8)
    ts = now_iso()
    record = JobRecord(
        *job_key(project_id, job_id),
        project_id=project_id,
        job_id=job_id,
        name=body.name,
        source_id=source.connector_id,
        dest_id=dest.connector_id,
        streams_config=streams,
        activate=body.activate,
        frequency=body.frequency,
        schedule_expression=expression,
        created_by=caller.username,
        updated_by=caller.username,
        created_at=ts,
        updated_at=ts,
    )
    claim = JobNameClaim(*JobNameClaim.key(project_id, body.name), job_id=job_id)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(claim, condition=JobNameClaim.pk.does_not_exist())
            tx.save(record, condition=JobRecord.pk.does_not_exist())
            for ref in job_reference_items(project_id, job_id, source.connector_id, dest.connector_id):
                tx.save(ref)
            _live_condition("source", source.connector_id, project_id, tx)
            _live_condition("destination", dest.connector_id, project_id, tx)
    except TransactWriteError:
        gone = _connectors_gone(project_id, source.connector_id, dest.connector_id)
        if gone:
            raise Conflict(f"The {gone} was deleted meanwhile; try again", field=gone) from None
        raise Conflict(f"A job named '{body.name}' already exists", field="name") from None
    sync_schedule(record)
    return _out(record, {("source", source.connector_id): source, ("destination", dest.connector_id): dest})


def get_job(caller: Caller, project_id: str, job_id: str) -> JobOut:
    require_role(caller, project_id, Role.viewer)
    return _out(_live_job(project_id, job_id))


def list_jobs(
    caller: Caller,
    project_id: str,
    source_id: str | None,
    dest_id: str | None,
    limit: int | None,
    cursor: str | None,
) -> Page:
    """The project's live jobs in id order, optionally those of one source and/or one destination."""
    require_role(caller, project_id, Role.viewer)
    condition = (JobRecord.entity == ENTITY) & JobRecord.deleted_at.does_not_exist()
    if source_id:
        condition &= JobRecord.source_id == source_id
    if dest_id:
        condition &= JobRecord.dest_id == dest_id
    records, next_cursor = query_page(
        JobRecord.query, project_pk(project_id), JobRecord.sk.startswith(JOB_PREFIX),
        limit=limit, cursor=cursor, filter_condition=condition,
    )  # fmt: skip
    records = [r for r in records if r.sk.count("#") == 1]
    found = _connector_refs(project_id, records)
    return fit_page(JobRecord.query, records, [_out(r, found) for r in records], next_cursor)


def _refs_changes(
    tx: TransactWrite, project_id: str, job_id: str, old: tuple[str, str], new: tuple[str, str]
) -> None:
    new_items = job_reference_items(project_id, job_id, *new)
    old_items = job_reference_items(project_id, job_id, *old)
    for kind, o, n, old_item, new_item in zip(
        ("source", "destination"), old, new, old_items, new_items, strict=True
    ):
        if o == n:
            continue
        tx.delete(old_item)
        tx.save(new_item)
        _live_condition(kind, n, project_id, tx)


def update_job(caller: Caller, project_id: str, job_id: str, body: JobUpdate) -> JobOut:
    """Change any of name, connectors, streams, frequency, activate; the schedule follows."""
    require_role(caller, project_id, Role.editor)
    if all(value is None for _, value in body):
        raise Invalid(
            "Nothing to update: give name, source, destination, streams_config, frequency or activate",
            field="body",
        )
    record = _live_job(project_id, job_id)
    new_name = body.name if body.name is not None else record.name
    renamed = new_name.casefold() != record.name.casefold()
    if renamed and _name_taken(project_id, new_name, job_id):
        raise Conflict(f"A job named '{new_name}' already exists", field="name")
    frequency = record.frequency
    expression = record.schedule_expression
    if body.frequency is not None:
        frequency, expression = body.frequency, _schedule_expression(body.frequency)
    source: ConnectorRecord | None = None
    dest: ConnectorRecord | None = None
    new_source = new_dest = None
    if body.source is not None:
        source, new_source = _resolve(project_id, "source", body.source)
    if body.destination is not None:
        dest, new_dest = _resolve(project_id, "destination", body.destination)
    source_changed = new_source is not None or (
        source is not None and source.connector_id != record.source_id
    )
    dest_changed = new_dest is not None or (dest is not None and dest.connector_id != record.dest_id)
    streams = record.streams_config
    if body.streams_config is not None or source_changed or dest_changed:
        if source is None and new_source is None:
            source = _stored_connector(project_id, "source", record.source_id)
        if dest is None and new_dest is None:
            dest = _stored_connector(project_id, "destination", record.dest_id)
        dest_type = new_dest.type if new_dest is not None else dest.type if dest is not None else None
        given = (
            body.streams_config if body.streams_config is not None else _recheck_stored(record.streams_config)
        )
        streams = validate_streams(given, _discover(caller, project_id, source, new_source), dest_type)
    if new_source is not None:
        source = _create_pending(caller, project_id, "source", new_source)
    if new_dest is not None:
        dest = _create_pending(caller, project_id, "destination", new_dest)
    source_id = source.connector_id if source is not None else record.source_id
    dest_id = dest.connector_id if dest is not None else record.dest_id
    actions: list[Action] = [
        JobRecord.name.set(new_name),
        JobRecord.source_id.set(source_id),
        JobRecord.dest_id.set(dest_id),
        JobRecord.streams_config.set(streams),
        JobRecord.frequency.set(frequency),
        JobRecord.schedule_expression.set(expression),
        JobRecord.updated_by.set(caller.username),
        JobRecord.updated_at.set(now_iso()),
    ]
    if body.activate is not None:
        actions.append(JobRecord.activate.set(body.activate))
    try:
        with TransactWrite(connection=connection()) as tx:
            if renamed:
                tx.save(
                    JobNameClaim(*JobNameClaim.key(project_id, new_name), job_id=job_id),
                    condition=JobNameClaim.pk.does_not_exist(),
                )
                tx.delete(JobNameClaim(*JobNameClaim.key(project_id, record.name)))
            _refs_changes(tx, project_id, job_id, (record.source_id, record.dest_id), (source_id, dest_id))
            tx.update(record, actions=actions, condition=JobRecord.deleted_at.does_not_exist())
    except TransactWriteError:
        if renamed and _name_taken(project_id, new_name, job_id):
            raise Conflict(f"A job named '{new_name}' already exists", field="name") from None
        gone = _connectors_gone(project_id, source_id, dest_id)
        if gone:
            raise Conflict(f"The {gone} was deleted meanwhile; try again", field=gone) from None
        raise Conflict("The job was changed by someone else; read it again and retry") from None
    fresh = _live_job(project_id, job_id)
    sync_schedule(fresh)
    return _out(fresh)


def delete_job(caller: Caller, project_id: str, job_id: str) -> str:
    """Soft delete: frees the name and the connectors, removes the schedule; 409 while a run is active.
    The deleted job's name."""
    require_role(caller, project_id, Role.editor)
    record = _live_job(project_id, job_id)
    if _is_running(record):
        raise Conflict("The job is running; cancel it first")
    ts = now_iso()
    actions: list[Action] = [
        JobRecord.deleted_at.set(ts),
        JobRecord.activate.set(False),
        JobRecord.updated_at.set(ts),
        JobRecord.updated_by.set(caller.username),
    ]
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(record, actions=actions, condition=JobRecord.deleted_at.does_not_exist())
            tx.delete(JobNameClaim(*JobNameClaim.key(project_id, record.name)))
            for ref in job_reference_items(project_id, job_id, record.source_id, record.dest_id):
                tx.delete(ref)
    except TransactWriteError:
        raise Conflict("The job was changed by someone else; read it again and retry") from None
    record.deleted_at = ts
    sync_schedule(record)
    return record.name


def set_active(caller: Caller, project_id: str, job_id: str, activate: bool) -> JobOut:
    """Activate (schedule on) or deactivate (schedule off) a job."""
    require_role(caller, project_id, Role.editor)
    record = _live_job(project_id, job_id)
    _set_active(record, activate, caller.username)
    fresh = _live_job(project_id, job_id)
    return _out(fresh)


def _set_active(record: JobRecord, activate: bool, by: str) -> None:
    try:
        record.update(
            actions=[
                JobRecord.activate.set(activate),
                JobRecord.updated_by.set(by),
                JobRecord.updated_at.set(now_iso()),
            ],
            condition=JobRecord.deleted_at.does_not_exist(),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise Conflict("The job was changed by someone else; read it again and retry") from None
        raise
    sync_schedule(record)


def stop_project(project_id: str, *, by: str) -> None:
    """A deleted project stops (docs/security.md): each live job is deactivated (its schedule removed)
    and its active run cancelled. A run that is already committing finishes its commit."""
    jobs = JobRecord.query(
        project_pk(project_id),
        JobRecord.sk.startswith(JOB_PREFIX),
        filter_condition=(JobRecord.entity == ENTITY) & JobRecord.deleted_at.does_not_exist(),
    )
    for record in jobs:
        record.activate = False
        try:
            _set_active(record, False, by)
        except Conflict:
            sync_schedule(record)  # changed meanwhile: its schedule goes all the same
        if record.current_run_id:
            try:
                _runs().cancel_run(project_id, record.job_id, by=by)
            except (Conflict, NotFound) as exc:
                log.info(
                    "project %s deleted: run of job %s not cancelled: %s", project_id, record.job_id, exc
                )


# ---------------------------------------------------------------- runs, through services.runs


def _check_source(record: JobRecord) -> None:
    """A 400 before a run starts when the job's source may no longer be read (docs/security.md: e.g. a
    bucket the environment stopped sharing, a source stored before the rule)."""
    try:
        connector_svc.parsed_config(record.project_id, "source", record.source_id)
    except Invalid as exc:
        raise Invalid(
            f"source: {exc.message}", field=f"source.{exc.field}" if exc.field else "source"
        ) from None
    except NotFound:
        raise Conflict("The job's source no longer exists; give another", field="source") from None


def sync_now(caller: Caller, project_id: str, job_id: str) -> dict[str, Any]:
    require_role(caller, project_id, Role.editor)
    _check_source(_live_job(project_id, job_id))
    return _runs().start_run(project_id, job_id, trigger="manual", started_by=caller.username)


def cancel(caller: Caller, project_id: str, job_id: str) -> dict[str, Any]:
    require_role(caller, project_id, Role.editor)
    _live_job(project_id, job_id)
    return _runs().cancel_run(project_id, job_id, by=caller.username)


def list_tasks(caller: Caller, project_id: str, job_id: str, limit: int | None, cursor: str | None) -> Page:
    require_role(caller, project_id, Role.viewer)
    _live_job(project_id, job_id)
    return _runs().list_runs(project_id, job_id, limit=page_size(limit), cursor=cursor)


def task_logs(
    caller: Caller, project_id: str, job_id: str, run_id: str, limit: int | None, cursor: str | None
) -> Page:
    require_role(caller, project_id, Role.viewer)
    _live_job(project_id, job_id)
    return _runs().run_logs(project_id, job_id, run_id, limit=page_size(limit), cursor=cursor)


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
    _live_job(project_id, job_id)
    return _runs().run_files(project_id, job_id, run_id, table=table, limit=limit, cursor=cursor)


# ---------------------------------------------------------------- application dialect (Gathr)

APP_TYPES = ("ingestion", "etl")
STARTED = "Request to start the application is accepted."
STOPPED = "Request to stop the application is accepted."
UPDATED = "Application updated successfully."


def _app_type(app_type: str) -> str:
    value = app_type.strip().lower()
    if value not in APP_TYPES:
        raise Invalid(f"appType must be one of {', '.join(APP_TYPES)}", field="appType")
    return value


def _caller_projects(caller: Caller) -> list[str]:
    if not caller.is_user:
        return [caller.project_id] if caller.project_id else []
    out: list[str] = []
    for member in MemberRecord.by_user.query(f"USER#{caller.username}", page_size=100):
        out.append(member.project_id)
        if len(out) >= 1000:
            break
    return out


def find_application(caller: Caller, name: str, project_name: str | None) -> JobRecord:
    """The job an application name means among the caller's projects (projectName narrows it)."""
    project_ids = _caller_projects(caller)
    claims: dict[str, str] = {}
    if project_ids:
        for claim in JobNameClaim.batch_get([JobNameClaim.key(pid, name) for pid in project_ids]):
            claims[claim.pk.removeprefix("PROJECT#")] = claim.job_id
    if claims:
        projects = ProjectRecord.batch_get([(project_pk(pid), "META") for pid in claims])
        live = {p.project_id: p for p in projects if not p.deleted_at}
        if project_name:
            live = {pid: p for pid, p in live.items() if p.name.casefold() == project_name.casefold()}
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
    return _live_job(pid, jid)


def app_start(caller: Caller, name: str, app_type: str, project_name: str | None) -> str:
    """Activate the job and sync it now; starting an application that is already syncing is accepted."""
    _app_type(app_type)
    record = find_application(caller, name, project_name)
    require_role(caller, record.project_id, Role.editor)
    _check_source(record)
    runs = _runs()
    if not record.activate:
        _set_active(record, True, caller.username)
    try:
        runs.start_run(record.project_id, record.job_id, trigger="application", started_by=caller.username)
    except Conflict:
        pass  # already running: started is what the caller asked for
    return STARTED


def app_stop(caller: Caller, name: str, app_type: str, project_name: str | None) -> str:
    """Deactivate the job (no more scheduled runs) and cancel its run, if any."""
    _app_type(app_type)
    record = find_application(caller, name, project_name)
    require_role(caller, record.project_id, Role.editor)
    runs = _runs()
    if record.activate:
        _set_active(record, False, caller.username)
    else:
        sync_schedule(record)
    try:
        runs.cancel_run(record.project_id, record.job_id, by=caller.username)
    except (Conflict, NotFound, Invalid):
        pass  # nothing running: stopped already
    return STOPPED


def app_state(record: JobRecord) -> str:
    """STOPPED, STARTING (run accepted, not yet running), RUNNING (active or syncing) or ERROR (the last
    run failed and none was started since)."""
    if record.current_run_id:
        try:
            run = _runs().get_run(record.project_id, record.current_run_id)
        except NotFound:
            run = {"state": "queued"}
        if run.get("state") == "queued":
            return "STARTING"
        if run.get("state") == "running":
            return "RUNNING"
    if record.last_run_state == "failed":
        return "ERROR"
    return "RUNNING" if record.activate else "STOPPED"


def app_status(caller: Caller, app_type: str, name: str, project_name: str | None) -> str:
    _app_type(app_type)
    record = find_application(caller, name, project_name)
    require_role(caller, record.project_id, Role.viewer)
    return app_state(record)


def _file_list(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        out += [part.strip() for part in item.split(",") if part.strip()]
    return out


def app_update(
    caller: Caller,
    name: str,
    app_type: str,
    project_name: str | None,
    *,
    bucket: str | None,
    filename: list[str] | None,
    component_id: str | None,
) -> str:
    """Point the application's S3 source at another bucket and/or file list."""
    kind = _app_type(app_type)
    if bucket is None and filename is None:
        raise Invalid("Nothing to update: give bucketName or filename", field="filename")
    record = find_application(caller, name, project_name)
    require_role(caller, record.project_id, Role.editor)
    source = _stored_connector(record.project_id, "source", record.source_id)
    if kind == "etl":
        if not component_id:
            raise Invalid("componentId is required for etl applications", field="componentId")
        if component_id not in (source.connector_id,) and component_id.casefold() != source.name.casefold():
            raise Invalid(
                f"componentId '{component_id}' is not the source of application '{record.name}'",
                field="componentId",
            )
    if source.type != "s3":
        raise Invalid(f"The application's source is of type '{source.type}', not s3", field="bucketName")
    config = json.loads(source.config)
    for secret_name in filter(None, source.secret_fields.split(",")):
        config[secret_name] = MASK
    if bucket is not None:
        config["bucket"] = bucket
    if filename is not None:
        config["files"] = _file_list(filename)
    try:
        connector_svc.update(
            caller, record.project_id, "source", source.connector_id, ConnectorUpdate(config=config)
        )
    except Invalid as exc:
        field = {"config.bucket": "bucketName"}.get(
            exc.field or "", "filename" if "files" in (exc.field or "") else exc.field
        )
        raise Invalid(exc.message, field=field) from None
    return UPDATED


# ---------------------------------------------------------------- ingest-job dialect (Amperity)

INGEST_API_VERSIONS = ("2024-04-01",)


def _ingest_file(f: dict[str, Any]) -> dict[str, Any]:
    return {
        "file_id": f.get("file_id") or "",
        "name": f.get("name"),
        "read": f["read"],
        "errors": f["errors"],
    }


def _fit_files(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
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
        return _upload_sync_ingest_job(tenant, run_id)
    runs = _runs()
    run = runs.get_run(tenant, run_id)
    job_id = run.get("job_id") or ""
    tables = []
    for index, t in enumerate(run.get("tables") or []):
        name = t.get("table_name") or ""
        files = runs.first_files(tenant, run_id, index, INGEST_FILES_PER_TABLE)
        tables.append(
            {
                "table_name": name,
                "feed_id": t.get("feed_id") or f"{job_id}:{name}",
                "job_id": run["id"],
                "state": t.get("state") or run.get("state") or "",
                "read": int(t.get("read") or 0),
                "inserted": int(t.get("inserted") or 0),
                "updated": int(t.get("updated") or 0),
                "deleted": int(t.get("deleted") or 0),
                "rejected": int(t.get("rejected") or 0),
                "errors": int(t.get("errors") or 0),
                "started_at": t.get("started_at"),
                "ended_at": t.get("ended_at"),
                "files": [_ingest_file(f) for f in files],
                "file_count": int(t.get("file_count") or 0),
            }
        )
    return {"id": run["id"], "workflow_id": run.get("workflow_id") or job_id, "tables": _fit_files(tables)}


SYNC_STATES = {"Syncing": "running", "Failed": "failed", "Finished": "succeeded"}


def _iso_ms(ms: Any) -> str | None:
    """Epoch milliseconds as ISO 8601 UTC; None for 0 (not yet)."""
    if not ms:
        return None
    return (
        datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _upload_sync_ingest_job(project_id: str, ingest_id: str) -> dict[str, Any]:
    """An upload sync (`sync-<id>`) as an ingest job: one table (the sync's lake path) and its files."""
    from . import upload_syncs as syncs_svc

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
    return {"id": ingest_id, "workflow_id": ingest_id, "tables": _fit_files([table])}
