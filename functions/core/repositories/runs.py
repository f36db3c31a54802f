"""Runs of jobs (ingest jobs) in the `jobs` table, their executions (Step Functions) and their logs (S3).

PROJECT#<id> / RUN#<run id>     a run: state, times, trigger, stats, per-table and per-file counts
    gsi1: PROJECT#<id>#JOB#<jid>#RUNS / <created_at>#<run id>   a job's runs, newest first (ScanIndexForward
    false)
    gsi2: RUNS#ACTIVE / <created_at>#<run id>   only while queued or running (a sparse index): the sweeper
PROJECT#<id>#RUN#<run id> / FILE#<table index:04d>#<n:06d>   one file the run read: its table and counts
    (written when the run ends; the run item keeps per-table summaries only, so it stays small whatever
    the number of files)
PROJECT#<id> / JOB#<jid>        the job (repositories/jobs.py's JobRecord); runs write only
                                current_run_id, last_run_time, last_run_state and last_run_id, always
                                with UpdateItem actions

`RunRepository` is the only code that reads or writes run items (and a job's run fields); `Executions`
wraps the state machine's executions and `RunLogs` the run's log events in the data bucket.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from .. import aws
from ..errors import Conflict, NotFound
from ..settings import get_settings
from .base import now_iso, store_errors, table_meta
from .connectors import JOBS_TABLE_ENV
from .jobs import JOB_PREFIX, RUN_FIELDS, JobRecord, job_key
from .pages import RecordPage, query_page
from .projects import ProjectRecord, project_pk

log = logging.getLogger("ingestplane.runs")
ACTIVE = ("queued", "running")
RUN_PREFIX = "RUN#"
ACTIVE_RUNS = "RUNS#ACTIVE"  # gsi2pk of every run that has not ended


def run_key(project_id: str, run_id: str) -> tuple[str, str]:
    return project_pk(project_id), f"{RUN_PREFIX}{run_id}"


def job_runs_key(project_id: str, job_id: str) -> str:
    """gsi1pk of one job's runs."""
    return f"{project_pk(project_id)}#JOB#{job_id}#RUNS"


class JobRunsIndex(GlobalSecondaryIndex["RunRecord"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ActiveRunsIndex(GlobalSecondaryIndex["RunRecord"]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class RunRecord(Model):
    """One run of a job: an ingest job."""

    Meta = table_meta(JOBS_TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute(null=True)  # ACTIVE_RUNS while queued or running, removed when it ends
    gsi2sk = UnicodeAttribute(null=True)
    entity = UnicodeAttribute(default="run")
    run_id = UnicodeAttribute()
    project_id = UnicodeAttribute()
    job_id = UnicodeAttribute()
    job_name = UnicodeAttribute(default="")
    state = UnicodeAttribute()  # queued | running | succeeded | failed | cancelled
    committing = BooleanAttribute(default=False)  # set by the commit step: a cancel is refused from then on
    trigger = UnicodeAttribute(default="manual")
    started_by = UnicodeAttribute(default="")
    created_at = UnicodeAttribute()
    start_time = UnicodeAttribute(null=True)
    end_time = UnicodeAttribute(null=True)
    runtime_ms = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    execution_arn = UnicodeAttribute(null=True)
    stats = JSONAttribute(null=True)
    tables = JSONAttribute(
        null=True
    )  # [{table_name, stream, state, counts, file_count}]; files: RunFileRecord
    cancelled_by = UnicodeAttribute(null=True)
    by_job = JobRunsIndex()
    active = ActiveRunsIndex()


def run_files_key(project_id: str, run_id: str) -> str:
    """The partition of one run's file items."""
    return f"{project_pk(project_id)}#{RUN_PREFIX}{run_id}"


def run_file_prefix(table_index: int | None = None) -> str:
    """The sort-key prefix of a run's files (of one table, given its index in the run's tables)."""
    return "FILE#" if table_index is None else f"FILE#{table_index:04d}#"


class RunFileRecord(Model):
    """One file a run read, with its table and counts."""

    Meta = table_meta(JOBS_TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity = UnicodeAttribute(default="run_file")
    run_id = UnicodeAttribute()
    table_name = UnicodeAttribute()
    file_id = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    read = NumberAttribute(default=0)
    inserted = NumberAttribute(default=0)
    updated = NumberAttribute(default=0)
    rejected = NumberAttribute(default=0)
    errors = NumberAttribute(default=0)
    bytes = NumberAttribute(default=0)
    message = UnicodeAttribute(null=True)

    @staticmethod
    def key(project_id: str, run_id: str, table_index: int, n: int) -> tuple[str, str]:
        return run_files_key(project_id, run_id), f"{run_file_prefix(table_index)}{n:06d}"


def _inactive() -> list[Action]:
    """An ended run leaves the index of active runs."""
    return [RunRecord.gsi2pk.remove(), RunRecord.gsi2sk.remove()]


class RunRepository:
    """Run items, their file items, and the run fields of the job item."""

    def get(self, project_id: str, run_id: str) -> RunRecord:
        """The run; NotFound when the project has no such run."""
        if not run_id or len(run_id) > 64:
            raise NotFound()
        try:
            with store_errors("Reading the run"):
                return RunRecord.get(*run_key(project_id, run_id), consistent_read=True)
        except DoesNotExist:
            raise NotFound() from None

    def get_job(self, project_id: str, job_id: str) -> JobRecord:
        """The live job's fields a run reads; NotFound when it is missing or deleted."""
        if not job_id or len(job_id) > 64:
            raise NotFound()
        try:
            with store_errors("Reading the job"):
                job = JobRecord.get(
                    *job_key(project_id, job_id), consistent_read=True, attributes_to_get=RUN_FIELDS
                )
        except DoesNotExist:
            raise NotFound() from None
        if job.deleted_at:
            raise NotFound()
        return job

    def list_page(self, project_id: str, job_id: str, *, limit: int | None, cursor: str | None) -> RecordPage:
        """One page of the job's runs, newest first."""
        query = RunRecord.by_job.query
        with store_errors("Listing the runs"):
            records, next_cursor = query_page(
                query, job_runs_key(project_id, job_id), limit=limit, cursor=cursor, scan_index_forward=False
            )
        return RecordPage(records, next_cursor, query)

    def files_page(
        self, project_id: str, run_id: str, table_index: int | None, *, limit: int | None, cursor: str | None
    ) -> RecordPage:
        """One page of the files a run read (of one table, given its index, or all)."""
        condition = RunFileRecord.sk.startswith(run_file_prefix(table_index))
        with store_errors("Listing the run's files"):
            records, next_cursor = query_page(
                RunFileRecord.query, run_files_key(project_id, run_id), condition, limit=limit, cursor=cursor
            )
        return RecordPage(records, next_cursor, RunFileRecord.query)

    def first_files(self, project_id: str, run_id: str, table_index: int, count: int) -> list[RunFileRecord]:
        """The first `count` files a run read for one of its tables."""
        with store_errors("Listing the run's files"):
            return list(RunFileRecord.query(
                run_files_key(project_id, run_id), RunFileRecord.sk.startswith(run_file_prefix(table_index)),
                limit=count, page_size=count,
            ))  # fmt: skip

    def project_gone(self, project_id: str) -> bool:
        """Whether the project was deleted (or never was)."""
        try:
            with store_errors("Reading the project"):
                return bool(
                    ProjectRecord.get(project_pk(project_id), "META", consistent_read=True).deleted_at
                )
        except DoesNotExist:
            return True

    def active_count(self, project_id: str) -> int:
        """How many of the project's jobs hold a run (queued or running)."""
        with store_errors("Counting the runs"):
            return JobRecord.count(
                project_pk(project_id), JobRecord.sk.startswith(JOB_PREFIX),
                filter_condition=JobRecord.current_run_id.exists(),
            )  # fmt: skip

    def claim(self, project_id: str, job_id: str, run_id: str, *, scheduled: bool = False) -> None:
        """Make `run_id` the job's current run in one conditional UpdateItem; Conflict when one is running
        (or, for a scheduled run, when the job is not active); NotFound when the job is gone."""
        condition = JobRecord.pk.exists() & JobRecord.deleted_at.does_not_exist()
        if scheduled:  # a retried first step of the same execution finds its own claim
            condition &= JobRecord.current_run_id.does_not_exist() | (JobRecord.current_run_id == run_id)
            condition &= JobRecord.activate == True  # noqa: E712 - a pynamodb condition, not a comparison
        else:
            condition &= JobRecord.current_run_id.does_not_exist()
        try:
            with store_errors("Starting the run"):
                JobRecord(*job_key(project_id, job_id)).update(
                    actions=[JobRecord.current_run_id.set(run_id)], condition=condition
                )
        except UpdateError:
            current = self.get_job(project_id, job_id)
            if scheduled and not current.activate:
                raise Conflict("job is not active") from None
            raise Conflict("job is already running") from None

    def release(
        self, project_id: str, job_id: str, run_id: str, state: str | None, ended: str | None
    ) -> None:
        """Give the job back (only if this run holds it) and record the run as its last run."""
        actions: list[Action] = [JobRecord.current_run_id.remove()]
        if state:
            actions += [
                JobRecord.last_run_state.set(state), JobRecord.last_run_time.set(ended or now_iso()),
                JobRecord.last_run_id.set(run_id),
            ]  # fmt: skip
        try:
            with store_errors("Releasing the job"):
                JobRecord(*job_key(project_id, job_id)).update(
                    actions=actions, condition=JobRecord.current_run_id == run_id
                )
        except UpdateError:
            pass  # another run holds the job (or none does): nothing to give back

    def insert(self, record: RunRecord) -> bool:
        """Write a new run; False when a run of that id exists already (a retried step)."""
        try:
            with store_errors("Writing the run"):
                record.save(condition=RunRecord.pk.does_not_exist())
        except PutError:
            return False
        return True

    def set_execution(self, record: RunRecord, execution_arn: str) -> None:
        """Record the run's execution, unless mark_running has already."""
        try:
            with store_errors("Writing the run"):
                record.update(
                    actions=[RunRecord.execution_arn.set(execution_arn)],
                    condition=RunRecord.execution_arn.does_not_exist(),
                )
        except UpdateError:
            pass

    def mark_running(self, project_id: str, run_id: str, execution_arn: str | None) -> RunRecord | None:
        """queued -> running (with its execution); None when the run has ended meanwhile."""
        record = RunRecord(*run_key(project_id, run_id))
        actions: list[Action] = [RunRecord.state.set("running")]
        if execution_arn:
            actions.append(RunRecord.execution_arn.set(execution_arn))
        try:
            with store_errors("Writing the run"):
                record.update(actions=actions, condition=RunRecord.state.is_in(*ACTIVE))
        except UpdateError:
            return None
        return record

    def mark_committing(self, project_id: str, run_id: str) -> bool:
        """Flag the run as committing; False when it is no longer active."""
        record = RunRecord(*run_key(project_id, run_id))
        try:
            with store_errors("Writing the run"):
                record.update(
                    actions=[RunRecord.committing.set(True)], condition=RunRecord.state.is_in(*ACTIVE)
                )
        except UpdateError:
            return False
        return True

    def mark_cancelled(self, record: RunRecord, by: str, ended: str, runtime_ms: int) -> None:
        """End the active run `cancelled`; Conflict when it has ended or is committing."""
        actions = [
            RunRecord.state.set("cancelled"), RunRecord.end_time.set(ended), RunRecord.runtime_ms.set(runtime_ms),
            RunRecord.error.set(f"cancelled by {by}"), RunRecord.cancelled_by.set(by), *_inactive(),
        ]  # fmt: skip
        try:
            with store_errors("Cancelling the run"):
                record.update(
                    actions=actions,
                    condition=RunRecord.state.is_in(*ACTIVE) & (RunRecord.committing != True),  # noqa: E712
                )
        except UpdateError:
            with store_errors("Reading the run"):
                record.refresh(consistent_read=True)
            if record.state in ACTIVE:
                raise Conflict("the run is committing its data and can no longer be cancelled") from None
            raise Conflict("job is not running") from None

    def mark_finished(self, record: RunRecord, changes: dict[str, Any]) -> bool:
        """Write the ending `changes` (attribute -> value) unless the run has ended already: True when this
        call ended it; otherwise False, with `record` read again."""
        actions = [getattr(RunRecord, k).set(v) for k, v in changes.items()] + _inactive()
        try:
            with store_errors("Ending the run"):
                record.update(actions=actions, condition=RunRecord.state.is_in(*ACTIVE))
        except UpdateError:
            with store_errors("Reading the run"):
                record.refresh(consistent_read=True)
            return False
        return True

    def save_files(self, files: list[RunFileRecord]) -> None:
        """Write a run's file items (the same keys again when a retried end writes them)."""
        with store_errors("Writing the run's files"), RunFileRecord.batch_write() as batch:
            for item in files:
                batch.save(item)

    def active_before(self, cutoff: str) -> list[RunRecord]:
        """Runs queued or running that started before `cutoff` (ISO time), oldest first."""
        with store_errors("Listing the active runs"):
            return list(RunRecord.active.query(ACTIVE_RUNS, range_key_condition=RunRecord.gsi2sk < cutoff))


class Executions:
    """The sync state machine's executions (Step Functions)."""

    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start an execution named `name`; its ARN. RuntimeError when no state machine is configured."""
        arn = get_settings().state_machine_arn
        if not arn:
            raise RuntimeError("no state machine is configured (STATE_MACHINE_ARN)")
        started = aws.client("stepfunctions").start_execution(
            stateMachineArn=arn, name=name, input=json.dumps(payload)
        )
        return started["executionArn"]

    def start_once(self, name: str, payload: dict[str, Any]) -> bool:
        """Start an execution named `name` unless one of that name exists: whether this call started it
        (a name is unique per state machine, so a redelivered event starts nothing)."""
        try:
            self.start(name, payload)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return False
            raise
        return True

    def stop(self, execution_arn: str, cause: str) -> None:
        """Stop an execution; a failure is logged (the run has ended already)."""
        try:
            aws.client("stepfunctions").stop_execution(
                executionArn=execution_arn, error="Cancelled", cause=cause
            )
        except ClientError as exc:
            log.warning("stopping %s: %s", execution_arn, exc)

    def describe(self, execution_arn: str) -> dict[str, Any] | None:
        """The execution (status, input, error, cause), None when it does not exist."""
        try:
            return aws.client("stepfunctions").describe_execution(executionArn=execution_arn)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return None
            raise


class RunLogs:
    """Run log objects (JSON lines) in the data bucket."""

    def write(self, key: str, body: str) -> None:
        """Write one log object; a failure is logged (logs never fail a run)."""
        try:
            aws.client("s3").put_object(
                Bucket=get_settings().data_bucket,
                Key=key,
                Body=body.encode(),
                ContentType="application/x-ndjson",
            )
        except ClientError as exc:
            log.warning("run log %s not written: %s", key, exc)

    def keys(self, prefix: str, start_after: str | None, most: int = 1000) -> list[str]:
        """The `.jsonl` keys under `prefix` after `start_after`, in key order (about `most` at most)."""
        keys: list[str] = []
        kwargs: dict[str, Any] = {"Bucket": get_settings().data_bucket, "Prefix": prefix}
        if start_after:
            kwargs["StartAfter"] = start_after
        while True:
            page = aws.client("s3").list_objects_v2(**kwargs)
            keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".jsonl")]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token or len(keys) >= most:
                return keys
            kwargs["ContinuationToken"] = token

    def read(self, key: str) -> str | None:
        """One log object's text, None when it cannot be read."""
        try:
            body = aws.client("s3").get_object(Bucket=get_settings().data_bucket, Key=key)["Body"].read()
        except ClientError:
            return None
        return body.decode("utf-8", "replace")
