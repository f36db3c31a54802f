"""Runs of jobs (ingest jobs) in the `jobs` table, and the job item as the runs family sees it.

PROJECT#<id> / RUN#<run id>     a run: state, times, trigger, stats, per-table and per-file counts
    gsi1: PROJECT#<id>#JOB#<jid>#RUNS / <created_at>#<run id>   a job's runs, newest first (ScanIndexForward
    false)
    gsi2: RUNS#ACTIVE / <created_at>#<run id>   only while queued or running (a sparse index): the sweeper
PROJECT#<id>#RUN#<run id> / FILE#<table index:04d>#<n:06d>   one file the run read: its table and counts
    (written when the run ends; the run item keeps per-table summaries only, so it stays small whatever
    the number of files)
PROJECT#<id> / JOB#<jid>        the job (owned by repositories/jobs.py's JobRecord); runs write only
                                current_run_id, current_execution_arn, last_run_time, last_run_state,
                                last_run_id and sync_state_key, always with UpdateItem actions
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from .base import table_meta
from .connectors import JOBS_TABLE_ENV
from .projects import project_pk

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


class RunJob(Model):
    """The job item's fields a run reads and writes (repositories/jobs.py's JobRecord owns the item)."""

    Meta = table_meta(JOBS_TABLE_ENV)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    job_id = UnicodeAttribute()
    project_id = UnicodeAttribute(null=True)
    name = UnicodeAttribute(default="")
    source_id = UnicodeAttribute(null=True)
    dest_id = UnicodeAttribute(null=True)
    streams_config = JSONAttribute(null=True)
    activate = BooleanAttribute(default=True)
    frequency = UnicodeAttribute(null=True)
    deleted_at = UnicodeAttribute(null=True)
    current_run_id = UnicodeAttribute(null=True)
    current_execution_arn = UnicodeAttribute(null=True)
    last_run_time = UnicodeAttribute(null=True)
    last_run_state = UnicodeAttribute(null=True)
    last_run_id = UnicodeAttribute(null=True)
    sync_state_key = UnicodeAttribute(null=True)  # S3 key of the incremental state (files read, by ETag)

    @staticmethod
    def key(project_id: str, job_id: str) -> tuple[str, str]:
        return project_pk(project_id), f"JOB#{job_id}"
