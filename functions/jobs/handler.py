"""The jobs family: jobs and their runs (native dialect), applications (Gathr's dialect) and ingest jobs
(Amperity's dialect). Runs are started, cancelled and read through functions.core.services.runs."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query

from functions.core.api import current_caller, make_app, make_lambda_handler
from functions.core.dialects import application_ok, json_response, native_ok
from functions.core.errors import Invalid
from functions.core.models import (
    ApplicationAction,
    ApplicationAnswer,
    ApplicationError,
    ApplicationStatus,
    ApplicationUpdate,
    Deleted,
    Envelope,
    IngestError,
    IngestJob,
    JobActivate,
    JobCreate,
    JobOut,
    JobUpdate,
    PageEnvelope,
    RunFileOut,
    RunOut,
    TaskLogsPage,
    dump,
)
from functions.core.openapi import ERROR_TEXT, responses
from functions.core.params import Cursor, Limit, ProjectId
from functions.core.services import jobs as svc

app = make_app("jobs")

JobId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="The job's id")
]
RunId = Annotated[
    str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$", description="The run's id")
]
IdQuery = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

BASE = "/api/v1/project/<projectid>/jobs"
TAGS = ["jobs"]


def _dialect_responses(ok: Any, error_model: Any, *errors: int) -> dict:
    """Responses of a route whose errors are in another dialect's envelope."""
    out: dict[int, dict] = {200: {"description": "Success", "content": {"application/json": {"model": ok}}}}
    for code in sorted({400, 401, *errors}):
        out[code] = {"description": ERROR_TEXT[code], "content": {"application/json": {"model": error_model}}}
    return out


def _page(items: list, next_cursor: str | None):
    return native_ok(items, "success", next_cursor=next_cursor, paginated=True)


# ---------------------------------------------------------------- native: jobs


@app.post(BASE, tags=TAGS, responses=responses(Envelope[JobOut], 403, 404, 409, status=201))
def create_job(projectid: ProjectId, body: Annotated[JobCreate, Body()]):
    """Create a job; source and destination are given by name (reused, or created from type and config)."""
    return native_ok(dump(svc.create_job(current_caller(app), projectid, body)), "job created", status=201)


@app.get(BASE, tags=TAGS, responses=responses(PageEnvelope[JobOut], 404))
def list_jobs(
    projectid: ProjectId,
    source_id: IdQuery = None,
    dest_id: IdQuery = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    items, next_cursor = svc.list_jobs(current_caller(app), projectid, source_id, dest_id, limit, cursor)
    return _page([dump(i) for i in items], next_cursor)


@app.get(f"{BASE}/<id>", tags=TAGS, responses=responses(Envelope[JobOut], 404))
def get_job(projectid: ProjectId, id: JobId):
    return native_ok(dump(svc.get_job(current_caller(app), projectid, id)))


@app.put(f"{BASE}/<id>", tags=TAGS, responses=responses(Envelope[JobOut], 403, 404, 409))
def update_job(projectid: ProjectId, id: JobId, body: Annotated[JobUpdate, Body()]):
    return native_ok(dump(svc.update_job(current_caller(app), projectid, id, body)), "job updated")


@app.delete(f"{BASE}/<id>", tags=TAGS, responses=responses(Envelope[Deleted], 403, 404, 409))
def delete_job(projectid: ProjectId, id: JobId):
    """Soft delete; its schedule is removed. A job with a queued or running run is a 409: cancel it first.
    Answers the deleted job's name."""
    return native_ok({"name": svc.delete_job(current_caller(app), projectid, id)}, "job deleted")


@app.post(f"{BASE}/<id>/activate", tags=TAGS, responses=responses(Envelope[JobOut], 403, 404, 409))
def activate_job(projectid: ProjectId, id: JobId, body: Annotated[JobActivate | None, Body()] = None):
    """`{"activate": true|false}` (default true): an active job with a schedule runs on it."""
    activate = True if body is None else body.activate
    job = svc.set_active(current_caller(app), projectid, id, activate)
    return native_ok(dump(job), "job activated" if activate else "job deactivated")


@app.post(f"{BASE}/<id>/sync", tags=TAGS, responses=responses(Envelope[RunOut], 403, 404, 409))
def sync_job(projectid: ProjectId, id: JobId):
    """Start a run now (409 while one is queued or running)."""
    return native_ok(svc.sync_now(current_caller(app), projectid, id), "sync started")


@app.post(f"{BASE}/<id>/cancel", tags=TAGS, responses=responses(Envelope[RunOut], 403, 404, 409))
def cancel_job(projectid: ProjectId, id: JobId):
    """Cancel the job's queued or running run."""
    return native_ok(svc.cancel(current_caller(app), projectid, id), "cancel requested")


@app.get(f"{BASE}/<jobid>/tasks", tags=TAGS, responses=responses(PageEnvelope[RunOut], 404))
def list_tasks(projectid: ProjectId, jobid: JobId, limit: Limit = None, cursor: Cursor = None):
    """The job's runs, newest first: `id`, `start_time`, `runtime` (ms), `status`, and counts per table
    (summaries: a run's files are on .../task/{id}/files). A page holds at most `limit` runs and 4 MiB."""
    return _page(*svc.list_tasks(current_caller(app), projectid, jobid, limit, cursor))


def _logs(projectid: str, jobid: str, id: str, limit: int | None, cursor: str | None):
    lines, next_cursor = svc.task_logs(current_caller(app), projectid, jobid, id, limit, cursor)
    return native_ok({"task_logs": lines}, "success", next_cursor=next_cursor, paginated=True)


@app.get(f"{BASE}/<jobid>/task/<id>/logs", tags=TAGS, responses=responses(TaskLogsPage, 404))
def task_logs(projectid: ProjectId, jobid: JobId, id: RunId, limit: Limit = None, cursor: Cursor = None):
    """One run's log events, oldest first, as `data.task_logs` (at most `limit` events and 4 MiB a page;
    `next_cursor` beside `data`)."""
    return _logs(projectid, jobid, id, limit, cursor)


@app.post(f"{BASE}/<jobid>/task/<id>/logs", tags=TAGS, responses=responses(TaskLogsPage, 404))
def task_logs_post(projectid: ProjectId, jobid: JobId, id: RunId, limit: Limit = None, cursor: Cursor = None):
    """The same as GET (olake's UI posts here)."""
    return _logs(projectid, jobid, id, limit, cursor)


TableQuery = Annotated[
    str | None, Query(min_length=1, max_length=256, description="Only this table's files (a run table_name)")
]


@app.get(
    f"{BASE}/<jobid>/task/<id>/files", tags=TAGS, responses=responses(PageEnvelope[RunFileOut], 400, 404)
)
def task_files(
    projectid: ProjectId,
    jobid: JobId,
    id: RunId,
    table: TableQuery = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    """The files one run read, with their table and counts, in table order then reading order (at most
    `limit` files and 4 MiB a page). A table the run does not have is a 400 naming the ones it has."""
    return _page(*svc.task_files(current_caller(app), projectid, jobid, id, table, limit, cursor))


# ---------------------------------------------------------------- application dialect (Gathr)

APP_TAGS = ["applications"]
APP_RESPONSES = _dialect_responses(ApplicationAnswer, ApplicationError, 403, 404, 409)
ProjectNameQuery = Annotated[str | None, Query(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
AppSegment = Annotated[str, Path(min_length=1, max_length=128)]


@app.post("/api/v1/application/start", tags=APP_TAGS, responses=APP_RESPONSES)
def application_start(body: Annotated[ApplicationAction, Body()]):
    """Start an application (a job): activate it and sync it now."""
    return application_ok(svc.app_start(current_caller(app), body.name, body.appType, body.projectName))


@app.post("/api/v1/application/stop", tags=APP_TAGS, responses=APP_RESPONSES)
def application_stop(body: Annotated[ApplicationAction, Body()]):
    """Stop an application: deactivate it (no scheduled runs) and cancel its run."""
    return application_ok(svc.app_stop(current_caller(app), body.name, body.appType, body.projectName))


@app.post("/api/v1/application/update", tags=APP_TAGS, responses=APP_RESPONSES)
def application_update(body: Annotated[ApplicationUpdate, Body()]):
    """Set the S3 source's bucket (`bucketName`) and file list (`filename` items may be comma-separated lists)."""
    message = svc.app_update(
        current_caller(app),
        body.name,
        body.appType,
        body.projectName,
        bucket=body.bucketName,
        filename=body.filename,
        component_id=body.componentId,
    )
    return application_ok(message)


@app.get(
    "/api/v1/application/status/<appType>/<appName>",
    tags=APP_TAGS,
    responses=_dialect_responses(ApplicationStatus, ApplicationError, 403, 404, 409),
)
def application_status(appType: AppSegment, appName: AppSegment, projectName: ProjectNameQuery = None):
    """`{"application_status": STOPPED|STARTING|RUNNING|ERROR, "status": "Success"}`."""
    state = svc.app_status(current_caller(app), appType, appName, projectName)
    return json_response(200, ApplicationStatus.model_validate({"application_status": state}).model_dump())


# ---------------------------------------------------------------- ingest-job dialect (Amperity)

TenantHeader = Annotated[
    str | None, Header(max_length=64, description="The project id (required)", alias="amperity-tenant")
]
VersionHeader = Annotated[str | None, Header(max_length=32, description="2024-04-01", alias="api-version")]
VersionQuery = Annotated[
    str | None, Query(max_length=32, alias="api_version", description="Instead of the api-version header")
]


@app.get(
    "/api/ingest/jobs/<id>",
    tags=["ingest jobs"],
    responses=_dialect_responses(IngestJob, IngestError, 403, 404),
)
def get_ingest_job(
    id: RunId,
    amperity_tenant: TenantHeader = None,
    api_version: VersionHeader = None,
    api_version_query: VersionQuery = None,
):
    """One ingest job (a job run, or an upload sync `sync-<sync_id>`): per-table counts and each table's
    first files (at most 100 a table, fewer if the answer would pass 4 MiB; `file_count` is the table's
    total). All the files: GET /api/v1/project/{projectid}/jobs/{jobid}/task/{id}/files?table= (a run) or
    GET /api/v1/project/{projectid}/syncs/{sync_id}/files (an upload sync)."""
    caller = current_caller(app)
    version = api_version or api_version_query
    if not version:
        raise Invalid(
            "api-version is required (header api-version or query api_version)", field="api-version"
        )
    if version not in svc.INGEST_API_VERSIONS:
        supported = ", ".join(svc.INGEST_API_VERSIONS)
        raise Invalid(f"Unsupported api-version '{version}'; supported: {supported}", field="api-version")
    if not amperity_tenant:
        raise Invalid("amperity-tenant is required", field="amperity-tenant")
    return json_response(200, svc.ingest_job(caller, amperity_tenant, id))


lambda_handler = make_lambda_handler(app, "jobs")
__all__ = ["app", "lambda_handler"]
