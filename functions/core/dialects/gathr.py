"""The application dialect (Gathr): an application is a job, found by name among the caller's projects.
start = activate and sync now; stop = deactivate and cancel the run; update = point the S3 source at
another bucket or file list; status = STOPPED | STARTING | RUNNING | ERROR. Answers are
{"message", "status": "Success"} (errors: see functions/core/dialects)."""

from __future__ import annotations

import json

from ..auth import Caller, Role, require_role
from ..connectors import MASK
from ..errors import Conflict, Invalid, NotFound
from ..models import ConnectorUpdate
from ..repositories.connectors import ConnectorRecord
from ..repositories.jobs import JobRecord
from ..services import connectors as connector_svc
from ..services import jobs as jobs_svc
from ..services import runs as runs_svc

APP_TYPES = ("ingestion", "etl")
STARTED = "Request to start the application is accepted."
STOPPED = "Request to stop the application is accepted."
UPDATED = "Application updated successfully."


def app_type(value: str) -> str:
    """The application type, any case: ingestion or etl."""
    value = value.strip().lower()
    if value not in APP_TYPES:
        raise Invalid(f"appType must be one of {', '.join(APP_TYPES)}", field="appType")
    return value


def _application(caller: Caller, name: str, project_name: str | None, role: Role) -> JobRecord:
    """The job the application name means, once the caller holds `role` in its project."""
    record = jobs_svc.find_by_name(caller, name, project_name)
    require_role(caller, record.project_id, role)
    return record


def start(caller: Caller, name: str, kind: str, project_name: str | None) -> str:
    """Activate the job and sync it now; starting an application that is already syncing is accepted."""
    app_type(kind)
    record = _application(caller, name, project_name, Role.editor)
    jobs_svc.check_source(record)
    if not record.activate:
        jobs_svc.activate_job(record, True, caller.username)
    try:
        runs_svc.start_run(
            record.project_id, record.job_id, trigger="application", started_by=caller.username
        )
    except Conflict:
        pass  # already running: started is what the caller asked for
    return STARTED


def stop(caller: Caller, name: str, kind: str, project_name: str | None) -> str:
    """Deactivate the job (no more scheduled runs) and cancel its run, if any."""
    app_type(kind)
    record = _application(caller, name, project_name, Role.editor)
    if record.activate:
        jobs_svc.activate_job(record, False, caller.username)
    else:
        jobs_svc.sync_schedule(record)
    try:
        runs_svc.cancel_run(record.project_id, record.job_id, by=caller.username)
    except (Conflict, NotFound, Invalid):
        pass  # nothing running: stopped already
    return STOPPED


def state(record: JobRecord) -> str:
    """STOPPED, STARTING (run accepted, not yet running), RUNNING (active or syncing) or ERROR (the last
    run failed and none was started since)."""
    if record.current_run_id:
        run_state = runs_svc.run_state(record.project_id, record.current_run_id)
        if run_state in (None, "queued"):  # None: the claim's run is not written yet
            return "STARTING"
        if run_state == "running":
            return "RUNNING"
    if record.last_run_state == "failed":
        return "ERROR"
    return "RUNNING" if record.activate else "STOPPED"


def status(caller: Caller, kind: str, name: str, project_name: str | None) -> str:
    app_type(kind)
    return state(_application(caller, name, project_name, Role.viewer))


def file_list(items: list[str]) -> list[str]:
    """The file keys of `filename`, whose items may themselves be comma-separated lists."""
    out: list[str] = []
    for item in items:
        out += [part.strip() for part in item.split(",") if part.strip()]
    return out


def _check_component(source: ConnectorRecord, component_id: str | None, app_name: str) -> None:
    """An etl application's componentId names its source (by id or name)."""
    if not component_id:
        raise Invalid("componentId is required for etl applications", field="componentId")
    if component_id != source.connector_id and component_id.casefold() != source.name.casefold():
        raise Invalid(
            f"componentId '{component_id}' is not the source of application '{app_name}'", field="componentId"
        )


def _source_config(source: ConnectorRecord, bucket: str | None, filename: list[str] | None) -> dict:
    """The S3 source's config with the new bucket and/or files (secrets masked: they stay as stored)."""
    config = json.loads(source.config)
    for secret_name in filter(None, source.secret_fields.split(",")):
        config[secret_name] = MASK
    if bucket is not None:
        config["bucket"] = bucket
    if filename is not None:
        config["files"] = file_list(filename)
    return config


def update(
    caller: Caller,
    name: str,
    kind: str,
    project_name: str | None,
    *,
    bucket: str | None,
    filename: list[str] | None,
    component_id: str | None,
) -> str:
    """Point the application's S3 source at another bucket and/or file list."""
    etl = app_type(kind) == "etl"
    if bucket is None and filename is None:
        raise Invalid("Nothing to update: give bucketName or filename", field="filename")
    record = _application(caller, name, project_name, Role.editor)
    source = jobs_svc.stored_connector(record.project_id, "source", record.source_id)
    if etl:
        _check_component(source, component_id, record.name)
    if source.type != "s3":
        raise Invalid(f"The application's source is of type '{source.type}', not s3", field="bucketName")
    body = ConnectorUpdate(config=_source_config(source, bucket, filename))
    try:
        connector_svc.update(caller, record.project_id, "source", source.connector_id, body)
    except Invalid as exc:
        field = {"config.bucket": "bucketName"}.get(
            exc.field or "", "filename" if "files" in (exc.field or "") else exc.field
        )
        raise Invalid(exc.message, field=field) from None
    return UPDATED
