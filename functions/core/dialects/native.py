"""The native (olake-style) dialect: jobs as JobOut, runs as tasks, in the {"success", "message", "data"}
envelope; lists carry `next_cursor` beside `data`."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response

from ..models import JobOut, dump
from ..models.jobs import JobConnectorOut, JobStreamsOut
from ..repositories.pages import RecordPage
from ..services import connectors as connector_svc
from ..services.jobs import Connectors, JobDetails
from . import native_ok


def _connector_out(kind: str, cid: str, found: Connectors) -> JobConnectorOut:
    c = found.get((kind, cid))
    if c is None:
        return JobConnectorOut(id=cid, name="")
    return JobConnectorOut(
        id=cid, name=c.name, type=c.type, version=c.type_version, config=connector_svc.masked_config(c)
    )


def job_out(job: JobDetails) -> JobOut:
    """A job as the native dialect shows it: its connectors by id and name (configs masked)."""
    record, found = job.record, job.connectors
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


def page(items: list, next_cursor: str | None) -> Response:
    """One page of a list in the native envelope."""
    return native_ok(items, "success", next_cursor=next_cursor, paginated=True)


def jobs_page(found: tuple[RecordPage, Connectors]) -> Response:
    """One page of jobs (cut at MAX_PAGE_BYTES of JSON)."""
    records, connectors = found
    items = [dump(job_out(JobDetails(r, connectors))) for r in records.records]
    return page(*records.fit(items))


def task_logs_page(lines: list[dict[str, Any]], next_cursor: str | None) -> Response:
    """One page of a run's log events, as `data.task_logs`."""
    return native_ok({"task_logs": lines}, "success", next_cursor=next_cursor, paginated=True)
