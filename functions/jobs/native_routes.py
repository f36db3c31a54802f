"""The jobs family in the native dialect: jobs and their runs (tasks)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.core.api import current_caller
from functions.core.dialects import native, native_ok
from functions.core.models import (
    Deleted,
    Envelope,
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
from functions.core.openapi import responses
from functions.core.params import Cursor, Limit, ProjectId, RunId
from functions.core.services import jobs as svc

router = APIGatewayHttpRouter()


JobId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="The job's id")
]
IdQuery = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
TableQuery = Annotated[
    str | None, Query(min_length=1, max_length=256, description="Only this table's files (a run table_name)")
]

BASE = "/api/v1/project/<projectid>/jobs"
TAGS = ["jobs"]


@router.post(BASE, tags=TAGS, responses=responses(Envelope[JobOut], 403, 404, 409, status=201))
def create_job(projectid: ProjectId, body: Annotated[JobCreate, Body()]):
    """Create a job; source and destination are given by name (reused, or created from type and config)."""
    job = svc.create_job(current_caller(router), projectid, body)
    return native_ok(dump(native.job_out(job)), "job created", status=201)


@router.get(BASE, tags=TAGS, responses=responses(PageEnvelope[JobOut], 404))
def list_jobs(
    projectid: ProjectId,
    source_id: IdQuery = None,
    dest_id: IdQuery = None,
    limit: Limit = None,
    cursor: Cursor = None,
):
    return native.jobs_page(
        svc.list_jobs(current_caller(router), projectid, source_id, dest_id, limit, cursor)
    )


@router.get(f"{BASE}/<id>", tags=TAGS, responses=responses(Envelope[JobOut], 404))
def get_job(projectid: ProjectId, id: JobId):
    return native_ok(dump(native.job_out(svc.get_job(current_caller(router), projectid, id))))


@router.put(f"{BASE}/<id>", tags=TAGS, responses=responses(Envelope[JobOut], 403, 404, 409))
def update_job(projectid: ProjectId, id: JobId, body: Annotated[JobUpdate, Body()]):
    job = svc.update_job(current_caller(router), projectid, id, body)
    return native_ok(dump(native.job_out(job)), "job updated")


@router.delete(f"{BASE}/<id>", tags=TAGS, responses=responses(Envelope[Deleted], 403, 404, 409))
def delete_job(projectid: ProjectId, id: JobId):
    """Soft delete; its schedule is removed. A job with a queued or running run is a 409: cancel it first.
    Answers the deleted job's name."""
    return native_ok({"name": svc.delete_job(current_caller(router), projectid, id)}, "job deleted")


@router.post(f"{BASE}/<id>/activate", tags=TAGS, responses=responses(Envelope[JobOut], 403, 404, 409))
def activate_job(projectid: ProjectId, id: JobId, body: Annotated[JobActivate | None, Body()] = None):
    """`{"activate": true|false}` (default true): an active job with a schedule runs on it."""
    activate = True if body is None else body.activate
    job = svc.set_active(current_caller(router), projectid, id, activate)
    return native_ok(dump(native.job_out(job)), "job activated" if activate else "job deactivated")


@router.post(f"{BASE}/<id>/sync", tags=TAGS, responses=responses(Envelope[RunOut], 403, 404, 409))
def sync_job(projectid: ProjectId, id: JobId):
    """Start a run now (409 while one is queued or running)."""
    return native_ok(svc.sync_now(current_caller(router), projectid, id), "sync started")


@router.post(f"{BASE}/<id>/cancel", tags=TAGS, responses=responses(Envelope[RunOut], 403, 404, 409))
def cancel_job(projectid: ProjectId, id: JobId):
    """Cancel the job's queued or running run."""
    return native_ok(svc.cancel(current_caller(router), projectid, id), "cancel requested")


@router.get(f"{BASE}/<jobid>/tasks", tags=TAGS, responses=responses(PageEnvelope[RunOut], 404))
def list_tasks(projectid: ProjectId, jobid: JobId, limit: Limit = None, cursor: Cursor = None):
    """The job's runs, newest first: `id`, `start_time`, `runtime` (ms), `status`, and counts per table
    (summaries: a run's files are on .../task/{id}/files). A page holds at most `limit` runs and 4 MiB."""
    return native.page(*svc.list_tasks(current_caller(router), projectid, jobid, limit, cursor))


def _logs(projectid: str, jobid: str, id: str, limit: int | None, cursor: str | None):
    return native.task_logs_page(*svc.task_logs(current_caller(router), projectid, jobid, id, limit, cursor))


@router.get(f"{BASE}/<jobid>/task/<id>/logs", tags=TAGS, responses=responses(TaskLogsPage, 404))
def task_logs(projectid: ProjectId, jobid: JobId, id: RunId, limit: Limit = None, cursor: Cursor = None):
    """One run's log events, oldest first, as `data.task_logs` (at most `limit` events and 4 MiB a page;
    `next_cursor` beside `data`)."""
    return _logs(projectid, jobid, id, limit, cursor)


@router.post(f"{BASE}/<jobid>/task/<id>/logs", tags=TAGS, responses=responses(TaskLogsPage, 404))
def task_logs_post(projectid: ProjectId, jobid: JobId, id: RunId, limit: Limit = None, cursor: Cursor = None):
    """The same as GET (olake's UI posts here)."""
    return _logs(projectid, jobid, id, limit, cursor)


@router.get(
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
    return native.page(*svc.task_files(current_caller(router), projectid, jobid, id, table, limit, cursor))
